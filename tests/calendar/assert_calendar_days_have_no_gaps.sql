-- Integrity (models/marts/calendar/dim_calendar_days.sql): the time spine has every day between
-- its first and its last. A missing day would drop that day's figures from every metric that
-- joins to the spine (a month-by-month series with a hole finance cannot see). Failing rows:
-- the days whose previous day is missing.

with

days as (
    select * from {{ ref('dim_calendar_days') }}
),

first_day as (
    select min(date_day) as date_day
    from days
),

final as (
    select days.date_day
    from days
    cross join first_day
    left join days as previous_days
        on previous_days.date_day = cast({{ dbt.dateadd('day', -1, 'days.date_day') }} as date)
    where
        days.date_day > first_day.date_day
        and previous_days.date_day is null
)

select * from final
