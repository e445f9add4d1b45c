-- One row per drifting balance whose snapshot holds more than the ledger (drift > 0): value
-- no ledger movement explains. The weakest specific cause: it applies only when the causes
-- before it in seeds/drift_causes.csv do not.

with

balances as (
    select * from {{ ref('int_balances_reconciled') }}
    where drift_status in ('minor_drift', 'material_mismatch')
),

final as (
    select
        account_id,
        balance_type,
        currency_key,
        'missing_ledger_event' as likely_cause,
        cast(null as {{ dbt.type_string() }}) as evidence_movement_id,
        {{ drift_sentence('drift', 'balance_type', 'currency') }}
        || ' No ledger movement explains the extra value: likely a ledger event is missing'
        || ' (posted in the operational system, never recorded in the ledger).' as explanation
    from balances
    where drift > 0
)

select * from final
