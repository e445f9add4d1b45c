-- One row per balance_type and currency (null for points): how many balances were checked
-- and how their drift is distributed (docs/marts.md#rpt_reconciliation_summary).

with

reconciliation as (
    select * from {{ ref('fct_balance_reconciliation') }}
),

final as (
    select
        balance_type,
        currency,
        cast(count(*) as bigint) as accounts_checked,
        cast(sum(case when drift_status = 'in_balance' then 1 else 0 end) as bigint) as accounts_in_balance,
        cast(sum(case when drift_status = 'minor_drift' then 1 else 0 end) as bigint) as accounts_minor_drift,
        cast(sum(case when drift_status = 'material_mismatch' then 1 else 0 end) as bigint)
            as accounts_material_mismatch,
        cast(sum(case when drift_status = 'missing_snapshot' then 1 else 0 end) as bigint) as accounts_missing_snapshot,
        cast(coalesce(max(case when drift > 0 then drift end), 0) as decimal(18, 2)) as largest_positive_drift,
        cast(coalesce(min(case when drift < 0 then drift end), 0) as decimal(18, 2)) as largest_negative_drift,
        cast(coalesce(sum(drift), 0) as decimal(18, 2)) as net_drift,
        cast(coalesce(sum(abs(drift)), 0) as decimal(18, 2)) as total_abs_drift
    from reconciliation
    group by balance_type, currency
)

select * from final
