{#- One row per first-of-month date between two month starts (inclusive), for each row of
    `relation`: select <relation columns>, month_start from relation. -#}
{% macro month_series(relation, start_month, end_month) -%}
    {{ return(adapter.dispatch('month_series', 'loyalty')(relation, start_month, end_month)) }}
{%- endmacro %}

{% macro default__month_series(relation, start_month, end_month) -%}
    select
        {{ relation }}.*,
        cast(generate_series(
            cast({{ start_month }} as timestamp), cast({{ end_month }} as timestamp), interval '1 month'
        ) as date) as month_start
    from {{ relation }}
{%- endmacro %}

{% macro duckdb__month_series(relation, start_month, end_month) -%}
    select
        {{ relation }}.*,
        cast(unnest(generate_series(
            cast({{ start_month }} as timestamp), cast({{ end_month }} as timestamp), interval '1 month'
        )) as date) as month_start
    from {{ relation }}
{%- endmacro %}

{#- Spark's sequence() raises when the end is before the start; the other engines return no
    rows, and so does this. -#}
{% macro spark__month_series(relation, start_month, end_month) -%}
    select
        {{ relation }}.*,
        explode(
            case
                when cast({{ start_month }} as date) <= cast({{ end_month }} as date)
                    then sequence(cast({{ start_month }} as date), cast({{ end_month }} as date), interval 1 month)
                else cast(array() as array<date>)
            end
        ) as month_start
    from {{ relation }}
{%- endmacro %}

{% macro month_start(expression) -%}
    cast({{ dbt.date_trunc('month', expression) }} as date)
{%- endmacro %}

{#- True when an effective-dated row (effective_from inclusive, effective_to exclusive, null =
    open) applies on a date: the one rule every program seed follows. -#}
{% macro is_effective(relation, on_date) -%}
    ({{ on_date }} >= {{ relation }}.effective_from
    and ({{ relation }}.effective_to is null or {{ on_date }} < {{ relation }}.effective_to))
{%- endmacro %}
