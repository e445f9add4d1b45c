-- One row per drifting balance that a missing correction explains (docs/marts.md#likely-causes): a correct
-- event (wallet: adjust) recorded by as_of whose amount is exactly -drift, i.e. the balance
-- never received it. Evidence: the latest such correction.

with

balances as (
    select * from {{ ref('int_balances_reconciled') }}
    where drift_status in ('minor_drift', 'material_mismatch')
),

movements as (
    select * from {{ ref('int_balance_movements') }}
    where movement_type in ('correct', 'adjust')
),

corrections as (
    select
        movements.account_id,
        movements.balance_type,
        movements.currency_key,
        movements.movement_id,
        movements.movement_type,
        movements.amount,
        movements.occurred_at,
        row_number() over (
            partition by movements.account_id, movements.balance_type, movements.currency_key
            order by movements.recorded_at desc, movements.movement_id desc
        ) as recency
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

final as (
    select
        balances.account_id,
        balances.balance_type,
        balances.currency_key,
        'missing_correction' as likely_cause,
        corrections.movement_id as evidence_movement_id,
        {{ drift_sentence('balances.drift', 'balances.balance_type', 'balances.currency') }}
        || ' ' || case when balances.balance_type = 'points' then 'Correction ' else 'Adjustment ' end
        || corrections.movement_id || ' (' || {{ format_signed('corrections.amount', 'balances.balance_type') }}
        || ' on ' || {{ format_date('corrections.occurred_at') }}
        || '), recorded before the snapshot, never reached the balance: likely a missing correction.'
            as explanation
    from balances
    inner join corrections
        on
            balances.account_id = corrections.account_id
            and balances.balance_type = corrections.balance_type
            and balances.currency_key = corrections.currency_key
    where corrections.recency = 1
)

select * from final
