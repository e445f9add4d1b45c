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

{#- The kind of each landing source (docs/landing.md#same-key-different-payload): how
    classify_deliveries treats a key delivered again. The same as loyalty/landing/contract.py
    (tests_py/test_landing_contract.py compares them): a fact keeps its first delivery, a
    dimension keeps every change as a version (the latest is current), a change feed's states
    are keyed by their update time. -#}
{% macro landing_source_kinds() -%}
    {{ return({
        'members': 'dimension',
        'stores': 'dimension',
        'orders': 'change_feed',
        'ledger_events': 'fact',
        'wallet_transactions': 'fact',
        'balance_snapshots': 'fact',
        'store_operations': 'fact',
        'store_targets': 'dimension',
    }) }}
{%- endmacro %}

{#- The drift cause detection models: every model of this project named
    int_drift_cause__<likely_cause>, sorted, read from the project graph when dbt runs (the
    graph is empty while dbt parses, so this returns [] then). seeds/drift_causes.csv names
    the same models in detection_model; tests_py/test_drift_cause_registry.py checks they agree. -#}
{% macro drift_cause_models() -%}
    {%- set names = [] -%}
    {%- if execute -%}
        {%- for node in graph.nodes.values() -%}
            {%- if node.resource_type == 'model' and node.package_name == project_name
                and node.name.startswith('int_drift_cause__') -%}
                {%- do names.append(node.name) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(names | sort) }}
{%- endmacro %}

{#- The landing feeds whose rows per day are judged against a trailing baseline
    (models/audit/feed_daily_volumes.sql; docs/runbook.md#feed-volume-anomaly): the source, its
    staging base model (every delivered row, rejected and exact duplicates included), the
    column that dates a row and which rows count. A new daily feed is judged as soon as it is
    listed here. Expiries are not counted: the program's expiry run posts a month's expiries in
    one batch on its last day (a flood every month end otherwise); the expiry reconciliation
    judges them (fct_expiry_reconciliation).
    Left out: balance_snapshots (delivered at quarter ends, not daily: freshness judges it) and
    the dimensions members, stores and store_targets (states, not daily flows). -#}
{% macro feed_volume_sources() -%}
    {{ return([
        {'source': 'ledger_events', 'model': 'base_loyalty__ledger_events', 'dated_by': 'recorded_at',
            'counted': "coalesce(event_type, '') <> 'expire'"},
        {'source': 'wallet_transactions', 'model': 'base_wallet__wallet_transactions', 'dated_by': 'recorded_at'},
        {'source': 'orders', 'model': 'base_commerce__orders', 'dated_by': 'updated_at'},
        {'source': 'store_operations', 'model': 'base_commerce__store_operations', 'dated_by': 'business_date'},
    ]) }}
{%- endmacro %}
