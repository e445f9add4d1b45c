-- One row: the moment the warehouse's data reaches (its as-of) and the months that follow from
-- it (docs/marts.md#rpt_warehouse_as_of): tiers, expiry due dates and incentive months are
-- evaluated through last_ended_month; the roll-forwards run through as_of_month.

with

warehouse_as_of as (
    select * from {{ ref('int_warehouse_as_of') }}
),

final as (
    select
        as_of,
        as_of_source,
        data_as_of,
        as_of_month,
        last_ended_month,
        (as_of_month > last_ended_month) as is_as_of_month_to_date
    from warehouse_as_of
)

select * from final
