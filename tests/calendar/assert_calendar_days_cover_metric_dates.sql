-- Integrity (models/marts/calendar/dim_calendar_days.sql): every date a metric's time
-- dimension can name is a day of the time spine, so a metric joined to the spine never loses
-- a period of the marts it reads (README: Metrics). Failing rows: the mart and the date the
-- spine lacks.
{{ config(tags=['integrity', 'metrics'], meta={'dagster': {'ref': {'name': 'dim_calendar_days'}}}) }}

with

days as (
    select * from {{ ref('dim_calendar_days') }}
),

metric_dates as (
    select distinct
        'fct_points_liability_monthly' as mart,
        month as metric_date
    from {{ ref('fct_points_liability_monthly') }}
    union all
    select distinct
        'fct_wallet_liability_monthly' as mart,
        month as metric_date
    from {{ ref('fct_wallet_liability_monthly') }}
    union all
    select distinct
        'fct_balance_reconciliation' as mart,
        cast(snapshot_as_of as date) as metric_date
    from {{ ref('fct_balance_reconciliation') }}
    where snapshot_as_of is not null
    union all
    select distinct
        'fct_order_accrual_reconciliation' as mart,
        cast(ordered_at as date) as metric_date
    from {{ ref('fct_order_accrual_reconciliation') }}
    union all
    select distinct
        'fct_store_incentive_eligibility' as mart,
        period_month as metric_date
    from {{ ref('fct_store_incentive_eligibility') }}
),

final as (
    select
        metric_dates.mart,
        metric_dates.metric_date
    from metric_dates
    left join days
        on metric_dates.metric_date = days.date_day
    where days.date_day is null
)

select * from final
