{#- The reconciliation tolerances for a balance (docs/program.md#tolerances), from dbt vars: points
    (points_tolerance_*), wallet (wallet_tolerance_*, overridable per currency with
    wallet_tolerance_overrides: {"JPY": {"in_balance": 1, "minor": 1000}}). -#}
{% macro drift_tolerance(kind, balance_type, currency) -%}
    {%- set overrides = var('wallet_tolerance_overrides', {}) -%}
    case
        when {{ balance_type }} = 'points' then cast({{ var('points_tolerance_' ~ kind) }} as decimal(18, 2))
        {%- for code, tolerance in overrides.items() %}
        when {{ currency }} = '{{ code }}' then cast({{ tolerance[kind] }} as decimal(18, 2))
        {%- endfor %}
        else cast({{ var('wallet_tolerance_' ~ kind) }} as decimal(18, 2))
    end
{%- endmacro %}
