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

{#- `delivered as {{ streamed_cte() }} (...)`, `checked as {{ streamed_cte() }} (...)` in the
    staging base models: DuckDB (1.3 and later) materializes a CTE read more than once, and
    number_deliveries reads `checked` three times (the output, the re-delivered keys, the
    windows over their rows). Materialized, every delivered row is held whole (typed and raw
    text columns) before the first is written: a full build at 100M spilled more than 49 GB in
    base_commerce__orders and filled the disk. NOT MATERIALIZED on both (inlining `checked`
    alone makes `delivered` the CTE read three times) streams the rows, at the cost of parsing
    them again for the two narrow reads; only the small member and store key lists stay
    materialized. PostgreSQL keeps its default (materialized, in its compact tuple store);
    Spark has no such keyword. -#}
{% macro streamed_cte() -%}
    {{ return(adapter.dispatch('streamed_cte', 'loyalty')()) }}
{%- endmacro %}

{% macro default__streamed_cte() -%}
{%- endmacro %}

{% macro duckdb__streamed_cte() -%}
    not materialized
{%- endmacro %}
