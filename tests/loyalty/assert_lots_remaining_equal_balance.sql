-- Invariant (FIFO lots): for every account whose points balance is not negative, the points
-- remaining in its lots add up to the balance. A break means the lots misstate which points
-- are still held, so the expiry the warehouse recomputes from them cannot be trusted.
{{ config(tags=['integrity'], meta={'dagster': {'ref': {'name': 'fct_points_lots'}}}) }}

with

lots as (
    select * from {{ ref('fct_points_lots') }}
),

timeline as (
    select * from {{ ref('fct_account_ledger_timeline') }}
    where balance_type = 'points'
),

balances as (
    select
        account_id,
        sum(amount) as balance
    from timeline
    group by account_id
),

remaining as (
    select
        account_id,
        sum(remaining_points) as remaining_points
    from lots
    group by account_id
)

select
    balances.account_id,
    balances.balance,
    coalesce(remaining.remaining_points, 0) as remaining_points
from balances
left join remaining
    on balances.account_id = remaining.account_id
where balances.balance >= 0 and balances.balance <> coalesce(remaining.remaining_points, 0)
