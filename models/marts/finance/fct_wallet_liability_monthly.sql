-- One row per month and wallet currency: the stored-value liability roll-forward
-- (docs/marts.md#fct_wallet_liability_monthly),
-- months by recorded_at through the warehouse's as-of month, month-to-date while it has not ended
-- (is_month_to_date). Movement columns are signed sums (spends negative), so
-- closing_balance = opening_balance + top_ups + spends + refunds + cashback + adjustments.

with

movements as (
    select * from {{ ref('int_balance_movements') }}
    where balance_type = 'wallet'
),

months as (
    select * from {{ ref('int_liability_months') }}
),

currencies as (
    select
        currency,
        {{ month_start('min(recorded_at)') }} as first_month
    from movements
    group by currency
),

currency_months as (
    select
        months.month,
        months.is_month_to_date,
        currencies.currency
    from months
    inner join currencies
        on months.month >= currencies.first_month
),

monthly_movements as (
    select
        {{ month_start('recorded_at') }} as month,
        currency,
        sum(case when movement_type = 'top_up' then amount else 0 end) as top_ups,
        sum(case when movement_type = 'spend' then amount else 0 end) as spends,
        sum(case when movement_type = 'refund' then amount else 0 end) as refunds,
        sum(case when movement_type = 'cashback' then amount else 0 end) as cashback,
        sum(case when movement_type = 'adjust' then amount else 0 end) as adjustments,
        sum(amount) as net_movement
    from movements
    group by {{ month_start('recorded_at') }}, currency
),

rolled as (
    select
        currency_months.month,
        currency_months.currency,
        currency_months.is_month_to_date,
        cast(coalesce(monthly_movements.top_ups, 0) as decimal(18, 2)) as top_ups,
        cast(coalesce(monthly_movements.spends, 0) as decimal(18, 2)) as spends,
        cast(coalesce(monthly_movements.refunds, 0) as decimal(18, 2)) as refunds,
        cast(coalesce(monthly_movements.cashback, 0) as decimal(18, 2)) as cashback,
        cast(coalesce(monthly_movements.adjustments, 0) as decimal(18, 2)) as adjustments,
        cast(coalesce(sum(monthly_movements.net_movement) over (
            partition by currency_months.currency
            order by currency_months.month rows between unbounded preceding and current row
        ), 0) as decimal(18, 2)) as closing_balance
    from currency_months
    left join monthly_movements
        on
            currency_months.month = monthly_movements.month
            and currency_months.currency = monthly_movements.currency
),

openings as (
    -- opening = every movement recorded before the month (computed apart from the running
    -- closing, so the roll-forward tests compare two paths)
    select
        currency_months.month,
        currency_months.currency,
        cast(coalesce(sum(monthly_movements.net_movement), 0) as decimal(18, 2)) as opening_balance
    from currency_months
    left join monthly_movements
        on
            currency_months.currency = monthly_movements.currency
            and currency_months.month > monthly_movements.month
    group by currency_months.month, currency_months.currency
),

final as (
    select
        rolled.month,
        rolled.currency,
        rolled.is_month_to_date,
        openings.opening_balance,
        rolled.top_ups,
        rolled.spends,
        rolled.refunds,
        rolled.cashback,
        rolled.adjustments,
        rolled.closing_balance
    from rolled
    inner join openings
        on
            rolled.month = openings.month
            and rolled.currency = openings.currency
)

select * from final
