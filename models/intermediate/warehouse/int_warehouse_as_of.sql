-- One row: the warehouse's as-of (docs/operations.md#as-of), the moment its data reaches — the
-- latest recorded_at of ledger events and wallet transactions, snapshot as_of or order
-- updated_at among staged rows — unless the dbt var as_of sets it. Month-end evaluations
-- (tiers, expiry due dates, incentive months) run through last_ended_month, the last month whose
-- end (23:59:59 UTC on its last day, when expiries are due) is on or before the as-of; the
-- roll-forwards run through as_of_month, month-to-date while it has not ended.

{%- set as_of_var = as_of_var_literal() %}

with

ledger_events as (
    select * from {{ ref('stg_loyalty__ledger_events') }}
),

wallet_transactions as (
    select * from {{ ref('stg_wallet__transactions') }}
),

balance_snapshots as (
    select * from {{ ref('stg_loyalty__balance_snapshots') }}
),

orders as (
    select * from {{ ref('stg_commerce__orders') }}
),

latest_moments as (
    select max(recorded_at) as latest_at from ledger_events
    union all
    select max(recorded_at) as latest_at from wallet_transactions
    union all
    select max(snapshot_as_of) as latest_at from balance_snapshots
    union all
    select max(updated_at) as latest_at from orders
),

data_as_of as (
    select max(latest_at) as data_as_of
    from latest_moments
),

chosen as (
    select
        {%- if as_of_var is none %}
            data_as_of as as_of,
            'data' as as_of_source,
        {%- else %}
            {{ as_of_var }} as as_of,
            'var' as as_of_source,
        {%- endif %}
        data_as_of
    from data_as_of
),

months as (
    select
        chosen.*,
        {{ month_start('chosen.as_of') }} as as_of_month,
        -- a month has ended when the second after the as-of is in a later month: at 23:59:59 on
        -- its last day it has, one second earlier it has not
        cast({{ dbt.dateadd('month', -1, month_start(dbt.dateadd('second', 1, 'chosen.as_of'))) }} as date)
            as last_ended_month
    from chosen
),

final as (
    select
        cast(as_of as timestamp) as as_of,
        as_of_source,
        cast(data_as_of as timestamp) as data_as_of,
        as_of_month,
        last_ended_month
    from months
    where as_of is not null
)

select * from final
