{#- Every row satisfies a boolean SQL expression: dbt-utils' test of the same name and
    arguments, so replacing it with dbt_utils.expression_is_true is a deletion.

    arguments:
      expression   a boolean SQL expression (required); on a column, the rest of an
                   expression after the column ("<> 0", ">= occurred_at"), as in dbt-utils
    Restrict the rows with the test's `where` config (dbt-utils has no argument for it).
    Failing rows: the rows where it is false or null. One difference from dbt-utils, which
    lets a null result pass: here a null fails, so a null in a column the expression reads
    is reported rather than hidden. -#}
{% test expression_is_true(model, expression, column_name=none) %}
    {%- if not expression or expression is not string -%}
        {{ exceptions.raise_compiler_error(
            "expression_is_true on " ~ model ~ ": 'expression' must be a non-empty SQL expression"
        ) }}
    {%- endif %}
    select *
    from {{ model }}
    where not coalesce({{ column_name ~ ' ' if column_name is not none }}{{ expression }}, false)
{% endtest %}
