{#- Every row satisfies a boolean SQL expression (dbt-utils' test of the same name).
    Failing rows: the rows where it is false or null. -#}
{% test expression_is_true(model, expression, column_name=none, where_clause=none) %}
    {%- if not expression -%}
        {{ exceptions.raise_compiler_error("expression_is_true on " ~ model ~ ": 'expression' is required") }}
    {%- endif %}
    select *
    from {{ model }}
    where not coalesce({{ expression }}, false)
    {%- if where_clause %}
        and ({{ where_clause }})
    {%- endif %}
{% endtest %}
