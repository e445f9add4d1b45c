{#- Custom schemas are used as given (`marts`, `audit`, ...), as docs/marts.md#conventions names them,
    instead of dbt's default `<target schema>_<custom schema>`.
    A PostgreSQL refresh sets the dbt var schema_suffix (`__build`) so that dbt builds beside the
    published schemas, which the publish step then replaces in one transaction
    (loyalty/warehouse.py). -#}
{#- Incremental models outside the schemas BI reads (marts, audit) keep their state in place
    between refreshes: they are built under their published schema name, and publishing moves
    them into the new schema (loyalty/warehouse.py PostgresWarehouse.publish). -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- elif node is not none and node.config.materialized == 'incremental'
        and (custom_schema_name | trim) not in ['marts', 'audit'] -%}
        {{ custom_schema_name | trim }}
    {%- else -%}
        {{ custom_schema_name | trim }}{{ var('schema_suffix', '') }}
    {%- endif -%}
{%- endmacro %}
