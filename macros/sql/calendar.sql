{#- One row per date from `start_date` to `end_date` (inclusive) by one `unit` (day or month),
    for each row of `relation`: select <relation columns>, <column> from relation. No row when
    either bound is null or the end is before the start. month_series and day_series name the
    two uses. -#}
{% macro date_series(relation, start_date, end_date, unit, column) -%}
    {{ return(adapter.dispatch('date_series', 'loyalty')(relation, start_date, end_date, unit, column)) }}
{%- endmacro %}

{% macro default__date_series(relation, start_date, end_date, unit, column) -%}
    select
        {{ relation }}.*,
        cast(generate_series(
            cast({{ start_date }} as timestamp), cast({{ end_date }} as timestamp), interval '1 {{ unit }}'
        ) as date) as {{ column }}
    from {{ relation }}
{%- endmacro %}

{% macro duckdb__date_series(relation, start_date, end_date, unit, column) -%}
    select
        {{ relation }}.*,
        cast(unnest(generate_series(
            cast({{ start_date }} as timestamp), cast({{ end_date }} as timestamp), interval '1 {{ unit }}'
        )) as date) as {{ column }}
    from {{ relation }}
{%- endmacro %}

{#- Spark's sequence() raises when the end is before the start; the other engines return no
    rows, and so does this. -#}
{% macro spark__date_series(relation, start_date, end_date, unit, column) -%}
    select
        {{ relation }}.*,
        explode(
            case
                when cast({{ start_date }} as date) <= cast({{ end_date }} as date)
                    then sequence(cast({{ start_date }} as date), cast({{ end_date }} as date), interval 1 {{ unit }})
                else cast(array() as array<date>)
            end
        ) as {{ column }}
    from {{ relation }}
{%- endmacro %}

{#- One row per first-of-month date between two month starts (inclusive), for each row of
    `relation`: select <relation columns>, month_start from relation. -#}
{% macro month_series(relation, start_month, end_month) -%}
    {{ return(date_series(relation, start_month, end_month, 'month', 'month_start')) }}
{%- endmacro %}

{#- One row per date between two dates (inclusive), for each row of `relation`:
    select <relation columns>, date_day from relation (the time spine, models/marts/calendar/). -#}
{% macro day_series(relation, start_date, end_date) -%}
    {{ return(date_series(relation, start_date, end_date, 'day', 'date_day')) }}
{%- endmacro %}

{% macro month_start(expression) -%}
    cast({{ dbt.date_trunc('month', expression) }} as date)
{%- endmacro %}

{#- The month end whose tier evaluation is in effect at `moment` (a timestamp): the month before
    moment's, or the last month ended by the as-of (warehouse_as_of, an int_warehouse_as_of
    relation) when that is earlier; a date (docs/program.md#tiers). -#}
{% macro tier_evaluation_month(moment, warehouse_as_of) -%}
    least(
        cast({{ dbt.dateadd('month', -1, month_start(moment)) }} as date),
        {{ warehouse_as_of }}.last_ended_month
    )
{%- endmacro %}

{#- True when an effective-dated row (effective_from inclusive, effective_to exclusive, null =
    open) applies on a date: the one rule every program seed follows. -#}
{% macro is_effective(relation, on_date) -%}
    ({{ on_date }} >= {{ relation }}.effective_from
    and ({{ relation }}.effective_to is null or {{ on_date }} < {{ relation }}.effective_to))
{%- endmacro %}

{#- The dbt var `as_of` (docs/operations.md#as-of) as a UTC timestamp literal, or none when the
    var is not set. ISO 8601 ("2025-06-30T23:59:59Z", an offset such as "+02:00" is converted
    to UTC, no zone means UTC, a date alone means its midnight); anything else stops the build
    with the value named. -#}
{% macro as_of_var_literal() -%}
    {%- set value = var('as_of', none) -%}
    {%- if value is none or (value | string | trim) == '' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set text = value | string | trim -%}
    {%- set datetime = modules.datetime -%}
    {%- set normalised = text[:-1] ~ '+00:00' if text[-1:] in ['Z', 'z'] else text -%}
    {%- set parsed = none -%}
    {%- if modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?([+-][0-9]{2}:?[0-9]{2})?)?', normalised) -%}
        {%- set parsed = datetime.datetime.fromisoformat(normalised) -%}
    {%- endif -%}
    {%- if parsed is none -%}
        {{ exceptions.raise_compiler_error(
            "dbt var as_of=" ~ (text | tojson) ~ " is not an ISO 8601 timestamp (e.g. 2025-06-30T23:59:59Z)"
        ) }}
    {%- endif -%}
    {%- if parsed.tzinfo is not none -%}
        {%- set parsed = parsed.astimezone(modules.pytz.utc).replace(tzinfo=none) -%}
    {%- endif -%}
    {{ return("cast('" ~ parsed.strftime('%Y-%m-%d %H:%M:%S.%f') ~ "' as timestamp)") }}
{%- endmacro %}
