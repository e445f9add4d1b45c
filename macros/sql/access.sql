{#- Who may read what. Finance and BI users are members of the role `finance_reader`: the
    marts' `grants` config (dbt_project.yml) gives it SELECT on every mart, and
    these hooks create the role and let it into the marts schema — nothing else (raw,
    staging, intermediate, audit, findings stay closed). DuckDB has no roles: whoever can
    open the file reads it, so on DuckDB these are no-ops. -#}

{% macro reader_role() -%}
    {{ return('finance_reader') }}
{%- endmacro %}

{% macro create_reader_role() -%}
    {{ return(adapter.dispatch('create_reader_role', 'loyalty')()) }}
{%- endmacro %}

{% macro default__create_reader_role() -%}
    select 1
{%- endmacro %}

{% macro postgres__create_reader_role() -%}
    do $$
    begin
        if not exists (select from pg_roles where rolname = '{{ reader_role() }}') then
            create role {{ adapter.quote(reader_role()) }} nologin;
        end if;
    end
    $$
{%- endmacro %}

{% macro grant_schema_usage_to_readers() -%}
    {{ return(adapter.dispatch('grant_schema_usage_to_readers', 'loyalty')()) }}
{%- endmacro %}

{% macro default__grant_schema_usage_to_readers() -%}
    select 1
{%- endmacro %}

{% macro postgres__grant_schema_usage_to_readers() -%}
    {%- set marts_schema = generate_schema_name('marts', none) %}
    {%- if execute and adapter.get_relation(database=target.database, schema=marts_schema, identifier='rpt_reconciliation_summary') is not none %}
    grant usage on schema {{ adapter.quote(marts_schema) }} to {{ adapter.quote(reader_role()) }}
    {%- else %}
    select 1
    {%- endif %}
{%- endmacro %}

{#- DuckDB (a file: whoever opens it reads it) and a local Spark session (no SQL GRANT without
    a catalog that has access control) have no roles to grant to: the marts' grants are for
    engines with roles. dbt-duckdb would warn on every run and dbt-spark would send a GRANT
    the session rejects, so say nothing. -#}
{% macro duckdb__apply_grants(relation, grant_config, should_revoke=True) -%}
{%- endmacro %}

{% macro spark__apply_grants(relation, grant_config, should_revoke=True) -%}
{%- endmacro %}
