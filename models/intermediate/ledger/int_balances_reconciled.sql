-- One row per balance (account_id, balance_type, currency_key) that has movements or a
-- snapshot: the balance computed from movements recorded at or before the latest snapshot's
-- as_of, the drift (snapshot - computed) and its status under the tolerances in dbt vars.
-- Movements recorded after as_of (even if they occurred before) are not drift: the snapshot
-- could not know them. A balance with movements and no snapshot is missing_snapshot (never
-- compared with an assumed zero); a snapshot without movements is compared with 0.

with

movements as (
    select * from {{ ref('int_balance_movements') }}
),

snapshots as (
    select * from {{ ref('int_balance_snapshots_latest') }}
),

movement_balances as (
    select distinct
        account_id,
        balance_type,
        currency,
        currency_key
    from movements
),

balances as (
    select
        coalesce(snapshots.account_id, movement_balances.account_id) as account_id,
        coalesce(snapshots.balance_type, movement_balances.balance_type) as balance_type,
        coalesce(snapshots.currency, movement_balances.currency) as currency,
        coalesce(snapshots.currency_key, movement_balances.currency_key) as currency_key,
        snapshots.snapshot_as_of,
        snapshots.snapshot_balance,
        snapshots.snapshots_count
    from snapshots
    full outer join movement_balances
        on
            snapshots.account_id = movement_balances.account_id
            and snapshots.balance_type = movement_balances.balance_type
            and snapshots.currency_key = movement_balances.currency_key
),

movement_totals as (
    select
        balances.account_id,
        balances.balance_type,
        balances.currency_key,
        count(movements.movement_id) as movements_count,
        sum(
            case
                when balances.snapshot_as_of is null or movements.recorded_at <= balances.snapshot_as_of
                    then movements.amount
                else 0
            end
        ) as computed_balance,
        sum(
            case when movements.recorded_at <= balances.snapshot_as_of then 1 else 0 end
        ) as movements_before_snapshot,
        sum(
            case
                when
                    movements.recorded_at > balances.snapshot_as_of and movements.occurred_at <= balances.snapshot_as_of
                    then 1
                else 0
            end
        ) as late_recorded_movements,
        max(movements.recorded_at) as last_recorded_at
    from balances
    left join movements
        on
            balances.account_id = movements.account_id
            and balances.balance_type = movements.balance_type
            and balances.currency_key = movements.currency_key
    group by balances.account_id, balances.balance_type, balances.currency_key
),

measured as (
    select
        balances.account_id,
        balances.balance_type,
        balances.currency,
        balances.currency_key,
        balances.snapshot_as_of,
        balances.snapshot_balance,
        cast(coalesce(balances.snapshots_count, 0) as bigint) as snapshots_count,
        cast(movement_totals.movements_count as bigint) as movements_count,
        cast(coalesce(movement_totals.movements_before_snapshot, 0) as bigint) as movements_before_snapshot,
        cast(coalesce(movement_totals.late_recorded_movements, 0) as bigint) as late_recorded_movements,
        movement_totals.last_recorded_at,
        cast(coalesce(movement_totals.computed_balance, 0) as decimal(18, 2)) as computed_balance,
        {{ drift_tolerance('in_balance', 'balances.balance_type', 'balances.currency') }} as in_balance_tolerance,
        {{ drift_tolerance('minor', 'balances.balance_type', 'balances.currency') }} as minor_drift_tolerance
    from balances
    inner join movement_totals
        on
            balances.account_id = movement_totals.account_id
            and balances.balance_type = movement_totals.balance_type
            and balances.currency_key = movement_totals.currency_key
),

final as (
    select
        measured.*,
        cast(measured.snapshot_balance - measured.computed_balance as decimal(18, 2)) as drift,
        case
            when measured.snapshot_as_of is null then 'missing_snapshot'
            when abs(measured.snapshot_balance - measured.computed_balance) <= measured.in_balance_tolerance
                then 'in_balance'
            when abs(measured.snapshot_balance - measured.computed_balance) <= measured.minor_drift_tolerance
                then 'minor_drift'
            else 'material_mismatch'
        end as drift_status
    from measured
)

select * from final
