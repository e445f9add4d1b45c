-- One row per balance (account_id, balance_type, currency_key): its latest snapshot, the one
-- docs/landing.md#balance_snapshots says is reconciled. Earlier snapshots are counted, not compared.

with

snapshots as (
    select * from {{ ref('stg_loyalty__balance_snapshots') }}
),

numbered as (
    select
        snapshots.account_id,
        snapshots.balance_type,
        snapshots.currency,
        coalesce(snapshots.currency, '-') as currency_key,
        snapshots.snapshot_balance,
        snapshots.snapshot_as_of,
        row_number() over (
            partition by snapshots.account_id, snapshots.balance_type, snapshots.currency
            order by snapshots.snapshot_as_of desc
        ) as recency,
        count(*) over (
            partition by snapshots.account_id, snapshots.balance_type, snapshots.currency
        ) as snapshots_count
    from snapshots
),

final as (
    select
        account_id,
        balance_type,
        currency,
        currency_key,
        snapshot_balance,
        snapshot_as_of,
        snapshots_count
    from numbered
    where recency = 1
)

select * from final
