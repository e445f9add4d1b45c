{#- Every staging base model, in one place, so the audit models cover a new source as soon
    as it is listed here. -#}
{% macro delivery_base_models() -%}
    {{ return([
        'base_loyalty__members',
        'base_loyalty__ledger_events',
        'base_loyalty__balance_snapshots',
        'base_wallet__wallet_transactions',
        'base_commerce__stores',
        'base_commerce__orders',
        'base_commerce__store_operations',
        'base_commerce__store_targets',
    ]) }}
{%- endmacro %}

{#- The drift cause detection models (one per likely_cause; precedence in seeds/drift_causes.csv). -#}
{% macro drift_cause_models() -%}
    {{ return([
        'int_drift_cause__double_posted_event',
        'int_drift_cause__missing_correction',
        'int_drift_cause__stale_snapshot',
        'int_drift_cause__missing_ledger_event',
    ]) }}
{%- endmacro %}
