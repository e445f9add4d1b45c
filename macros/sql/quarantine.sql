{#- The shared machinery of every staging base model: keep the delivered text beside the
    parsed values, name the first failed check, and classify each delivered row as
    staged / rejected / duplicate (docs/landing.md#accounting-identity: delivered = staged + rejected + duplicates). -#}

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

{#- Number each delivery twice: among identical payloads (exact duplicates; unparseable
    values compare by their text) and, for rows that passed every check, among deliveries
    of the same key (the first one wins, later different payloads are conflicts). -#}
{% macro number_deliveries(relation, key_columns, columns) -%}
    {%- set delivery_order = '_file_sequence, _source_row_number' -%}
    {%- set payload -%}
        {%- for column in columns -%}
            coalesce(cast({{ column }} as {{ dbt.type_string() }}), raw_{{ column }}){{ ", " if not loop.last }}
        {%- endfor -%}
    {%- endset %}
    select
        {{ relation }}.*,
        row_number() over (
            partition by {{ payload }} order by {{ delivery_order }}
        ) as payload_delivery_number,
        first_value(_source_file) over (
            partition by {{ payload }} order by {{ delivery_order }}
        ) as payload_first_file
    from {{ relation }}
{%- endmacro %}

{% macro classify_deliveries(relation, source_name, key_columns) -%}
    {%- set delivery_order = '_file_sequence, _source_row_number' -%}
    {%- set candidate = '(rejection_reason is null and payload_delivery_number = 1)' -%}
    {%- set key_window = 'partition by ' ~ (key_columns | join(', ')) ~ ', ' ~ candidate ~ ' order by ' ~ delivery_order %}
    select
        '{{ source_name }}' as landing_source,
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
