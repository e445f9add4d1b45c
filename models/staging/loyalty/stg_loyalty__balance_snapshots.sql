-- One row per balance snapshot (account_id, balance_type, currency, as_of).

with

base as (
    select * from {{ ref('base_loyalty__balance_snapshots') }}
    where row_status = 'staged'
),

final as (
    select
        account_id,
        balance_type,
        currency,
        balance as snapshot_balance,
        as_of as snapshot_as_of,
        _source_file as source_file
    from base
)

select * from final
