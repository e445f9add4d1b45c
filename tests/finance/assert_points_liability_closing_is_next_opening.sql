-- Invariant (docs/marts.md#finance-invariants): each month's closing points equal the next month's opening.
-- A break means points appear or vanish between two month ends.
{{ config(tags=['integrity', 'finance']) }}

with

liability as (
    select * from {{ ref('fct_points_liability_monthly') }}
),

next_months as (
    select
        month,
        closing_points,
        lead(opening_points) over (partition by currency order by month) as next_opening_points
    from liability
)

select *
from next_months
where next_opening_points is not null and next_opening_points <> closing_points
