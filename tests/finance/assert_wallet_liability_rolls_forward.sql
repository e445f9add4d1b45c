-- Invariant (docs/marts.md#finance-invariants): per currency and month, closing_balance = opening_balance
-- + top_ups + spends + refunds + cashback + adjustments, each closing is the next opening,
-- and the latest closing equals the sum of the wallets' reconstructed balances.
{{ config(tags=['integrity', 'finance'], meta={'dagster': {'ref': {'name': 'fct_wallet_liability_monthly'}}}) }}

with

liability as (
    select * from {{ ref('fct_wallet_liability_monthly') }}
),

timeline as (
    select * from {{ ref('fct_account_ledger_timeline') }}
    where balance_type = 'wallet'
),

latest_balances as (
    select
        currency,
        running_balance,
        row_number() over (partition by account_id, currency order by movement_sequence desc) as recency
    from timeline
),

reconstructed as (
    select
        currency,
        sum(running_balance) as total_balance
    from latest_balances
    where recency = 1
    group by currency
),

checked as (
    select
        liability.month,
        liability.currency,
        liability.closing_balance,
        liability.opening_balance + liability.top_ups + liability.spends + liability.refunds
        + liability.cashback + liability.adjustments as rolled_forward,
        lead(liability.opening_balance) over (
            partition by liability.currency order by liability.month
        ) as next_opening_balance,
        max(liability.month) over (partition by liability.currency) as latest_month
    from liability
)

select
    checked.month,
    checked.currency,
    checked.closing_balance,
    checked.rolled_forward,
    checked.next_opening_balance,
    reconstructed.total_balance
from checked
left join reconstructed
    on checked.currency = reconstructed.currency
where
    checked.closing_balance <> checked.rolled_forward
    or checked.closing_balance <> coalesce(checked.next_opening_balance, checked.closing_balance)
    or (checked.month = checked.latest_month and checked.closing_balance <> reconstructed.total_balance)
