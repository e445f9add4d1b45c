-- One row per balance movement (balance_type, movement_id): every points ledger event and
-- every wallet transaction in one shape, with the balance's running total in the order the
-- ledger knew them (recorded_at, then movement_id). currency is null for points; currency_key
-- ('-' for points) is the null-free join key of a balance (account_id, balance_type, currency_key).

with

ledger_events as (
    select * from {{ ref('stg_loyalty__ledger_events') }}
),

wallet_transactions as (
    select * from {{ ref('stg_wallet__transactions') }}
),

points_movements as (
    select
        account_id,
        'points' as balance_type,
        cast(null as {{ dbt.type_string() }}) as currency,
        '-' as currency_key,
        event_id as movement_id,
        event_type as movement_type,
        cast(points as decimal(18, 2)) as amount,
        occurred_at,
        recorded_at,
        order_id,
        reverses_event_id as reverses_movement_id
    from ledger_events
),

wallet_movements as (
    select
        account_id,
        'wallet' as balance_type,
        currency,
        currency as currency_key,
        txn_id as movement_id,
        txn_type as movement_type,
        amount,
        occurred_at,
        recorded_at,
        order_id,
        cast(null as {{ dbt.type_string() }}) as reverses_movement_id
    from wallet_transactions
),

movements as (
    select * from points_movements
    union all
    select * from wallet_movements
),

final as (
    select
        movements.*,
        sum(movements.amount) over (
            partition by movements.account_id, movements.balance_type, movements.currency_key
            order by movements.recorded_at, movements.movement_id
            rows between unbounded preceding and current row
        ) as running_balance,
        row_number() over (
            partition by movements.account_id, movements.balance_type, movements.currency_key
            order by movements.recorded_at, movements.movement_id
        ) as movement_sequence
    from movements
)

select * from final
