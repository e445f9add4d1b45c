-- One row per store, month, metric and aggregation (store_id, period_month, metric,
-- aggregation), long format: everything a store incentive rule can look at (docs/program.md#store-incentives).
-- Each metric is a union branch; a new metric is a new branch, and a rule uses it by naming it
-- in seeds/incentive_rules.csv. Only store-months of int_store_months_open. Orders count in the
-- calendar month of ordered_at, in their latest state; their metrics are 0 in a month without
-- orders. Store operations metrics exist only where operations were recorded (audit_score on
-- audit days only), so a month without them has no row and the rule decides what that means.
-- Values keep 10 decimals so rules compare (nearly) exact ratios and averages.

with

store_months as (
    select * from {{ ref('int_store_months_open') }}
),

orders as (
    select * from {{ ref('stg_commerce__orders') }}
),

operations as (
    select * from {{ ref('stg_commerce__store_operations') }}
),

orders_by_store_month as (
    select
        store_id,
        {{ month_start('ordered_at') }} as period_month,
        sum(case when order_status = 'completed' then net_amount else 0 end) as net_sales,
        sum(case when order_status = 'completed' then 1 else 0 end) as completed_orders,
        sum(case when order_status = 'returned' then 1 else 0 end) as returned_orders,
        count(*) as order_count
    from orders
    group by store_id, {{ month_start('ordered_at') }}
),

order_figures as (
    select
        store_months.store_id,
        store_months.period_month,
        coalesce(orders_by_store_month.net_sales, 0) as net_sales,
        coalesce(orders_by_store_month.completed_orders, 0) as completed_orders,
        coalesce(orders_by_store_month.returned_orders, 0) as returned_orders,
        coalesce(orders_by_store_month.order_count, 0) as order_count
    from store_months
    left join orders_by_store_month
        on
            store_months.store_id = orders_by_store_month.store_id
            and store_months.period_month = orders_by_store_month.period_month
),

net_sales as (
    select
        store_id,
        period_month,
        'net_sales' as metric,
        'sum' as aggregation,
        cast(net_sales as decimal(28, 10)) as metric_value,
        completed_orders as observations
    from order_figures
),

completed_orders as (
    select
        store_id,
        period_month,
        'completed_orders' as metric,
        'count' as aggregation,
        cast(completed_orders as decimal(28, 10)) as metric_value,
        completed_orders as observations
    from order_figures
),

returned_orders as (
    select
        store_id,
        period_month,
        'returned_orders' as metric,
        'count' as aggregation,
        cast(returned_orders as decimal(28, 10)) as metric_value,
        returned_orders as observations
    from order_figures
),

order_count as (
    select
        store_id,
        period_month,
        'order_count' as metric,
        'count' as aggregation,
        cast(order_count as decimal(28, 10)) as metric_value,
        order_count as observations
    from order_figures
),

-- returned / (completed + returned); 0 when the store had neither
return_rate as (
    select
        store_id,
        period_month,
        'return_rate' as metric,
        'ratio' as aggregation,
        cast(
            case
                when completed_orders + returned_orders = 0 then 0
                else cast(returned_orders as decimal(28, 10)) / (completed_orders + returned_orders)
            end as decimal(28, 10)
        ) as metric_value,
        completed_orders + returned_orders as observations
    from order_figures
),

operations_by_store_month as (
    select
        operations.store_id,
        store_months.period_month,
        operations.metric,
        avg(operations.metric_value) as average_value,
        min(operations.metric_value) as minimum_value,
        max(operations.metric_value) as maximum_value,
        count(*) as observations
    from operations
    inner join store_months
        on
            operations.store_id = store_months.store_id
            and {{ month_start('operations.business_date') }} = store_months.period_month
    group by operations.store_id, store_months.period_month, operations.metric
),

-- every operations metric (audit_score, on_time_open: the on-time rate, staffed_hours_ratio,
-- and any metric the operations feed adds): average, minimum and maximum of its daily values
operations_average as (
    select
        store_id,
        period_month,
        metric,
        'avg' as aggregation,
        cast(average_value as decimal(28, 10)) as metric_value,
        observations
    from operations_by_store_month
),

operations_minimum as (
    select
        store_id,
        period_month,
        metric,
        'min' as aggregation,
        cast(minimum_value as decimal(28, 10)) as metric_value,
        observations
    from operations_by_store_month
),

operations_maximum as (
    select
        store_id,
        period_month,
        metric,
        'max' as aggregation,
        cast(maximum_value as decimal(28, 10)) as metric_value,
        observations
    from operations_by_store_month
),

unioned as (
    select * from net_sales
    union all
    select * from completed_orders
    union all
    select * from returned_orders
    union all
    select * from order_count
    union all
    select * from return_rate
    union all
    select * from operations_average
    union all
    select * from operations_minimum
    union all
    select * from operations_maximum
),

final as (
    select
        store_id,
        period_month,
        metric,
        aggregation,
        metric_value,
        cast(observations as bigint) as observations
    from unioned
)

select * from final
