-- One row per account and month in which points were due to expire or an expiry was posted
-- (account_id, due_month): the FIFO expiry the warehouse recomputes (int_points_expiry_expected)
-- against the expire events the ledger holds for that month (by occurred_at). Expiry happens
-- at the end of the month M + 18 for points earned in M, so the points expiring in due_month
-- belong to lot month due_month - 18. Due months run through the last month that has ended by
-- the warehouse's as-of (int_warehouse_as_of): an expiry posted in a later month is not
-- compared until that month ends.

with

expected as (
    select * from {{ ref('int_points_expiry_expected') }}
),

lots as (
    select * from {{ ref('int_points_lots') }}
),

ledger_events as (
    select * from {{ ref('stg_loyalty__ledger_events') }}
),

warehouse_as_of as (
    select * from {{ ref('int_warehouse_as_of') }}
),

posted as (
    select
        account_id,
        {{ month_start('occurred_at') }} as due_month,
        cast(-sum(points) as bigint) as posted_expiry_points,
        cast(count(*) as bigint) as expire_events,
        min(event_id) as first_expire_event_id
    from ledger_events
    where
        event_type = 'expire'
        and {{ month_start('occurred_at') }} <= (select warehouse_as_of.last_ended_month from warehouse_as_of)
    group by account_id, {{ month_start('occurred_at') }}
),

lots_by_due_month as (
    select
        account_id,
        due_month,
        min(lot_month) as lot_month,
        cast(sum(lot_points) as bigint) as lot_points
    from lots
    group by account_id, due_month
),

compared as (
    select
        coalesce(expected.account_id, posted.account_id) as account_id,
        coalesce(expected.due_month, posted.due_month) as due_month,
        coalesce(expected.expected_expiry_points, 0) as expected_expiry_points,
        coalesce(posted.posted_expiry_points, 0) as posted_expiry_points,
        coalesce(posted.expire_events, 0) as expire_events,
        posted.first_expire_event_id
    from expected
    full outer join posted
        on
            expected.account_id = posted.account_id
            and expected.due_month = posted.due_month
    where coalesce(expected.expected_expiry_points, 0) <> 0 or coalesce(posted.posted_expiry_points, 0) <> 0
),

final as (
    select
        compared.account_id,
        compared.due_month,
        lots_by_due_month.lot_month,
        coalesce(lots_by_due_month.lot_points, 0) as lot_points,
        compared.expected_expiry_points,
        compared.posted_expiry_points,
        compared.posted_expiry_points - compared.expected_expiry_points as expiry_difference,
        compared.expire_events,
        compared.first_expire_event_id,
        case
            when compared.posted_expiry_points = compared.expected_expiry_points then 'ok'
            when compared.posted_expiry_points < compared.expected_expiry_points then 'under_expired'
            when compared.expected_expiry_points > 0 then 'over_expired'
            when coalesce(lots_by_due_month.lot_points, 0) > 0 then 'expired_but_spent'
            else 'expired_early'
        end as expiry_status
    from compared
    left join lots_by_due_month
        on
            compared.account_id = lots_by_due_month.account_id
            and compared.due_month = lots_by_due_month.due_month
)

select * from final
