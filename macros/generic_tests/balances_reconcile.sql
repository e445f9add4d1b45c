{#- Reconciliation finding: balances whose |drift| exceeds a tolerance. Failing rows are the
    out-of-balance balances (stored with store_failures, so operations can query them).

    arguments:
      balance_type      'points' or 'wallet' (required)
      tolerance         a number, or
      tolerance_column  a column of the model holding each row's tolerance (per-currency
                        wallet tolerances); exactly one of the two
      include_missing_snapshot  also fail balances without a snapshot (default false)
    Use severity to say what a failure means: minor drift warns, material mismatch errors. -#}
{% test balances_reconcile(model, balance_type, tolerance=none, tolerance_column=none, include_missing_snapshot=false) %}
    {%- if balance_type not in ['points', 'wallet'] -%}
        {{ exceptions.raise_compiler_error(
            "balances_reconcile on " ~ model ~ ": balance_type must be 'points' or 'wallet', got " ~ balance_type
        ) }}
    {%- endif -%}
    {%- if (tolerance is none) == (tolerance_column is none) -%}
        {{ exceptions.raise_compiler_error(
            "balances_reconcile on " ~ model ~ ": give exactly one of tolerance or tolerance_column"
        ) }}
    {%- endif -%}
    {%- if tolerance is not none and not modules.re.fullmatch('[0-9]+(\\.[0-9]+)?', tolerance | string) -%}
        {{ exceptions.raise_compiler_error(
            "balances_reconcile on " ~ model ~ ": tolerance must be a non-negative number, got " ~ tolerance
        ) }}
    {%- endif %}
    select
        account_id,
        balance_type,
        currency,
        snapshot_as_of,
        snapshot_balance,
        computed_balance,
        drift,
        drift_status,
        likely_cause,
        explanation
    from {{ model }}
    where
        balance_type = '{{ balance_type }}'
        and (
            abs(drift) > {{ tolerance if tolerance is not none else tolerance_column }}
            {%- if include_missing_snapshot %}
            or drift_status = 'missing_snapshot'
            {%- endif %}
        )
{% endtest %}
