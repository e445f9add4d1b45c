-- One row per store and calendar month (store_id, period_month) from the first month with
-- orders to the last month that has ended by the warehouse's as-of (int_warehouse_as_of: a
-- month that has not ended is never evaluated) in which the store was open at least one day: the store-months the
-- incentives are evaluated for (docs/program.md#store-incentives). closed_on is the first day the store is closed,
-- so a store closing on the 1st was open the whole month before and is not in that month.

with

stores as (
    select * from {{ ref('stg_commerce__stores') }}
),

orders as (
    select * from {{ ref('stg_commerce__orders') }}
),

warehouse_as_of as (
    select * from {{ ref('int_warehouse_as_of') }}
),

data_range as (
    select
        min({{ month_start('orders.ordered_at') }}) as first_month,
        max(warehouse_as_of.last_ended_month) as last_month
    from orders
    cross join warehouse_as_of
),

store_ranges as (
    select
        stores.store_id,
        stores.opened_on,
        stores.closed_on,
        greatest({{ month_start('stores.opened_on') }}, data_range.first_month) as first_open_month,
        case
            when stores.closed_on is null then data_range.last_month
            else
                least(
                    {{ month_start(dbt.dateadd('day', -1, 'stores.closed_on')) }},
                    data_range.last_month
                )
        end as last_open_month
    from stores
    cross join data_range
    where stores.closed_on is null or stores.closed_on > stores.opened_on
),

store_months as (
    {{ month_series('store_ranges', 'store_ranges.first_open_month', 'store_ranges.last_open_month') }}
),

month_bounds as (
    select
        store_id,
        opened_on,
        closed_on,
        month_start as period_month,
        cast({{ dbt.dateadd('month', 1, 'month_start') }} as date) as next_month_start
    from store_months
),

open_intervals as (
    select
        month_bounds.*,
        greatest(month_bounds.opened_on, month_bounds.period_month) as open_from,
        least(
            coalesce(month_bounds.closed_on, month_bounds.next_month_start), month_bounds.next_month_start
        ) as open_until
    from month_bounds
),

final as (
    select
        store_id,
        period_month,
        opened_on,
        closed_on,
        cast(
            {{ dbt.datediff('open_from', 'open_until', 'day') }}
            as integer
        ) as open_days,
        cast(
            {{ dbt.datediff('period_month', 'next_month_start', 'day') }}
            as integer
        ) as days_in_month,
        (
            opened_on <= period_month
            and (closed_on is null or closed_on >= next_month_start)
        ) as is_open_whole_month
    from open_intervals
)

select * from final
