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
