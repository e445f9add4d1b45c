-- One row per account and due month (account_id, due_month) from the account's first lot
-- month + expiry_after_months to the last month that has ended by the warehouse's as-of
-- (int_warehouse_as_of; due dates after it are not checked yet): the points that should expire at the
-- end of due_month under FIFO, computed set-based. With L(k) the points of lots earned up to
-- lot month k and C(k) the points consumed (redeem, negative correct or reverse; not expire)
-- with occurred_at up to the end of k's due month, the points expired up to that due month
-- are S(k) = max(0, max over j <= k of L(j) - C(j)) — FIFO takes the oldest lots first, so
-- everything of lot months <= k not consumed by then is gone — and due_month's expiry is
-- S(k) - S(k - 1).

with

lots as (
    select * from {{ ref('int_points_lots') }}
),

program_rules as (
    select * from {{ ref('program_rules') }}
    where rule = 'expiry_after_months'
),

ledger_events as (
    select * from {{ ref('stg_loyalty__ledger_events') }}
),

warehouse_as_of as (
    select * from {{ ref('int_warehouse_as_of') }}
),

horizon as (
    select last_ended_month as last_month
    from warehouse_as_of
),

account_ranges as (
    select
        lots.account_id,
        min(lots.lot_month) as first_lot_month,
        min(lots.due_month) as first_due_month,
        horizon.last_month
    from lots
    cross join horizon
    group by lots.account_id, horizon.last_month
),

account_months as (
    {{ month_series('account_ranges', 'account_ranges.first_lot_month', 'account_ranges.last_month') }}
),

lots_by_month as (
    select
        account_id,
        lot_month,
        sum(lot_points) as lot_points
    from lots
    group by account_id, lot_month
),

consumption_by_month as (
    select
        account_id,
        {{ month_start('occurred_at') }} as consumed_month,
        -sum(points) as consumed_points
    from ledger_events
    where points < 0 and event_type <> 'expire'
    group by account_id, {{ month_start('occurred_at') }}
),

running_totals as (
    select
        account_months.account_id,
        account_months.month_start as month,
        account_months.first_due_month,
        sum(coalesce(lots_by_month.lot_points, 0)) over (
            partition by account_months.account_id
            order by account_months.month_start
            rows between unbounded preceding and current row
        ) as lots_through_month,
        sum(coalesce(consumption_by_month.consumed_points, 0)) over (
            partition by account_months.account_id
            order by account_months.month_start
            rows between unbounded preceding and current row
        ) as consumed_through_month
    from account_months
    left join lots_by_month
        on
            account_months.account_id = lots_by_month.account_id
            and account_months.month_start = lots_by_month.lot_month
    left join consumption_by_month
        on
            account_months.account_id = consumption_by_month.account_id
            and account_months.month_start = consumption_by_month.consumed_month
),

lot_month_due as (
    -- the due month of each calendar month's lots (expiry horizon is effective-dated)
    select
        running_totals.account_id,
        running_totals.month as lot_month,
        running_totals.lots_through_month,
        cast({{ dbt.dateadd('month', 'program_rules.value', 'running_totals.month') }} as date) as due_month
    from running_totals
    inner join program_rules
        on
            {{ is_effective('program_rules', 'running_totals.month') }}
),

cumulated as (
    select
        due.account_id,
        due.month as due_month,
        lot_month_due.lots_through_month as lots_through_lot_month,
        due.consumed_through_month as consumed_through_due_month
    from running_totals as due
    inner join lot_month_due
        on
            due.account_id = lot_month_due.account_id
            and due.month = lot_month_due.due_month
),

expired_so_far as (
    select
        cumulated.*,
        greatest(
            0,
            max(cumulated.lots_through_lot_month - cumulated.consumed_through_due_month) over (
                partition by cumulated.account_id
                order by cumulated.due_month
                rows between unbounded preceding and current row
            )
        ) as expired_through_due_month
    from cumulated
),

final as (
    select
        account_id,
        due_month,
        cast(lots_through_lot_month as bigint) as lots_through_lot_month,
        cast(consumed_through_due_month as bigint) as consumed_through_due_month,
        cast(expired_through_due_month as bigint) as expired_through_due_month,
        cast(
            expired_through_due_month
            - coalesce(lag(expired_through_due_month) over (partition by account_id order by due_month), 0)
            as bigint
        ) as expected_expiry_points
    from expired_so_far
)

select * from final
