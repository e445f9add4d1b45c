{#- Store incentives (docs/program.md#store-incentives): the consistency window, rule comparisons, the run time
    evaluations are stamped with, and numbers as a store manager reads them. -#}

{#- Eligibility needs every rule passed in at least `min_passed` of the `months` before. dbt
    vars, so a program change is configuration, not SQL. -#}
{% macro incentive_consistency_months() -%}
    {{ return(var('incentive_consistency_months', 3) | int) }}
{%- endmacro %}

{% macro incentive_consistency_min_passed() -%}
    {{ return(var('incentive_consistency_min_passed', 2) | int) }}
{%- endmacro %}

{#- When this run evaluated the incentives (UTC): the run's start, the same in every model of
    one dbt invocation. The var exists so unit tests can pin it. -#}
{% macro incentive_evaluated_at() -%}
    {%- set pinned = var('incentive_evaluated_at', none) -%}
    {%- if pinned is not none -%}
        cast('{{ pinned }}' as timestamp)
    {%- else -%}
        cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as timestamp)
    {%- endif -%}
{%- endmacro %}

{#- actual <comparator> threshold, for a comparator held in a column (the rules seed). -#}
{% macro incentive_comparison(actual, comparator, threshold) -%}
    case {{ comparator }}
        when '>=' then {{ actual }} >= {{ threshold }}
        when '<=' then {{ actual }} <= {{ threshold }}
        when '>' then {{ actual }} > {{ threshold }}
        when '<' then {{ actual }} < {{ threshold }}
        when '=' then {{ actual }} = {{ threshold }}
    end
{%- endmacro %}

{#- The comparison that holds when a rule fails: "82.5 < 85" for a rule ">= 85". -#}
{% macro incentive_failed_comparator(comparator) -%}
    case {{ comparator }}
        when '>=' then '<'
        when '<=' then '>'
        when '>' then '<='
        when '<' then '>='
        when '=' then '<>'
    end
{%- endmacro %}

{#- A decimal as text without trailing zeros: 82.500000 -> '82.5', 85.000000 -> '85'. At most
    `scale` decimals (rounded). -#}
{% macro format_incentive_number(expression, scale=6) -%}
    {{ return(adapter.dispatch('format_incentive_number', 'loyalty')(expression, scale)) }}
{%- endmacro %}

{% macro default__format_incentive_number(expression, scale) -%}
    rtrim(rtrim(cast(cast({{ expression }} as decimal(28, {{ scale }})) as {{ dbt.type_string() }}), '0'), '.')
{%- endmacro %}

{% macro spark__format_incentive_number(expression, scale) -%}
    regexp_replace(cast(cast({{ expression }} as decimal(28, {{ scale }})) as string), '\\.?0+$', '')
{%- endmacro %}

{#- select * from a source table, or, while the table does not exist yet (a warehouse created
    before the loader knew it), no rows with the given columns and types, so models downstream
    build and see nothing. columns: list of [name, type]. -#}
{% macro select_source_or_empty(source_name, table_name, columns) -%}
    {%- set relation = load_relation(source(source_name, table_name)) -%}
    {%- if relation is not none -%}
        select * from {{ source(source_name, table_name) }}
    {%- else -%}
        select
        {%- for name, data_type in columns %}
            cast(null as {{ data_type }}) as {{ name }}{{ "," if not loop.last }}
        {%- endfor %}
        where 1 = 0
    {%- endif -%}
{%- endmacro %}
