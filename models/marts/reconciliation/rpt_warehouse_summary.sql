-- One row per figure the refresh summary and the HTML report show, grain (figure_set,
-- category, balance_type, currency, likely_cause, period_month): landing rows by source,
-- rejects by reason, balances by type and currency, drift by likely cause, order accruals and
-- expiry by status, the latest month's store incentives and the warehouse's as-of. Both read these rows instead of
-- aggregating the marts themselves, so the terminal and the page cannot disagree. Each figure
-- set fills its own columns (see the YAML); figure_order is the order both list the rows in.

{#- Every column and its type, in the contract's order; a figure set's missing columns are null. -#}
{%- set columns = {
    'figure_set': dbt.type_string(),
    'figure_order': 'bigint',
    'category': dbt.type_string(),
    'balance_type': dbt.type_string(),
    'currency': dbt.type_string(),
    'likely_cause': dbt.type_string(),
    'cause_precedence': 'integer',
    'cause_meaning': dbt.type_string(),
    'period_month': 'date',
    'item_count': 'bigint',
    'rows_delivered': 'bigint',
    'rows_staged': 'bigint',
    'rows_rejected': 'bigint',
    'rows_exact_duplicate': 'bigint',
    'accounts_checked': 'bigint',
    'accounts_in_balance': 'bigint',
    'accounts_minor_drift': 'bigint',
    'accounts_material_mismatch': 'bigint',
    'accounts_missing_snapshot': 'bigint',
    'largest_positive_drift': 'decimal(18, 2)',
    'largest_negative_drift': 'decimal(18, 2)',
    'net_drift': 'decimal(18, 2)',
    'total_abs_drift': 'decimal(18, 2)',
    'latest_snapshot_at': 'timestamp',
    'expiry_difference_points': 'bigint',
    'stores_eligible': 'bigint',
    'as_of': 'timestamp',
} %}

with

source_row_accounting as (
    select * from {{ ref('source_row_accounting') }}
),

rejected_source_rows as (
    select * from {{ ref('rejected_source_rows') }}
),

reconciliation_summary as (
    select * from {{ ref('rpt_reconciliation_summary') }}
),

balance_reconciliation as (
    select * from {{ ref('fct_balance_reconciliation') }}
),

drift_causes as (
    select * from {{ ref('drift_causes') }}
),

order_accruals as (
    select * from {{ ref('fct_order_accrual_reconciliation') }}
),

expiry as (
    select * from {{ ref('fct_expiry_reconciliation') }}
),

incentive_eligibility as (
    select * from {{ ref('fct_store_incentive_eligibility') }}
),

warehouse_as_of as (
    select * from {{ ref('rpt_warehouse_as_of') }}
),

source_rows as (
    select
        'source_rows' as figure_set,
        landing_source as category,
        row_number() over (order by landing_source) as figure_order,
        cast(count(*) as bigint) as item_count,
        cast(sum(rows_delivered) as bigint) as rows_delivered,
        cast(sum(rows_staged) as bigint) as rows_staged,
        cast(sum(rows_rejected) as bigint) as rows_rejected,
        cast(sum(rows_exact_duplicate) as bigint) as rows_exact_duplicate
    from source_row_accounting
    group by landing_source
),

rejected_rows as (
    select
        'rejected_rows' as figure_set,
        reason as category,
        row_number() over (order by count(*) desc, reason) as figure_order,
        cast(count(*) as bigint) as item_count
    from rejected_source_rows
    group by reason
),

latest_snapshots as (
    select
        balance_type,
        currency,
        max(snapshot_as_of) as latest_snapshot_at
    from balance_reconciliation
    group by balance_type, currency
),

balances as (
    select
        'balances' as figure_set,
        reconciliation_summary.balance_type,
        reconciliation_summary.currency,
        reconciliation_summary.accounts_checked,
        reconciliation_summary.accounts_in_balance,
        reconciliation_summary.accounts_minor_drift,
        reconciliation_summary.accounts_material_mismatch,
        reconciliation_summary.accounts_missing_snapshot,
        reconciliation_summary.largest_positive_drift,
        reconciliation_summary.largest_negative_drift,
        reconciliation_summary.net_drift,
        reconciliation_summary.total_abs_drift,
        latest_snapshots.latest_snapshot_at,
        row_number() over (
            order by reconciliation_summary.balance_type, reconciliation_summary.currency nulls first
        ) as figure_order
    from reconciliation_summary
    left join latest_snapshots
        on
            reconciliation_summary.balance_type = latest_snapshots.balance_type
            and reconciliation_summary.currency is not distinct from latest_snapshots.currency
),

-- Only the balances out of balance have a drift to explain; missing snapshots have none.
drift_by_status_and_cause as (
    select
        balance_type,
        currency,
        drift_status,
        likely_cause,
        cast(count(*) as bigint) as item_count,
        cast(coalesce(sum(abs(drift)), 0) as decimal(18, 2)) as total_abs_drift
    from balance_reconciliation
    where drift_status in ('minor_drift', 'material_mismatch')
    group by balance_type, currency, drift_status, likely_cause
),

-- Causes in the seed's precedence (1 first); a cause the seed does not list follows, by name.
drift_by_cause as (
    select
        'drift_by_cause' as figure_set,
        drift_by_status_and_cause.drift_status as category,
        drift_by_status_and_cause.balance_type,
        drift_by_status_and_cause.currency,
        drift_by_status_and_cause.likely_cause,
        drift_causes.precedence as cause_precedence,
        drift_causes.meaning as cause_meaning,
        drift_by_status_and_cause.item_count,
        drift_by_status_and_cause.total_abs_drift,
        row_number() over (
            order by
                drift_by_status_and_cause.balance_type,
                drift_by_status_and_cause.currency nulls first,
                drift_causes.precedence nulls last,
                drift_by_status_and_cause.likely_cause,
                drift_by_status_and_cause.drift_status
        ) as figure_order
    from drift_by_status_and_cause
    left join drift_causes
        on drift_by_status_and_cause.likely_cause = drift_causes.likely_cause
),

accruals_by_status as (
    select
        'order_accruals' as figure_set,
        accrual_status as category,
        cast(count(*) as bigint) as item_count,
        row_number() over (
            order by case when accrual_status = 'ok' then 0 else 1 end, count(*) desc, accrual_status
        ) as figure_order
    from order_accruals
    group by accrual_status
),

expiry_by_status as (
    select
        'points_expiry' as figure_set,
        expiry_status as category,
        cast(count(*) as bigint) as item_count,
        cast(coalesce(sum(expiry_difference), 0) as bigint) as expiry_difference_points,
        row_number() over (
            order by case when expiry_status = 'ok' then 0 else 1 end, count(*) desc, expiry_status
        ) as figure_order
    from expiry
    group by expiry_status
),

store_incentives as (
    select
        'store_incentives' as figure_set,
        period_month,
        1 as figure_order,
        cast(count(*) as bigint) as item_count,
        cast(sum(case when eligible then 1 else 0 end) as bigint) as stores_eligible
    from incentive_eligibility
    where period_month = (select max(latest.period_month) from incentive_eligibility as latest)
    group by period_month
),

-- The moment the data reaches and the last month evaluated at its end (tiers, expiry, incentives).
as_of as (
    select
        'warehouse_as_of' as figure_set,
        as_of_source as category,
        last_ended_month as period_month,
        1 as figure_order,
        as_of
    from warehouse_as_of
),

{#- The figure sets and the columns each fills (figure_set and figure_order: all of them). -#}
{%- set figure_sets = {
    'source_rows': [
        'category', 'item_count', 'rows_delivered', 'rows_staged', 'rows_rejected', 'rows_exact_duplicate',
    ],
    'rejected_rows': ['category', 'item_count'],
    'balances': [
        'balance_type', 'currency', 'accounts_checked', 'accounts_in_balance', 'accounts_minor_drift',
        'accounts_material_mismatch', 'accounts_missing_snapshot', 'largest_positive_drift',
        'largest_negative_drift', 'net_drift', 'total_abs_drift', 'latest_snapshot_at',
    ],
    'drift_by_cause': [
        'category', 'balance_type', 'currency', 'likely_cause', 'cause_precedence', 'cause_meaning', 'item_count',
        'total_abs_drift',
    ],
    'accruals_by_status': ['category', 'item_count'],
    'expiry_by_status': ['category', 'item_count', 'expiry_difference_points'],
    'store_incentives': ['period_month', 'item_count', 'stores_eligible'],
    'as_of': ['category', 'period_month', 'as_of'],
} %}

final as (
    {%- for figure_set, filled in figure_sets.items() %}
        select
            {%- for column, data_type in columns.items() %}
                {%- if column in ['figure_set', 'figure_order'] or column in filled %}
                    cast({{ column }} as {{ data_type }}) as {{ column }}
                {%- else %}
                    cast(null as {{ data_type }}) as {{ column }}
                {%- endif %}
                {%- if not loop.last %},{% endif %}
            {%- endfor %}
        from {{ figure_set }}
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
)

select * from final
