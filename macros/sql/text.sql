{#- An amount as people read it in an explanation: whole points, or money with 2 decimals
    and its currency ("200 points", "12.50 GBP"). -#}
{% macro format_amount(amount, balance_type, currency) -%}
    case
        when {{ balance_type }} = 'points'
            then cast(cast({{ amount }} as bigint) as {{ dbt.type_string() }}) || ' points'
        else cast(cast({{ amount }} as decimal(18, 2)) as {{ dbt.type_string() }}) || ' ' || {{ currency }}
    end
{%- endmacro %}

{#- A signed amount without unit, "+50" / "-200" / "-12.50". -#}
{% macro format_signed(amount, balance_type) -%}
    case when {{ amount }} > 0 then '+' else '' end
    || case
        when {{ balance_type }} = 'points' then cast(cast({{ amount }} as bigint) as {{ dbt.type_string() }})
        else cast(cast({{ amount }} as decimal(18, 2)) as {{ dbt.type_string() }})
    end
{%- endmacro %}

{#- "Snapshot is 200 points above the ledger." -#}
{% macro drift_sentence(drift, balance_type, currency) -%}
    'Snapshot is ' || {{ format_amount('abs(' ~ drift ~ ')', balance_type, currency) }}
    || case when {{ drift }} > 0 then ' above' else ' below' end || ' the ledger.'
{%- endmacro %}

{% macro format_timestamp(column) -%}
    cast(cast({{ column }} as timestamp) as {{ dbt.type_string() }})
{%- endmacro %}

{% macro format_date(column) -%}
    cast(cast({{ column }} as date) as {{ dbt.type_string() }})
{%- endmacro %}

{#- dbt-spark's listagg drops the order by (collect_list order is not defined), so texts built
    from several rows (an ineligible store's failed rules) came out in another order than on
    DuckDB and PostgreSQL. Spark 4 has LISTAGG ... WITHIN GROUP (ORDER BY ...). -#}
{% macro spark__listagg(measure, delimiter_text, order_by_clause, limit_num) -%}
    {%- if limit_num -%}
        {{ exceptions.raise_compiler_error("listagg with limit_num is not implemented for Spark in this project") }}
    {%- endif -%}
    listagg({{ measure }}, {{ delimiter_text }})
    {%- if order_by_clause %} within group ({{ order_by_clause }}){% endif %}
{%- endmacro %}
