{#- Incremental models of this warehouse (docs/operations.md#incremental-refresh).

    Staging base models process the load batches that are new since their last run, plus the
    earlier deliveries a new batch can change the verdict of (same key, or a dependency that
    has now arrived), and replace those rows: a full build and any sequence of incremental
    builds over the same raw tables give the same rows.

    Every incremental model uses the `undo_logged` strategy: before it replaces rows it keeps
    their previous version in `<model>__undo` and the keys it wrote in `<model>__undo_keys`, so
    a refresh that fails its integrity checks can put the build state back as it was
    (loyalty/warehouse.py rollback_build; the undo tables are dropped once a refresh publishes).

    A model whose run can leave a key with no row (an account that no longer needs a
    computation) names, in `meta.undo_logged_key_only_rows`, a condition on its rows: rows that
    meet it only name a key to replace, and are not inserted. -#}

{#- The raw rows one run of a staging base model (re)classifies.
    * full build: every delivered row;
    * incremental: rows of files loaded since the model's last run, plus every earlier delivery
      that shares a match key with them or with an earlier row `reevaluate_prior` selects (a
      condition on `prior`, the model's own rows, e.g. rejected for an account that is now
      staged). match_columns: text key columns whose trimmed value partitions every window of
      the classification (a key's deliveries are always classified together). -#}
{% macro deliveries_to_classify(source_relation, match_columns, reevaluate_prior='false', match_types={}) -%}
    {#- a unit test has no `this`: it tests the full build -#}
    {%- if this is not none and is_incremental() -%}
        {%- set high_water = new_deliveries_after() -%}
        {%- set prior_key -%}
            concat_ws('|' {%- for column in match_columns %}, coalesce({{ match_value('prior.' ~ column, match_types.get(column), parsed=true) }}, ''){% endfor %})
        {%- endset -%}
        {%- set new_key -%}
            concat_ws('|' {%- for column in match_columns %}, coalesce({{ match_value('new_rows.' ~ column, match_types.get(column), parsed=false) }}, ''){% endfor %})
        {%- endset %}
    select * from {{ source_relation }}
    where _file_sequence > {{ high_water }}
    union all
    select delivered.* from {{ source_relation }} as delivered
    inner join (
        select prior._file_sequence, prior._source_row_number
        from {{ this }} as prior
        where {{ prior_key }} in (
            select {{ new_key }} from {{ source_relation }} as new_rows
            where new_rows._file_sequence > {{ high_water }}
            union
            select {{ prior_key }} from {{ this }} as prior
            where {{ reevaluate_prior }}
        )
    ) as redo
        on delivered._file_sequence = redo._file_sequence
        and delivered._source_row_number = redo._source_row_number
    {%- else %}
    select * from {{ source_relation }}
    {%- endif %}
{%- endmacro %}

{#- A match column as text: the model's parsed value (prior rows) or the delivered text parsed
    the way the model parses it (new rows), so that deliveries a window treats as one key
    always match. data_type: none (text id), 'date' or 'timestamp'. -#}
{% macro match_value(column, data_type, parsed) -%}
    {%- if data_type is none -%}
        {{ column if parsed else 'nullif(trim(' ~ column ~ "), '')" }}
    {%- elif data_type == 'date' -%}
        cast({{ column if parsed else parse_date(column) }} as {{ dbt.type_string() }})
    {%- elif data_type == 'timestamp' -%}
        cast({{ column if parsed else parse_timestamp_utc(column) }} as {{ dbt.type_string() }})
    {%- else -%}
        {{ exceptions.raise_compiler_error("match_value: unknown data_type " ~ data_type) }}
    {%- endif -%}
{%- endmacro %}

{#- The newest load batch (file sequence) of the load log when a staging base model (re)classifies
    a row (column _classified_through): every row a run writes gets it, so a model downstream
    finds the rows (re)classified since its own last run (changed_keys). -#}
{% macro classified_through() -%}
    (select max(file_sequence) from {{ source('loader', 'load_log') }})
{%- endmacro %}

{#- The keys a staging base model (re)classified since this model's last run, whatever their new
    verdict (staged, rejected, duplicate): its rows whose _classified_through is above the newest
    this model holds (newest_classification). base_relation: the base model (a CTE name);
    key_column: its parsed key. Call only when is_incremental(). -#}
{% macro changed_keys(base_relation, key_column) -%}
    select distinct {{ base_relation }}.{{ key_column }}
    from {{ base_relation }}
    where
        {{ base_relation }}.{{ key_column }} is not null
        and {{ base_relation }}._classified_through > {{ classification_watermark() }}
{%- endmacro %}

{#- The newest classification this incremental model has read (-1 when it is empty): a scalar
    subquery over its own rows (newest_classification wrote them). -#}
{% macro classification_watermark() -%}
    (select coalesce(max(previous._classified_through), -1) from {{ this }} as previous)
{%- endmacro %}

{#- What a model downstream of staging has seen (its column _classified_through): the newest
    classification of the base models it reads (-1 when they are empty). A key-only row of the
    undo_logged strategy has null here. base_relations: CTE names. -#}
{% macro newest_classification(base_relations) -%}
    coalesce((
        select max(classified._classified_through) from (
            {%- for relation in base_relations %}
            select {{ relation }}._classified_through from {{ relation }}{{ " union all" if not loop.last }}
            {%- endfor %}
        ) as classified
    ), -1)
{%- endmacro %}

{#- Running totals that continue (docs/operations.md#incremental-refresh): a model that numbers or
    sums rows in order within a partition (a balance, an account's FIFO line) computes again, in
    each partition a change touched, only the rows from the partition's first changed position
    on, starting from the count and sum of the rows before it, which stay.
    restart_points: per partition, the first of `positions` (a CTE with the partition and order
    columns) in order; the order columns come out as restart_<column>.
    before_restart: the condition that a row of `relation` is before its partition's restart
    point (`restart`, a restart_points CTE joined on the partition); the order columns are never
    null. -#}
{% macro restart_points(positions, partition_columns, order_columns) -%}
    select
        {%- for column in partition_columns %}
        {{ column }},
        {%- endfor %}
        {%- for column in order_columns %}
        {{ column }} as restart_{{ column }}{{ "," if not loop.last }}
        {%- endfor %}
    from (
        select
            {{ positions }}.*,
            row_number() over (
                partition by {{ positions }}.{{ partition_columns | join(', ' ~ positions ~ '.') }}
                order by {{ positions }}.{{ order_columns | join(', ' ~ positions ~ '.') }}
            ) as position_rank
        from {{ positions }}
    ) as ranked_positions
    where position_rank = 1
{%- endmacro %}

{% macro before_restart(relation, restart, order_columns) -%}
    {%- set last = order_columns | last -%}
    {#- a namespace: a set inside a loop does not outlive it -#}
    {%- set built = namespace(condition=relation ~ '.' ~ last ~ ' < ' ~ restart ~ '.restart_' ~ last) -%}
    {%- for column in (order_columns | reverse | list)[1:] -%}
        {%- set built.condition = '(' ~ relation ~ '.' ~ column ~ ' < ' ~ restart ~ '.restart_' ~ column ~ ' or ('
            ~ relation ~ '.' ~ column ~ ' = ' ~ restart ~ '.restart_' ~ column ~ ' and ' ~ built.condition ~ '))' -%}
    {%- endfor -%}
    {{ built.condition }}
{%- endmacro %}

{#- The last load batch (file sequence) an incremental model has classified. -#}
{% macro new_deliveries_after() -%}
    (select coalesce(max(_file_sequence), -1) from {{ this }})
{%- endmacro %}

{% macro undo_relations(target_relation) -%}
    {{ return([
        target_relation.incorporate(path={"identifier": target_relation.identifier ~ "__undo"}),
        target_relation.incorporate(path={"identifier": target_relation.identifier ~ "__undo_keys"}),
    ]) }}
{%- endmacro %}

{#- delete+insert on unique_key that logs what it replaces (see the top of this file). -#}
{% macro get_incremental_undo_logged_sql(arg_dict) -%}
    {%- set target = arg_dict["target_relation"] -%}
    {%- set source = arg_dict["temp_relation"] -%}
    {%- set unique_key = arg_dict["unique_key"] -%}
    {%- if unique_key is string -%}{%- set unique_key = [unique_key] -%}{%- endif -%}
    {%- if not unique_key -%}
        {{ exceptions.raise_compiler_error("incremental_strategy 'undo_logged' needs a unique_key: " ~ target) }}
    {%- endif -%}
    {%- set undo, undo_keys = undo_relations(target) -%}
    {%- set columns = arg_dict["dest_columns"] | map(attribute="quoted") | join(", ") -%}
    {%- set key_list = unique_key | join(", ") -%}
    {%- set matches -%}
        {%- for column in unique_key %}{{ "and " if not loop.first }}replaced.{{ column }} = incoming.{{ column }} {% endfor -%}
    {%- endset -%}
    {#- a relation in a build schema (PostgreSQL, var schema_suffix) needs no undo log: a refresh
        that does not publish discards the whole schema -#}
    {%- set in_build_schema = var('schema_suffix', '') and target.schema.endswith(var('schema_suffix', '')) -%}
    {%- if not in_build_schema %}
    create table if not exists {{ undo }} as select * from {{ target }} where 1 = 0;
    create table if not exists {{ undo_keys }} as select {{ key_list }} from {{ target }} where 1 = 0;
    insert into {{ undo }}
    select replaced.* from {{ target }} as replaced
    inner join (select distinct {{ key_list }} from {{ source }}) as incoming
        on {{ matches }};
    insert into {{ undo_keys }} select distinct {{ key_list }} from {{ source }};
    {%- endif %}
    delete from {{ target }} as replaced
    using (select distinct {{ key_list }} from {{ source }}) as incoming
    where {{ matches }};
    {%- set key_only = (config.get('meta') or {}).get('undo_logged_key_only_rows') %}
    insert into {{ target }} ({{ columns }})
    select {{ columns }} from {{ source }}
    {%- if key_only %}
    where not ({{ key_only }})
    {%- endif %}
{%- endmacro %}
