-- Invariant (docs/marts.md#finance-invariants): every month, closing_points = opening_points + earned +
-- redeemed + expired + corrected + reversed. A month that breaks it books a liability that no
-- movement explains: finance cannot tie the roll-forward to the ledger.
{{ config(tags=['integrity', 'finance']) }}

select
    month,
    opening_points,
    earned,
    redeemed,
    expired,
    corrected,
    reversed,
    closing_points
from {{ ref('fct_points_liability_monthly') }}
where closing_points <> opening_points + earned + redeemed + expired + corrected + reversed
