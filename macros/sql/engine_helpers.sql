{#- Functions some engines need before any model runs (called from on-run-start).
    PostgreSQL has no try_cast: these return null where a cast would raise. -#}
{% macro create_engine_helpers() -%}
    {{ return(adapter.dispatch('create_engine_helpers', 'loyalty')()) }}
{%- endmacro %}

{% macro default__create_engine_helpers() -%}
    select 1
{%- endmacro %}

{% macro postgres__create_engine_helpers() -%}
    {%- for data_type in ['date', 'timestamptz'] %}
    create or replace function public.loyalty_try_cast_{{ data_type }}(value text)
    returns {{ data_type }} language plpgsql immutable as $$
    begin
        return value::{{ data_type }};
    exception when others then
        return null;
    end
    $$;
    {%- endfor %}
{%- endmacro %}

{#- Spark reads the raw tables from the Parquet folders tools/spark_raw.py writes
    (LOYALTY_SPARK_DIR/raw/<table>): registered here, refreshed on every run. -#}
{% macro spark__create_engine_helpers() -%}
    {%- if execute %}
        {%- set raw_dir = var('spark_dir', env_var('LOYALTY_SPARK_DIR', 'target/spark')) ~ '/raw' %}
        {%- do run_query('create database if not exists raw') %}
        {%- for node in graph.sources.values() if node.package_name == project_name %}
            {#- external tables: dropping one leaves its Parquet files alone -#}
            {%- do run_query('drop table if exists raw.' ~ node.identifier) %}
            {%- do run_query(
                'create table raw.' ~ node.identifier
                ~ " using parquet location '" ~ raw_dir ~ '/' ~ node.identifier ~ "'"
            ) %}
        {%- endfor %}
    {%- endif %}
    select 1
{%- endmacro %}

{#- `parsed as {{ materialized_cte() }} (...)`: PostgreSQL inlines a CTE read once, so every
    reference to a parsed column re-ran its regex checks and casts (the checks, the payload
    windows and the output each read them): 4x slower base models at 300 k rows. MATERIALIZED
    computes them once. DuckDB plans this well by itself; Spark has no such keyword. -#}
{% macro materialized_cte() -%}
    {{ return(adapter.dispatch('materialized_cte', 'loyalty')()) }}
{%- endmacro %}

{% macro default__materialized_cte() -%}
{%- endmacro %}

{% macro postgres__materialized_cte() -%}
    materialized
{%- endmacro %}
