-- One row per balance (account_id, balance_type, currency) with movements or a snapshot:
-- the latest snapshot against the balance computed from the ledger, the drift, its status,
-- the likely cause and an explanation a person can act on (docs/marts.md#fct_balance_reconciliation).

with

balances as (
    select * from {{ ref('int_balances_reconciled') }}
),

causes as (
    select * from {{ ref('int_drift_causes_ranked') }}
),

final as (
    select
        balances.account_id,
        balances.balance_type,
        balances.currency,
        balances.snapshot_as_of,
        balances.snapshot_balance,
        balances.computed_balance,
        balances.drift,
        balances.drift_status,
        case
            when balances.drift_status in ('in_balance', 'missing_snapshot') then 'none'
            else coalesce(causes.likely_cause, 'unexplained')
        end as likely_cause,
        case
            when balances.drift_status = 'missing_snapshot'
                then
                    'No snapshot for this balance: the ledger holds '
                    || cast(balances.movements_count as {{ dbt.type_string() }}) || ' movement(s) totalling '
                    || {{ format_amount('balances.computed_balance', 'balances.balance_type', 'balances.currency') }}
                    || ' that the operational system never reported. Its balance is not assumed to be zero.'
            when balances.drift_status = 'in_balance' and balances.drift = 0
                then 'In balance: the snapshot equals the ledger.'
            when balances.drift_status = 'in_balance'
                then
                    'In balance within tolerance: '
                    || {{ drift_sentence('balances.drift', 'balances.balance_type', 'balances.currency') }}
            when causes.explanation is not null then causes.explanation
            else
                {{ drift_sentence('balances.drift', 'balances.balance_type', 'balances.currency') }}
                || ' No double-posted event, missing correction, quarantined row or earlier ledger balance matches it:'
                || ' unexplained, follow the account in fct_account_ledger_timeline.'
        end as explanation,
        causes.evidence_movement_id,
        balances.movements_count,
        balances.movements_before_snapshot,
        balances.late_recorded_movements,
        balances.snapshots_count,
        balances.in_balance_tolerance,
        balances.minor_drift_tolerance
    from balances
    left join causes
        on
            balances.account_id = causes.account_id
            and balances.balance_type = causes.balance_type
            and balances.currency_key = causes.currency_key
)

select * from final
