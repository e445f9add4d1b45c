{#- Reconciliation finding: member orders whose posted points differ from what their state
    earns. Failing rows: the orders with an accrual_status in `statuses` (default: every
    status but ok). -#}
{% test orders_accrue(model, statuses=none) %}
    {%- set known = ['missing_earn', 'duplicate_earn', 'amount_mismatch', 'unreversed_cancellation', 'earn_on_open_order'] -%}
    {%- set flagged = statuses if statuses is not none else known -%}
    {%- for status in flagged if status not in known -%}
        {{ exceptions.raise_compiler_error(
            "orders_accrue on " ~ model ~ ": unknown accrual status '" ~ status ~ "' (known: " ~ known | join(', ') ~ ")"
        ) }}
    {%- endfor %}
    select
        order_id,
        account_id,
        order_status,
        expected_points,
        posted_points,
        accrual_status,
        explanation
    from {{ model }}
    where accrual_status in ({% for status in flagged %}'{{ status }}'{{ ", " if not loop.last }}{% endfor %})
{% endtest %}
