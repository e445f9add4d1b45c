{#- The shared machinery of every staging base model: keep the delivered text beside the
    parsed values, name the first failed check, and classify each delivered row as
    staged / rejected / duplicate (docs/landing.md#accounting-identity: delivered = staged + rejected + duplicates).
    How a later delivery of a key is classified follows the source's kind
    (docs/landing.md#same-key-different-payload): landing_source_kinds() in model_lists.sql,
    held to loyalty/landing/contract.py by tests_py/test_landing_contract.py. -#}

{#- Delivered text (raw_<column>), the delivery's position and identity, the row as JSON.
    personal_columns are masked in the JSON (mask_personal_text), which audit.rejected_source_rows
    publishes; the raw_<column> text stays in the build layer. -#}
{% macro delivery_columns(relation, columns, key_columns, personal_columns=[]) -%}
    {%- for column in columns %}
        {{ relation }}.{{ column }} as raw_{{ column }},
    {%- endfor %}
        {{ relation }}._file_sequence,
        {{ relation }}._source_file,
        {{ relation }}._source_row_number,
        {{ relation }}._load_id,
        {{ relation }}._loaded_at,
        {{ row_key(relation, key_columns) }} as row_key,
        {{ json_text_object(relation, columns, personal_columns) }} as raw_row
{%- endmacro %}

{% macro row_key(relation, key_columns) -%}
    concat_ws('|' {%- for column in key_columns %}, coalesce(trim({{ relation }}.{{ column }}), '')
    {%- endfor %})
{%- endmacro %}

{#- A personal text value as it may be published (docs/landing.md#personal-data): an email keeps
    only its domain ('chloe.123@example.net' -> '***@example.net'), anything else is '***'; null
    stays null. -#}
{% macro mask_personal_text(value) -%}
    case
        when {{ value }} is null then null
        when position('@' in {{ value }}) > 0 then '***' || substr({{ value }}, position('@' in {{ value }}))
        else '***'
    end
{%- endmacro %}

{% macro json_value(relation, column, personal_columns) -%}
    {%- if column in personal_columns -%}
        {{ mask_personal_text(relation ~ '.' ~ column) }}
    {%- else -%}
        {{ relation }}.{{ column }}
    {%- endif -%}
{%- endmacro %}

{% macro json_text_object(relation, columns, personal_columns=[]) -%}
    {{ return(adapter.dispatch('json_text_object', 'loyalty')(relation, columns, personal_columns)) }}
{%- endmacro %}

{% macro default__json_text_object(relation, columns, personal_columns) -%}
    cast(json_object(
        {%- for column in columns %}'{{ column }}', {{ json_value(relation, column, personal_columns) }}{{ ", " if not loop.last }}{% endfor -%}
    ) as {{ dbt.type_string() }})
{%- endmacro %}

{% macro postgres__json_text_object(relation, columns, personal_columns) -%}
    cast(json_build_object(
        {%- for column in columns %}'{{ column }}', {{ json_value(relation, column, personal_columns) }}{{ ", " if not loop.last }}{% endfor -%}
    ) as text)
{%- endmacro %}

{% macro spark__json_text_object(relation, columns, personal_columns) -%}
    to_json(named_struct(
        {%- for column in columns %}'{{ column }}', {{ json_value(relation, column, personal_columns) }}{{ ", " if not loop.last }}{% endfor -%}
    ))
{%- endmacro %}

{#- checks: list of [condition, reason, detail]; the first condition that holds names the
    reason. detail is a SQL text expression a person can act on. -#}
{% macro first_failed_check(checks, output) -%}
    case
    {%- for condition, reason, detail in checks %}
        when {{ condition }} then {{ "'" ~ reason ~ "'" if output == 'reason' else detail }}
    {%- endfor %}
    end
{%- endmacro %}

{#- Number each delivery among identical payloads (exact duplicates; unparseable values
    compare by their text), and name the payload by its first delivery (file sequence and row),
    so that classify_deliveries can tell a dimension's unchanged re-delivery from a new version. -#}
{% macro number_deliveries(relation, key_columns, columns) -%}
    {%- set delivery_order = '_file_sequence, _source_row_number' -%}
    {%- set payload -%}
        {%- for column in columns -%}
            coalesce(cast({{ column }} as {{ dbt.type_string() }}), raw_{{ column }}){{ ", " if not loop.last }}
        {%- endfor -%}
    {%- endset %}
    {%- set payload_window = 'partition by ' ~ payload ~ ' order by ' ~ delivery_order %}
    select
        {{ relation }}.*,
        row_number() over ({{ payload_window }}) as payload_delivery_number,
        first_value(_source_file) over ({{ payload_window }}) as payload_first_file,
        first_value(_file_sequence) over ({{ payload_window }}) as payload_first_file_sequence,
        first_value(_source_row_number) over ({{ payload_window }}) as payload_first_row_number
    from {{ relation }}
{%- endmacro %}

{#- Classify every delivered row, by the kind of its source:
    * fact and change feed: among rows that passed every check, the first delivery of a key is
      staged and each later one with another payload is rejected as conflicting_duplicate;
    * dimension: every valid delivery that changes its key's state (differs from the key's
      previous valid delivery) is staged as a new version, the latest being the current state;
      one that repeats the state it would replace is an exact duplicate (a change back to an
      earlier payload is a change, so a new version).
    A row that failed a check and repeats an earlier row exactly is a duplicate, else rejected. -#}
{% macro classify_deliveries(relation, source_name, key_columns) -%}
    {%- set kinds = landing_source_kinds() -%}
    {%- if source_name not in kinds -%}
        {{ exceptions.raise_compiler_error(
            "landing source '" ~ source_name ~ "' has no kind: add it to landing_source_kinds() in "
            ~ "macros/sql/model_lists.sql (its kind in loyalty/landing/contract.py)") }}
    {%- endif -%}
    {%- if kinds[source_name] == 'dimension' -%}
        {{ classify_dimension_deliveries(relation, source_name, key_columns) }}
    {%- else -%}
        {{ classify_fact_deliveries(relation, source_name, key_columns) }}
    {%- endif -%}
{%- endmacro %}

{% macro classify_fact_deliveries(relation, source_name, key_columns) -%}
    {%- set delivery_order = '_file_sequence, _source_row_number' -%}
    {%- set candidate = '(rejection_reason is null and payload_delivery_number = 1)' -%}
    {%- set key_window = 'partition by ' ~ (key_columns | join(', ')) ~ ', ' ~ candidate ~ ' order by ' ~ delivery_order %}
    select
        '{{ source_name }}' as landing_source,
        '{{ landing_source_kinds()[source_name] }}' as landing_source_kind,
        ranked.*,
        case
            when payload_delivery_number > 1 then 'duplicate'
            when rejection_reason is not null or key_delivery_number > 1 then 'rejected'
            else 'staged'
        end as row_status,
        case
            when payload_delivery_number > 1 then null
            when rejection_reason is not null then rejection_reason
            when key_delivery_number > 1 then 'conflicting_duplicate'
        end as reason,
        case
            when payload_delivery_number > 1 then 'exact duplicate of a row first delivered in ' || payload_first_file
            when rejection_reason is not null then rejection_detail
            when key_delivery_number > 1
                then 'key ' || row_key || ' was first delivered in ' || key_first_file
                || ' row ' || cast(key_first_row_number as {{ dbt.type_string() }})
                || ' with a different payload; the first delivery is kept'
        end as reason_detail
    from (
        select
            {{ relation }}.*,
            row_number() over ({{ key_window }}) as key_delivery_number,
            first_value(_source_file) over ({{ key_window }}) as key_first_file,
            first_value(_source_row_number) over ({{ key_window }}) as key_first_row_number
        from {{ relation }}
    ) as ranked
{%- endmacro %}

{% macro classify_dimension_deliveries(relation, source_name, key_columns) -%}
    {%- set delivery_order = '_file_sequence, _source_row_number' -%}
    {%- set key_window = 'partition by ' ~ (key_columns | join(', ')) ~ ', (rejection_reason is null) order by ' ~ delivery_order %}
    {%- set repeats_previous -%}
        (
            rejection_reason is null
            and previous_payload_file_sequence = payload_first_file_sequence
            and previous_payload_row_number = payload_first_row_number
        )
    {%- endset %}
    select
        '{{ source_name }}' as landing_source,
        'dimension' as landing_source_kind,
        ranked.*,
        case
            when {{ repeats_previous }} then 'duplicate'
            when rejection_reason is null then 'staged'
            when payload_delivery_number > 1 then 'duplicate'
            else 'rejected'
        end as row_status,
        case
            when rejection_reason is not null and payload_delivery_number = 1 then rejection_reason
        end as reason,
        case
            when {{ repeats_previous }}
                then 'exact re-delivery of the state of key ' || row_key || ' delivered in ' || previous_file
                || ' row ' || cast(previous_row_number as {{ dbt.type_string() }})
            when rejection_reason is null and previous_file is not null
                then 'new version of key ' || row_key || ': replaces the one delivered in ' || previous_file
                || ' row ' || cast(previous_row_number as {{ dbt.type_string() }})
            when rejection_reason is null then null
            when payload_delivery_number > 1 then 'exact duplicate of a row first delivered in ' || payload_first_file
            else rejection_detail
        end as reason_detail
    from (
        select
            {{ relation }}.*,
            lag(payload_first_file_sequence) over ({{ key_window }}) as previous_payload_file_sequence,
            lag(payload_first_row_number) over ({{ key_window }}) as previous_payload_row_number,
            lag(_source_file) over ({{ key_window }}) as previous_file,
            lag(_source_row_number) over ({{ key_window }}) as previous_row_number
        from {{ relation }}
    ) as ranked
{%- endmacro %}
