-- One row per member order (order_id; guest orders have no account to earn): the points the
-- order's latest state should have earned against what the ledger posted for it, and the
-- accrual status (docs/program.md#earn, docs/program.md#accrual-status). The rules and the
-- incremental upkeep are in int_order_accruals; this mart publishes its public columns.
-- On DuckDB it is a view in the build database (copying 19 M rows at 10 M events was a fifth of
-- a day's dbt time): the publish writes it into the published file as a table
-- (docs/operations.md#write-audit-publish). PostgreSQL and Spark keep a table.

{{ config(materialized='view' if target.type == 'duckdb' else 'table') }}

with

order_accruals as (
    select * from {{ ref('int_order_accruals') }}
),

final as (
    select
        order_id,
        account_id,
        store_id,
        order_status,
        currency,
        net_amount,
        ordered_at,
        tier_on_order_date,
        earn_multiplier,
        expected_points,
        posted_points,
        earn_events,
        reverse_events,
        unreversed_earn_events,
        accrual_status,
        explanation
    from order_accruals
)

select * from final
