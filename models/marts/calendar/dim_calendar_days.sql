-- One row per calendar day (date_day): MetricFlow's time spine (the time_spine config in
-- _calendar__models.yml; README: Metrics), which metrics join to when they ask for every day or
-- month of a range. It runs from the first day of the earliest month with a recorded movement,
-- an order or a balance snapshot through the last day of the latest such month or of the
-- warehouse's as-of month (int_liability_months already runs to it): every day a metric's
-- time dimension can name, and no day outside the data.

with

liability_months as (
    select * from {{ ref('int_liability_months') }}
),

orders as (
    select * from {{ ref('stg_commerce__orders') }}
),

balance_snapshots as (
    select * from {{ ref('stg_loyalty__balance_snapshots') }}
),

months_by_source as (
    select
        min(month) as first_month,
        max(month) as last_month
    from liability_months
    union all
    select
        min({{ month_start('ordered_at') }}) as first_month,
        max({{ month_start('ordered_at') }}) as last_month
    from orders
    union all
    select
        min({{ month_start('snapshot_as_of') }}) as first_month,
        max({{ month_start('snapshot_as_of') }}) as last_month
    from balance_snapshots
),

bounds as (
    select
        min(first_month) as first_day,
        cast({{ dbt.dateadd('day', -1, dbt.dateadd('month', 1, 'max(last_month)')) }} as date) as last_day
    from months_by_source
),

days as (
    {{ day_series('bounds', 'bounds.first_day', 'bounds.last_day') }}
),

final as (
    select date_day
    from days
)

select * from final
