-- One row per balance (account_id, balance_type, currency_key): its latest snapshot, the one
-- docs/landing.md#balance_snapshots says is reconciled. Earlier snapshots are counted, not compared.
-- (account_id, balance_type, currency, as_of) is the snapshots' delivery key, so the latest is
-- found by an aggregate and a join back, not a window that sorts every snapshot whole.

with

snapshots as {{ streamed_cte() }} (
    select
        *,
        coalesce(currency, '-') as currency_key
    from {{ ref('stg_loyalty__balance_snapshots') }}
),

balance_stats as (
    select
        account_id,
        balance_type,
        currency_key,
        max(snapshot_as_of) as latest_as_of,
        count(*) as snapshots_count
    from snapshots
    group by account_id, balance_type, currency_key
),

final as (
    select
        snapshots.account_id,
        snapshots.balance_type,
        snapshots.currency,
        snapshots.currency_key,
        snapshots.snapshot_balance,
        snapshots.snapshot_as_of,
        balance_stats.snapshots_count
    from snapshots
    inner join balance_stats
        on
            snapshots.account_id = balance_stats.account_id
            and snapshots.balance_type = balance_stats.balance_type
            and snapshots.currency_key = balance_stats.currency_key
            and snapshots.snapshot_as_of = balance_stats.latest_as_of
)

select * from final
