{#- dbt-spark checks an incremental model's strategy against its own list before it builds,
    and refuses `undo_logged` (this project's strategy, incremental.sql). On Spark the project
    builds in full only (`make test-spark`, README "Engines"): a model whose table does not
    exist yet, or a `--full-refresh`, passes; an incremental run says so instead of failing
    later in dbt-spark's "No known SQL for the incremental strategy". -#}
{% macro dbt_spark_validate_get_incremental_strategy(raw_strategy, file_format) %}
    {%- if raw_strategy != 'undo_logged' -%}
        {{ return(dbt_spark.dbt_spark_validate_get_incremental_strategy(raw_strategy, file_format)) }}
    {%- endif -%}
    {%- if load_relation(this) is not none and not should_full_refresh() -%}
        {{ exceptions.raise_compiler_error(
            "incremental strategy 'undo_logged' builds on Spark in full only: " ~ this
            ~ " exists; run dbt with --full-refresh (README, Engines)") }}
    {%- endif -%}
    {{ return(raw_strategy) }}
{% endmacro %}
