{#- Custom schemas are used as given (`marts`, `audit`, ...), as docs/marts.md#conventions names them,
    instead of dbt's default `<target schema>_<custom schema>`.
    A PostgreSQL refresh sets the dbt var schema_suffix (`__build`) so that dbt builds beside the
    published schemas, which the publish step then replaces in one transaction
    (loyalty/warehouse.py). -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}{{ var('schema_suffix', '') }}
    {%- endif -%}
{%- endmacro %}
