-- One row per balance movement (points ledger event or wallet transaction) with the
-- balance's running total by recorded_at, then movement_id: the drill-down from events to
-- balance.

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
