{#- The model's grain: no two rows share these columns. dbt-utils' test of the same name and
    arguments, so replacing it with dbt_utils.unique_combination_of_columns is a deletion.

    arguments:
      combination_of_columns  a non-empty list of column names (required)
      quote_columns           quote the column names (default false)
    Failing rows: each duplicated combination with how often it occurs. -#}
{% test unique_combination_of_columns(model, combination_of_columns, quote_columns=false) %}
    {%- if combination_of_columns is string or combination_of_columns | length == 0 -%}
        {{ exceptions.raise_compiler_error(
            "unique_combination_of_columns on " ~ model
            ~ ": 'combination_of_columns' must be a non-empty list of column names"
        ) }}
    {%- endif -%}
    {%- if quote_columns not in [true, false] -%}
        {{ exceptions.raise_compiler_error(
            "unique_combination_of_columns on " ~ model ~ ": 'quote_columns' must be true or false, got " ~ quote_columns
        ) }}
    {%- endif -%}
    {%- set columns = [] -%}
    {%- for column in combination_of_columns -%}
        {%- do columns.append(adapter.quote(column) if quote_columns else column) -%}
    {%- endfor %}
    select
        {{ columns | join(', ') }},
        count(*) as occurrences
    from {{ model }}
    group by {{ columns | join(', ') }}
    having count(*) > 1
{% endtest %}
