-- One row per member order (order_id; guest orders have no account to earn): the points the
-- order's latest state should have earned against what the ledger posted for it
-- (docs/program.md#earn, docs/program.md#accrual-status). Expected: completed orders earn
-- floor(floor(net_amount) x points_per_unit
-- x the tier multiplier in effect on the order date); every other state nets to 0.
-- Posted (net): the order's earn events plus the reverse events that reverse those earns,
-- whatever order the reverse names; a reverse of anything else (a redemption at checkout, a
-- correction) is not the order's accrual. An earn is unreversed while it and its reversals do
-- not net to 0. Statuses on net posted points, first that fits (docs/program.md#accrual-status).

with

orders as (
    select * from {{ ref('stg_commerce__orders') }}
    where account_id is not null
),

ledger_events as (
    select * from {{ ref('stg_loyalty__ledger_events') }}
),

member_tiers as (
    select * from {{ ref('dim_member_tiers') }}
),

earn_rules as (
    select * from {{ ref('program_earn_rules') }}
),

tiers as (
    select * from {{ ref('program_tiers') }}
),

order_earns as (
    select
        event_id as earn_event_id,
        order_id,
        points as earned_points
    from ledger_events
    where event_type = 'earn' and order_id is not null
),

earn_reversals as (
    select
        reverses_event_id as earn_event_id,
        cast(count(*) as bigint) as reverse_events,
        sum(points) as reversed_points
    from ledger_events
    where event_type = 'reverse' and reverses_event_id is not null
    group by reverses_event_id
),

earns_netted as (
    select
        order_earns.order_id,
        order_earns.earned_points,
        coalesce(earn_reversals.reverse_events, 0) as reverse_events,
        coalesce(earn_reversals.reversed_points, 0) as reversed_points,
        order_earns.earned_points + coalesce(earn_reversals.reversed_points, 0) as net_points
    from order_earns
    left join earn_reversals
        on order_earns.earn_event_id = earn_reversals.earn_event_id
),

posted as (
    select
        order_id,
        cast(count(*) as bigint) as earn_events,
        cast(sum(reverse_events) as bigint) as reverse_events,
        cast(sum(case when net_points <> 0 then 1 else 0 end) as bigint) as unreversed_earn_events,
        cast(sum(net_points) as bigint) as posted_points
    from earns_netted
    group by order_id
),

orders_tiered as (
    select
        orders.*,
        coalesce(member_tiers.tier, lowest_tier.tier) as tier_on_order_date,
        coalesce(tiers.earn_multiplier, lowest_tier.earn_multiplier) as earn_multiplier,
        earn_rules.points_per_unit
    from orders
    left join member_tiers
        on
            orders.account_id = member_tiers.account_id
            and cast(orders.ordered_at as date) >= member_tiers.valid_from
            and (member_tiers.valid_to is null or cast(orders.ordered_at as date) < member_tiers.valid_to)
    left join tiers
        on
            member_tiers.tier = tiers.tier
            and {{ is_effective('tiers', 'cast(orders.ordered_at as date)') }}
    left join tiers as lowest_tier
        on
            lowest_tier.min_qualifying_points = 0
            and {{ is_effective('lowest_tier', 'cast(orders.ordered_at as date)') }}
    left join earn_rules
        on
            orders.currency = earn_rules.currency
            and {{ is_effective('earn_rules', 'cast(orders.ordered_at as date)') }}
),

expected as (
    select
        orders_tiered.*,
        case
            when orders_tiered.order_status = 'completed'
                then cast(floor(
                    floor(orders_tiered.net_amount)
                    * coalesce(orders_tiered.points_per_unit, 0)
                    * orders_tiered.earn_multiplier
                ) as bigint)
            else cast(0 as bigint)
        end as expected_points
    from orders_tiered
),

classified as (
    select
        expected.order_id,
        expected.account_id,
        expected.store_id,
        expected.order_status,
        expected.currency,
        expected.net_amount,
        expected.ordered_at,
        expected.tier_on_order_date,
        expected.earn_multiplier,
        expected.expected_points,
        coalesce(posted.posted_points, 0) as posted_points,
        coalesce(posted.earn_events, 0) as earn_events,
        coalesce(posted.reverse_events, 0) as reverse_events,
        coalesce(posted.unreversed_earn_events, 0) as unreversed_earn_events,
        case
            when expected.order_status = 'placed' and coalesce(posted.posted_points, 0) <> 0
                then 'earn_on_open_order'
            when expected.order_status in ('cancelled', 'returned') and coalesce(posted.posted_points, 0) <> 0
                then 'unreversed_cancellation'
            when
                expected.order_status = 'completed'
                and expected.expected_points > 0
                and coalesce(posted.posted_points, 0) = 0
                then 'missing_earn'
            when expected.order_status = 'completed' and coalesce(posted.unreversed_earn_events, 0) > 1
                then 'duplicate_earn'
            when expected.order_status = 'completed' and coalesce(posted.posted_points, 0) <> expected.expected_points
                then 'amount_mismatch'
            else 'ok'
        end as accrual_status
    from expected
    left join posted
        on expected.order_id = posted.order_id
),

final as (
    select
        classified.*,
        case classified.accrual_status
            when 'ok' then 'Posted points match the order''s state.'
            when 'missing_earn'
                then
                    'Completed order should have earned ' || cast(classified.expected_points as {{ dbt.type_string() }})
                    || ' points (' || classified.tier_on_order_date || ' tier on the order date); '
                    || case
                        when classified.earn_events = 0 then 'no earn was posted.'
                        else 'its earn was reversed and not posted again.'
                    end
            when 'duplicate_earn'
                then
                    cast(classified.unreversed_earn_events as {{ dbt.type_string() }})
                    || ' unreversed earn events were posted for one order ('
                    || cast(classified.posted_points as {{ dbt.type_string() }}) || ' points against '
                    || cast(classified.expected_points as {{ dbt.type_string() }}) || ' expected).'
            when 'amount_mismatch'
                then
                    'Posted ' || cast(classified.posted_points as {{ dbt.type_string() }}) || ' points, expected '
                    || cast(classified.expected_points as {{ dbt.type_string() }}) || ' (floor(net_amount) x '
                    || cast(classified.earn_multiplier as {{ dbt.type_string() }})
                    || ', '
                    || classified.tier_on_order_date
                    || ' tier).'
            when 'unreversed_cancellation'
                then
                    'Order is '
                    || classified.order_status
                    || ' but '
                    || cast(classified.posted_points as {{ dbt.type_string() }})
                    || ' earned points were never reversed.'
            when 'earn_on_open_order'
                then
                    'Order is still placed (not completed) but '
                    || cast(classified.posted_points as {{ dbt.type_string() }})
                    || ' points were earned on it.'
        end as explanation
    from classified
)

select * from final
