-- One row per calendar month from the first month in which the ledger or the wallet recorded a
-- movement through the warehouse's as-of month (int_warehouse_as_of): the spine the
-- roll-forwards run on, so a month without movements still has its opening = closing row.
-- is_month_to_date marks the as-of's month while it has not ended (docs/marts.md#finance).
-- A var as-of earlier than the data still runs through the last recorded month, so the
-- latest closing keeps tying to the balances.

with

movements as (
    select * from {{ ref('int_balance_movements') }}
),

warehouse_as_of as (
    select * from {{ ref('int_warehouse_as_of') }}
),

recorded_bounds as (
    select
        {{ month_start('min(recorded_at)') }} as first_month,
        {{ month_start('max(recorded_at)') }} as last_recorded_month
    from movements
),

bounds as (
    select
        recorded_bounds.first_month,
        warehouse_as_of.as_of_month,
        warehouse_as_of.last_ended_month,
        case
            when recorded_bounds.last_recorded_month > warehouse_as_of.as_of_month
                then recorded_bounds.last_recorded_month
            else warehouse_as_of.as_of_month
        end as last_month
    from recorded_bounds
    cross join warehouse_as_of
),

months as (
    {{ month_series('bounds', 'bounds.first_month', 'bounds.last_month') }}
),

final as (
    select
        month_start as month,
        cast({{ dbt.dateadd('day', -1, dbt.dateadd('month', 1, 'month_start')) }} as date) as month_end_date,
        (month_start = as_of_month and as_of_month > last_ended_month) as is_month_to_date
    from months
)

select * from final
