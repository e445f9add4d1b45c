-- Invariant (docs/marts.md#finance-invariants): the latest month's closing points equal the sum of every
-- account's reconstructed balance (the last running balance in fct_account_ledger_timeline).
-- A break means the liability finance books is not the sum of what members hold.
{{ config(tags=['integrity', 'finance'], meta={'dagster': {'ref': {'name': 'fct_points_liability_monthly'}}}) }}

with

liability as (
    select * from {{ ref('fct_points_liability_monthly') }}
),

timeline as (
    select * from {{ ref('fct_account_ledger_timeline') }}
    where balance_type = 'points'
),

latest_balances as (
    select
        account_id,
        running_balance,
        row_number() over (partition by account_id order by movement_sequence desc) as recency
    from timeline
),

reconstructed as (
    select coalesce(sum(running_balance), 0) as total_points
    from latest_balances
    where recency = 1
),

latest_month as (
    select
        closing_points,
        row_number() over (order by month desc) as recency
    from liability
)

select
    latest_month.closing_points,
    reconstructed.total_points
from latest_month
cross join reconstructed
where latest_month.recency = 1 and latest_month.closing_points <> reconstructed.total_points
