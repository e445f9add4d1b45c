{#- The shared machinery of every staging base model: keep the delivered text beside the
    parsed values, name the first failed check, and classify each delivered row as
    staged / rejected / duplicate (docs/landing.md#accounting-identity: delivered = staged + rejected + duplicates).
    How a later delivery of a key is classified follows the source's kind
    (docs/landing.md#same-key-different-payload): landing_source_kinds() in model_lists.sql,
    held to loyalty/landing/contract.py by tests_py/test_landing_contract.py. -#}

{#- Delivered text (raw_<column>) and the delivery's position and identity. The text of every
    row is needed to check and compare it; classify_deliveries keeps it only for rows that are not
    staged (kept_delivery_columns, delivered_row_json). -#}
{% macro delivery_columns(relation, columns, key_columns) -%}
    {%- for column in columns %}
        {{ relation }}.{{ column }} as raw_{{ column }},
    {%- endfor %}
        {{ relation }}._file_sequence,
        {{ relation }}._source_file,
        {{ relation }}._source_row_number,
        {{ relation }}._load_id,
        {{ relation }}._loaded_at,
        {{ row_key(relation, key_columns) }} as row_key
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

{% macro json_value(relation, column, personal_columns, prefix) -%}
    {%- if column in personal_columns -%}
        {{ mask_personal_text(relation ~ '.' ~ prefix ~ column) }}
    {%- else -%}
        {{ relation }}.{{ prefix }}{{ column }}
    {%- endif -%}
{%- endmacro %}

{#- The delivered row as a JSON object keyed by column name; the text of `column` is
    `relation.<prefix><column>`. -#}
{% macro json_text_object(relation, columns, personal_columns=[], prefix='') -%}
    {{ return(adapter.dispatch('json_text_object', 'loyalty')(relation, columns, personal_columns, prefix)) }}
{%- endmacro %}

{% macro default__json_text_object(relation, columns, personal_columns, prefix) -%}
    cast(json_object(
        {%- for column in columns %}'{{ column }}', {{ json_value(relation, column, personal_columns, prefix) }}{{ ", " if not loop.last }}{% endfor -%}
    ) as {{ dbt.type_string() }})
{%- endmacro %}

{% macro postgres__json_text_object(relation, columns, personal_columns, prefix) -%}
    cast(json_build_object(
        {%- for column in columns %}'{{ column }}', {{ json_value(relation, column, personal_columns, prefix) }}{{ ", " if not loop.last }}{% endfor -%}
    ) as text)
{%- endmacro %}

{% macro spark__json_text_object(relation, columns, personal_columns, prefix) -%}
    to_json(named_struct(
        {%- for column in columns %}'{{ column }}', {{ json_value(relation, column, personal_columns, prefix) }}{{ ", " if not loop.last }}{% endfor -%}
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

{#- Rows of `relation` whose key (key_columns, nulls equal, as a window partitions) was delivered
    more than once in this run: only these need the windows of number_deliveries; every other
    row is its key's only delivery. A full build sorts the few re-delivered keys' rows instead of
    every delivered row. -#}
{% macro redelivered_key_condition(relation, key_columns) -%}
    exists (
        select 1
        from (
            select {{ key_columns | join(', ') }}
            from {{ relation }}
            group by {{ key_columns | join(', ') }}
            having count(*) > 1
        ) as redelivered_keys
        where
        {%- for column in key_columns %}
            {{ "and " if not loop.first }}redelivered_keys.{{ column }} is not distinct from {{ relation }}.{{ column }}
        {%- endfor %}
    )
{%- endmacro %}

{#- Number each delivery among identical payloads (exact duplicates; unparseable values
    compare by their text) and among its key's deliveries, for classify_deliveries:
    * payload_*: the delivery's number among identical payloads and the payload's first
      delivery (file sequence and row), which tells a dimension's unchanged re-delivery from a
      new version;
    * key_*: (facts and change feeds) the delivery's number among its key's valid first
      payloads and the first of them;
    * previous_*: (dimensions) the key's previous valid delivery and its payload's first.
    A key's only delivery is the first of its payload and of its key and has no previous one.
    Two rows with the same payload have the same key, so every window runs over the rows of
    re-delivered keys only, which are joined back to the others: the wide rows are read once
    and never sorted. -#}
{% macro number_deliveries(relation, key_columns, columns) -%}
    {%- set delivery_order = '_file_sequence, _source_row_number' -%}
    {%- set keys = key_columns | join(', ') -%}
    {%- set payload -%}
        {%- for column in columns -%}
            {{ column }}, case when {{ column }} is null then raw_{{ column }} end{{ ", " if not loop.last }}
        {%- endfor -%}
    {%- endset %}
    {%- set payload_window = 'partition by ' ~ payload ~ ' order by ' ~ delivery_order %}
    {%- set fact_key_window = 'partition by ' ~ keys ~ ', (rejection_reason is null and payload_delivery_number = 1) order by ' ~ delivery_order %}
    {%- set dimension_key_window = 'partition by ' ~ keys ~ ', (rejection_reason is null) order by ' ~ delivery_order %}
    select
        {{ relation }}.*,
        coalesce(redelivered.payload_delivery_number, 1) as payload_delivery_number,
        coalesce(redelivered.payload_first_file, {{ relation }}._source_file) as payload_first_file,
        coalesce(redelivered.payload_first_file_sequence, {{ relation }}._file_sequence) as payload_first_file_sequence,
        coalesce(redelivered.payload_first_row_number, {{ relation }}._source_row_number) as payload_first_row_number,
        coalesce(redelivered.key_delivery_number, 1) as key_delivery_number,
        coalesce(redelivered.key_first_file, {{ relation }}._source_file) as key_first_file,
        coalesce(redelivered.key_first_row_number, {{ relation }}._source_row_number) as key_first_row_number,
        redelivered.previous_payload_file_sequence,
        redelivered.previous_payload_row_number,
        redelivered.previous_file,
        redelivered.previous_row_number
    from {{ relation }}
    left join (
        select
            _file_sequence,
            _source_row_number,
            payload_delivery_number,
            payload_first_file,
            payload_first_file_sequence,
            payload_first_row_number,
            row_number() over ({{ fact_key_window }}) as key_delivery_number,
            first_value(_source_file) over ({{ fact_key_window }}) as key_first_file,
            first_value(_source_row_number) over ({{ fact_key_window }}) as key_first_row_number,
            lag(payload_first_file_sequence) over ({{ dimension_key_window }}) as previous_payload_file_sequence,
            lag(payload_first_row_number) over ({{ dimension_key_window }}) as previous_payload_row_number,
            lag(_source_file) over ({{ dimension_key_window }}) as previous_file,
            lag(_source_row_number) over ({{ dimension_key_window }}) as previous_row_number
        from (
            select
                {{ keys }},
                _file_sequence,
                _source_row_number,
                _source_file,
                rejection_reason,
                row_number() over ({{ payload_window }}) as payload_delivery_number,
                first_value(_source_file) over ({{ payload_window }}) as payload_first_file,
                first_value(_file_sequence) over ({{ payload_window }}) as payload_first_file_sequence,
                first_value(_source_row_number) over ({{ payload_window }}) as payload_first_row_number
            from {{ relation }}
            where {{ redelivered_key_condition(relation, key_columns) }}
        ) as payload_numbered
    ) as redelivered
        on {{ relation }}._file_sequence = redelivered._file_sequence
        and {{ relation }}._source_row_number = redelivered._source_row_number
{%- endmacro %}

{#- Classify every delivered row, by the kind of its source:
    * fact and change feed: among rows that passed every check, the first delivery of a key is
      staged and each later one with another payload is rejected as conflicting_duplicate;
    * dimension: every valid delivery that changes its key's state (differs from the key's
      previous valid delivery) is staged as a new version, the latest being the current state;
      one that repeats the state it would replace is an exact duplicate (a change back to an
      earlier payload is a change, so a new version).
    A row that failed a check and repeats an earlier row exactly is a duplicate, else rejected.
    columns: the delivered columns (raw_<column>); personal_columns are masked in raw_row. -#}
{% macro classify_deliveries(relation, source_name, columns, personal_columns=[]) -%}
    {%- set kinds = landing_source_kinds() -%}
    {%- if source_name not in kinds -%}
        {{ exceptions.raise_compiler_error(
            "landing source '" ~ source_name ~ "' has no kind: add it to landing_source_kinds() in "
            ~ "macros/sql/model_lists.sql (its kind in loyalty/landing/contract.py)") }}
    {%- endif -%}
    {%- if kinds[source_name] == 'dimension' -%}
        {{ classify_dimension_deliveries(relation, source_name, columns, personal_columns) }}
    {%- else -%}
        {{ classify_fact_deliveries(relation, source_name, columns, personal_columns) }}
    {%- endif -%}
{%- endmacro %}

{#- The columns of `ranked` a base model keeps, and the delivered row as JSON text (raw_row,
    published by audit.rejected_source_rows) for rows that are not staged (`not_staged`, a
    condition on ranked's columns); a staged row is its parsed values, located by file and row.
    On DuckDB a staged row's raw_<column> text is not kept either (writing it was a third of a
    full build's staging). -#}
{% macro kept_delivery_columns(columns, not_staged) -%}
    {{ return(adapter.dispatch('kept_delivery_columns', 'loyalty')(columns, not_staged)) }}
{%- endmacro %}

{% macro default__kept_delivery_columns(columns, not_staged) -%}
    ranked.*
{%- endmacro %}

{% macro duckdb__kept_delivery_columns(columns, not_staged) -%}
    ranked.* replace (
    {%- for column in columns %}
            case when {{ not_staged }} then ranked.raw_{{ column }} end as raw_{{ column }}{{ "," if not loop.last }}
    {%- endfor %}
        )
{%- endmacro %}

{% macro delivered_row_json(columns, personal_columns, not_staged) -%}
    case when {{ not_staged }} then {{ json_text_object('ranked', columns, personal_columns, prefix='raw_') }} end
{%- endmacro %}

{% macro classify_fact_deliveries(relation, source_name, columns, personal_columns) -%}
    {%- set not_staged = '(ranked.payload_delivery_number > 1 or ranked.rejection_reason is not null or ranked.key_delivery_number > 1)' %}
    select
        '{{ source_name }}' as landing_source,
        '{{ landing_source_kinds()[source_name] }}' as landing_source_kind,
        {{ kept_delivery_columns(columns, not_staged) }},
        case
            when payload_delivery_number > 1 then 'duplicate'
            when {{ not_staged }} then 'rejected'
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
        end as reason_detail,
        {{ delivered_row_json(columns, personal_columns, not_staged) }} as raw_row,
        {{ classified_through() }} as _classified_through
    from {{ relation }} as ranked
{%- endmacro %}

{% macro classify_dimension_deliveries(relation, source_name, columns, personal_columns) -%}
    {%- set repeats_previous -%}
        (
            rejection_reason is null
            and previous_payload_file_sequence = payload_first_file_sequence
            and previous_payload_row_number = payload_first_row_number
        )
    {%- endset %}
    {%- set not_staged = '(ranked.rejection_reason is not null or ' ~ repeats_previous ~ ')' %}
    select
        '{{ source_name }}' as landing_source,
        'dimension' as landing_source_kind,
        {{ kept_delivery_columns(columns, not_staged) }},
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
        end as reason_detail,
        {{ delivered_row_json(columns, personal_columns, not_staged) }} as raw_row,
        {{ classified_through() }} as _classified_through
    from {{ relation }} as ranked
{%- endmacro %}
