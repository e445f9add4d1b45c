-- One row per wallet transaction (txn_id).

with

base as (
    select * from {{ ref('base_wallet__wallet_transactions') }}
    where row_status = 'staged'
),

final as (
    select
        txn_id,
        account_id,
        currency,
        txn_type,
        amount,
        occurred_at,
        recorded_at,
        order_id,
        _source_file as source_file
    from base
)

select * from final
