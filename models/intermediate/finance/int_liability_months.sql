-- One row per calendar month from the first to the last month in which the ledger or the
-- wallet recorded a movement: the spine the roll-forwards run on, so a month without
-- movements still has its opening = closing row.

with

movements as (
    select * from {{ ref('int_balance_movements') }}
),

bounds as (
    select
        {{ month_start('min(recorded_at)') }} as first_month,
        {{ month_start('max(recorded_at)') }} as last_month
    from movements
),

months as (
    {{ month_series('bounds', 'bounds.first_month', 'bounds.last_month') }}
),

final as (
    select
        month_start as month,
        cast({{ dbt.dateadd('day', -1, dbt.dateadd('month', 1, 'month_start')) }} as date) as month_end_date
    from months
)

select * from final
