-- One row per drifting balance that a double-posted event explains (docs/marts.md#likely-causes): the ledger
-- holds the same business event twice (same account, type and amount, and the same order or
-- the same occurred_at; different ids, both recorded by as_of) and drift = -its amount.
-- Evidence: the first posting and its twin.

with

balances as (
    select * from {{ ref('int_balances_reconciled') }}
    where drift_status in ('minor_drift', 'material_mismatch')
),

movements as (
    select * from {{ ref('int_balance_movements') }}
),

candidate_movements as (
    select movements.*
    from movements
    inner join balances
        on
            movements.account_id = balances.account_id
            and movements.balance_type = balances.balance_type
            and movements.currency_key = balances.currency_key
    where
        movements.recorded_at <= balances.snapshot_as_of
        and movements.amount = -balances.drift
),

twins as (
    select
        original.account_id,
        original.balance_type,
        original.currency_key,
        original.movement_id,
        original.movement_type,
        original.amount,
        original.occurred_at,
        original.order_id,
        twin.movement_id as twin_movement_id,
        {{ dbt.datediff('original.recorded_at', 'twin.recorded_at', 'second') }} as seconds_between,  -- noqa: LT05
        row_number() over (
            partition by original.account_id, original.balance_type, original.currency_key
            order by twin.recorded_at desc, twin.movement_id desc
        ) as recency
    from candidate_movements as original
    inner join candidate_movements as twin
        on
            original.account_id = twin.account_id
            and original.balance_type = twin.balance_type
            and original.currency_key = twin.currency_key
            and original.movement_type = twin.movement_type
            and original.amount = twin.amount
            and (original.order_id = twin.order_id or original.occurred_at = twin.occurred_at)
            and (
                original.recorded_at < twin.recorded_at
                or (original.recorded_at = twin.recorded_at and original.movement_id < twin.movement_id)
            )
),

final as (
    select
        balances.account_id,
        balances.balance_type,
        balances.currency_key,
        'double_posted_event' as likely_cause,
        twins.twin_movement_id as evidence_movement_id,
        {{ drift_sentence('balances.drift', 'balances.balance_type', 'balances.currency') }}
        || ' ' || case when balances.balance_type = 'points' then 'Event ' else 'Transaction ' end
        || twins.movement_id || ' (' || twins.movement_type || ' '
        || {{ format_signed('twins.amount', 'balances.balance_type') }}
        || ' on ' || {{ format_date('twins.occurred_at') }}
        || coalesce(', order ' || twins.order_id, '') || ') has an identical twin '
        || twins.twin_movement_id || ' recorded '
        || cast(twins.seconds_between as {{ dbt.type_string() }})
        || ' s later: likely a double-posted event.' as explanation
    from balances
    inner join twins
        on
            balances.account_id = twins.account_id
            and balances.balance_type = twins.balance_type
            and balances.currency_key = twins.currency_key
    where twins.recency = 1
)

select * from final
