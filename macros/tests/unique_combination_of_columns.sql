{#- The model's grain: no two rows share these columns (dbt-utils' test of the same name).
    Failing rows: each duplicated combination with how often it occurs. -#}
{% test unique_combination_of_columns(model, combination) %}
    {%- if combination is string or combination | length == 0 -%}
        {{ exceptions.raise_compiler_error(
            "unique_combination_of_columns on " ~ model ~ ": 'combination' must be a non-empty list of column names"
        ) }}
    {%- endif %}
    select
        {{ combination | join(', ') }},
        count(*) as occurrences
    from {{ model }}
    group by {{ combination | join(', ') }}
    having count(*) > 1
{% endtest %}
