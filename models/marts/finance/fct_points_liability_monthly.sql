-- One row per month and reporting currency: the points liability roll-forward finance books
-- (docs/marts.md#fct_points_liability_monthly). Months are by recorded_at (when the ledger
-- knew), the reconciliation's basis, through the warehouse's as-of month, month-to-date while it
-- has not ended (is_month_to_date).
-- Movement columns are signed sums, so closing = opening + earned + redeemed + expired +
-- corrected + reversed. Breakage is estimated from history: the share of matured points
-- (earned at least expiry_after_months + 1 months before the month end) that expired.

with

movements as (
    select * from {{ ref('int_balance_movements') }}
    where balance_type = 'points'
),

months as (
    select * from {{ ref('int_liability_months') }}
),

point_values as (
    select * from {{ ref('program_point_value') }}
    where currency = '{{ var("reporting_currency") }}'
),

program_rules as (
    select * from {{ ref('program_rules') }}
    where rule = 'expiry_after_months'
),

monthly_movements as (
    select
        {{ month_start('recorded_at') }} as month,
        sum(case when movement_type = 'earn' then amount else 0 end) as earned,
        sum(case when movement_type = 'redeem' then amount else 0 end) as redeemed,
        sum(case when movement_type = 'expire' then amount else 0 end) as expired,
        sum(case when movement_type = 'correct' then amount else 0 end) as corrected,
        sum(case when movement_type = 'reverse' then amount else 0 end) as reversed,
        sum(amount) as net_movement
    from movements
    group by {{ month_start('recorded_at') }}
),

rolled as (
    select
        months.month,
        months.month_end_date,
        months.is_month_to_date,
        cast(coalesce(monthly_movements.earned, 0) as bigint) as earned,
        cast(coalesce(monthly_movements.redeemed, 0) as bigint) as redeemed,
        cast(coalesce(monthly_movements.expired, 0) as bigint) as expired,
        cast(coalesce(monthly_movements.corrected, 0) as bigint) as corrected,
        cast(coalesce(monthly_movements.reversed, 0) as bigint) as reversed,
        cast(coalesce(sum(monthly_movements.net_movement) over (
            order by months.month rows between unbounded preceding and current row
        ), 0) as bigint) as closing_points,
        cast(coalesce(sum(monthly_movements.earned) over (
            order by months.month rows between unbounded preceding and current row
        ), 0) as bigint) as cumulative_earned,
        cast(coalesce(sum(monthly_movements.expired) over (
            order by months.month rows between unbounded preceding and current row
        ), 0) as bigint) as cumulative_expired
    from months
    left join monthly_movements
        on months.month = monthly_movements.month
),

openings as (
    -- opening = every movement recorded before the month, summed from the monthly totals
    -- (computed apart from the running closing, so the roll-forward tests compare two paths)
    select
        months.month,
        cast(coalesce(sum(monthly_movements.net_movement), 0) as bigint) as opening_points
    from months
    left join monthly_movements
        on months.month > monthly_movements.month
    group by months.month
),

matured as (
    -- points earned in months whose expiry date has passed by this month end
    select
        rolled.month,
        cast(coalesce(sum(earlier.earned), 0) as bigint) as matured_earned
    from rolled
    inner join program_rules
        on
            {{ is_effective('program_rules', 'rolled.month_end_date') }}
    left join rolled as earlier
        on earlier.month <= cast({{ dbt.dateadd('month', '-(program_rules.value + 1)', 'rolled.month') }} as date)
    group by rolled.month
),

breakage as (
    -- share of matured points that expired; null before any point matured. (least() skips
    -- nulls on DuckDB and PostgreSQL, so the case keeps "no history" apart from "all expired")
    select
        month,
        case
            when matured_earned > 0
                then cast(least(1.0, -1.0 * cumulative_expired / matured_earned) as decimal(9, 6))
        end as estimated_breakage_rate
    from (
        select
            rolled.month,
            rolled.cumulative_expired,
            matured.matured_earned
        from rolled
        inner join matured
            on rolled.month = matured.month
    ) as history
),

final as (
    select
        rolled.month,
        '{{ var("reporting_currency") }}' as currency,
        rolled.is_month_to_date,
        openings.opening_points,
        rolled.earned,
        rolled.redeemed,
        rolled.expired,
        rolled.corrected,
        rolled.reversed,
        rolled.closing_points,
        point_values.point_value,
        cast(rolled.closing_points * point_values.point_value as decimal(18, 2)) as closing_liability,
        breakage.estimated_breakage_rate,
        cast(
            rolled.closing_points * point_values.point_value * (1 - coalesce(breakage.estimated_breakage_rate, 0))
            as decimal(18, 2)
        ) as closing_liability_net_of_breakage
    from rolled
    inner join breakage
        on rolled.month = breakage.month
    inner join openings
        on rolled.month = openings.month
    left join point_values
        on
            {{ is_effective('point_values', 'rolled.month_end_date') }}
)

select * from final
