-- One row per drifting balance whose snapshot equals the ledger's running balance at an
-- earlier moment (docs/marts.md#likely-causes): after some movement recorded by as_of, or 0 before the first.
-- The movements recorded after that moment and by as_of never reached the snapshot.
-- Evidence: the latest matching moment.

with

balances as (
    select * from {{ ref('int_balances_reconciled') }}
    where drift_status in ('minor_drift', 'material_mismatch')
),

timeline as (
    select * from {{ ref('int_balance_movements') }}
),

positions as (
    -- the balance after each movement recorded by as_of, and 0 before the first one
    select
        balances.account_id,
        balances.balance_type,
        balances.currency_key,
        timeline.movement_id,
        timeline.recorded_at,
        timeline.running_balance,
        timeline.movement_sequence
    from balances
    inner join timeline
        on
            balances.account_id = timeline.account_id
            and balances.balance_type = timeline.balance_type
            and balances.currency_key = timeline.currency_key
    where timeline.recorded_at <= balances.snapshot_as_of
    union all
    select
        balances.account_id,
        balances.balance_type,
        balances.currency_key,
        null as movement_id,
        null as recorded_at,
        0 as running_balance,
        0 as movement_sequence
    from balances
    where balances.movements_before_snapshot > 0
),

matches as (
    select
        positions.*,
        balances.movements_before_snapshot - positions.movement_sequence as movements_missed,
        balances.computed_balance - positions.running_balance as amount_missed,
        row_number() over (
            partition by positions.account_id, positions.balance_type, positions.currency_key
            order by positions.movement_sequence desc
        ) as recency
    from positions
    inner join balances
        on
            positions.account_id = balances.account_id
            and positions.balance_type = balances.balance_type
            and positions.currency_key = balances.currency_key
    where
        positions.running_balance = balances.snapshot_balance
        and positions.movement_sequence < balances.movements_before_snapshot
),

final as (
    select
        balances.account_id,
        balances.balance_type,
        balances.currency_key,
        'stale_snapshot' as likely_cause,
        matches.movement_id as evidence_movement_id,
        {{ drift_sentence('balances.drift', 'balances.balance_type', 'balances.currency') }}
        || ' It equals the ledger balance '
        || case
            when matches.movement_id is null then 'before the first movement'
            else 'as of ' || {{ format_timestamp('matches.recorded_at') }} || ' (after ' || matches.movement_id || ')'
        end
        || '; the ' || cast(matches.movements_missed as {{ dbt.type_string() }})
        || ' movement(s) recorded after that and before the snapshot (net '
        || {{ format_signed('matches.amount_missed', 'balances.balance_type') }}
        || ') never reached it: likely a stale snapshot.' as explanation
    from balances
    inner join matches
        on
            balances.account_id = matches.account_id
            and balances.balance_type = matches.balance_type
            and balances.currency_key = matches.currency_key
    where matches.recency = 1
)

select * from final
