{#- Custom schemas are used as given (`marts`, `audit`, ...), as CONTRACT §4 names them,
    instead of dbt's default `<target schema>_<custom schema>`.
    A PostgreSQL refresh sets LOYALTY_SCHEMA_SUFFIX (`__build`) so that dbt builds beside the
    published schemas, which the publish step then replaces in one transaction
    (orchestration/warehouse.py). -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}{{ env_var('LOYALTY_SCHEMA_SUFFIX', '') }}
    {%- endif -%}
{%- endmacro %}
