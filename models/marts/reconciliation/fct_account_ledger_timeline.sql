-- One row per balance movement (points ledger event or wallet transaction) with the
-- balance's running total by recorded_at, then movement_id: the drill-down from events to
-- balance. The running totals are kept incrementally in int_balance_movements; this mart
-- publishes its public columns. On DuckDB it is a view in the build database, written into the
-- published file as a table (docs/operations.md#write-audit-publish); PostgreSQL and Spark keep
-- a table.

{{ config(materialized='view' if target.type == 'duckdb' else 'table') }}

with

movements as (
    select * from {{ ref('int_balance_movements') }}
),

final as (
    select
        account_id,
        balance_type,
        currency,
        movement_id,
        movement_type,
        amount,
        occurred_at,
        recorded_at,
        order_id,
        cast(movement_sequence as bigint) as movement_sequence,
        cast(running_balance as decimal(18, 2)) as running_balance
    from movements
)

select * from final
