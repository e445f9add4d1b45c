{#- Text -> typed value, or null when the text does not parse. Landed values are text (the
    loader never types them), so every staging model parses through these and routes the nulls
    they return for non-null input to the quarantine. The patterns are the contract's formats;
    only the final cast is engine-specific. -#}

{% macro regex_full_match(expression, pattern) -%}
    {{ return(adapter.dispatch('regex_full_match', 'loyalty')(expression, pattern)) }}
{%- endmacro %}

{% macro default__regex_full_match(expression, pattern) -%}
    regexp_full_match({{ expression }}, '{{ pattern }}')
{%- endmacro %}

{% macro postgres__regex_full_match(expression, pattern) -%}
    ({{ expression }} ~ '^(?:{{ pattern }})$')
{%- endmacro %}

{% macro spark__regex_full_match(expression, pattern) -%}
    ({{ expression }} rlike '^(?:{{ pattern | replace("\\", "\\\\") }})$')
{%- endmacro %}

{% macro try_cast(expression, data_type) -%}
    {{ return(adapter.dispatch('try_cast', 'loyalty')(expression, data_type)) }}
{%- endmacro %}

{% macro default__try_cast(expression, data_type) -%}
    try_cast({{ expression }} as {{ data_type }})
{%- endmacro %}

{% macro postgres__try_cast(expression, data_type) -%}
    {#- The pattern checks guarding every call leave only calendar errors (Feb 30); the helper
        function created by the on-run-start hook turns those into null too. -#}
    public.loyalty_try_cast_{{ data_type.split('(')[0] | replace(' ', '_') }}({{ expression }})
{%- endmacro %}

{% macro parse_integer(column) -%}
    case
        when {{ regex_full_match('trim(' ~ column ~ ')', '[+-]?[0-9]{1,18}') }}
            then cast(trim({{ column }}) as bigint)
    end
{%- endmacro %}

{% macro parse_decimal(column, scale=2) -%}
    case
        when {{ regex_full_match('trim(' ~ column ~ ')', '[+-]?[0-9]{1,16}(\\.[0-9]{1,' ~ scale ~ '})?') }}
            then cast(trim({{ column }}) as decimal(18, {{ scale }}))
    end
{%- endmacro %}

{% macro parse_date(column) -%}
    case
        when {{ regex_full_match('trim(' ~ column ~ ')', '[0-9]{4}-[0-9]{2}-[0-9]{2}') }}
            then {{ try_cast('trim(' ~ column ~ ')', 'date') }}
    end
{%- endmacro %}

{% macro parse_timestamp_utc(column) -%}
    {{ return(adapter.dispatch('parse_timestamp_utc', 'loyalty')(column)) }}
{%- endmacro %}

{#- ISO 8601 with a time part, 'T' or space, optional fraction, optional Z / +hh[:mm] offset.
    No offset means UTC (the contract's timestamps are UTC). Result: timestamp without time
    zone, in UTC. -#}
{% macro timestamp_pattern() -%}
[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?
{%- endmacro %}

{% macro default__parse_timestamp_utc(column) -%}
    case
        when {{ regex_full_match('trim(' ~ column ~ ')', timestamp_pattern()) }}
            then {{ try_cast('trim(' ~ column ~ ')', 'timestamptz') }} at time zone 'UTC'
    end
{%- endmacro %}

{% macro spark__parse_timestamp_utc(column) -%}
    case
        when {{ regex_full_match('trim(' ~ column ~ ')', timestamp_pattern()) }}
            {#- try_cast: Spark 4 runs in ANSI mode, where a cast of 2024-02-30 raises; the
                session time zone is UTC (profiles.yml), so offsets convert to UTC. -#}
            then {{ try_cast('trim(' ~ column ~ ')', 'timestamp') }}
    end
{%- endmacro %}

{#- The ISO 4217 codes the landing zone accepts (seed iso_4217_currencies,
    docs/landing.md#timestamps-money-and-points). A base model left-joins it once
    (`left join {{ iso_currencies() }} as currencies on parsed.currency = currencies.currency_code`)
    and rejects a row whose currency found no code as unknown_enum: one hash join of ~180 rows,
    cheap on every engine (Spark allows no IN-subquery inside a CASE). -#}
{% macro iso_currencies() -%}
    (select currency_code from {{ ref('iso_4217_currencies') }})
{%- endmacro %}

{#- The latest moment a row loaded at `loaded_at` may carry (docs/landing.md#rejection-reasons,
    future_timestamp): its load time plus the dbt var future_timestamp_tolerance_days (default
    3653, ten years: generated test data is dated after the wall clock). A later timestamp is
    rejected as future_timestamp, so that a row dated 9999 cannot move the warehouse's as-of. -#}
{% macro future_timestamp_limit(loaded_at) -%}
    {%- set days = var('future_timestamp_tolerance_days', 3653) | int -%}
    {{ return(adapter.dispatch('future_timestamp_limit', 'loyalty')(loaded_at, days)) }}
{%- endmacro %}

{% macro default__future_timestamp_limit(loaded_at, days) -%}
    ({{ loaded_at }} + interval '{{ days }} days')
{%- endmacro %}

{% macro postgres__future_timestamp_limit(loaded_at, days) -%}
    ({{ loaded_at }} + make_interval(days => {{ days }}))
{%- endmacro %}

{% macro spark__future_timestamp_limit(loaded_at, days) -%}
    timestampadd(day, {{ days }}, {{ loaded_at }})
{%- endmacro %}

{#- The future_timestamp check of a base model: [condition, reason, detail] for its timestamp
    columns (docs/landing.md#rejection-reasons). -#}
{% macro future_timestamp_check(relation, columns) -%}
    {%- set limit = future_timestamp_limit(relation ~ '._loaded_at') -%}
    {%- set conditions = [] -%}
    {%- set details = [] -%}
    {%- for column in columns -%}
        {%- do conditions.append(relation ~ '.' ~ column ~ ' > ' ~ limit) -%}
        {%- do details.append("when " ~ relation ~ "." ~ column ~ " > " ~ limit ~ " then '" ~ column ~ " ' || "
            ~ relation ~ ".raw_" ~ column) -%}
    {%- endfor -%}
    {%- set detail -%}
        case {{ details | join(' ') }} end
        || ' is later than the file''s load time plus '
        || '{{ var("future_timestamp_tolerance_days", 3653) | int }} days (future_timestamp_tolerance_days)'
    {%- endset -%}
    {{ return([conditions | join(' or '), 'future_timestamp', detail]) }}
{%- endmacro %}
