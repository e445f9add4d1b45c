-- One row per member order (order_id; guest orders have no account to earn): the points the
-- order's latest state should have earned against what the ledger posted for it
-- (docs/program.md#earn, docs/program.md#accrual-status). Expected: completed orders earn
-- floor(floor(net_amount) x points_per_unit
-- x the tier multiplier in effect on the order date); every other state nets to 0.
-- Posted: earn and reverse events of the order (a reverse counts for the order of the event
-- it reverses when it names no order itself).

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

order_events as (
    select
        coalesce(ledger_events.order_id, reversed.order_id) as order_id,
        ledger_events.event_type,
        ledger_events.points
    from ledger_events
    left join ledger_events as reversed
        on ledger_events.reverses_event_id = reversed.event_id
    where
        ledger_events.event_type in ('earn', 'reverse')
        and coalesce(ledger_events.order_id, reversed.order_id) is not null
),

posted as (
    select
        order_id,
        cast(sum(case when event_type = 'earn' then 1 else 0 end) as bigint) as earn_events,
        cast(sum(case when event_type = 'reverse' then 1 else 0 end) as bigint) as reverse_events,
        cast(sum(case when event_type = 'earn' then points else 0 end) as bigint) as earned_points,
        cast(sum(case when event_type = 'reverse' then points else 0 end) as bigint) as reversed_points,
        cast(sum(points) as bigint) as posted_points
    from order_events
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
        case
            when expected.order_status = 'completed' and coalesce(posted.earn_events, 0) = 0 then 'missing_earn'
            when expected.order_status = 'completed' and posted.earn_events > 1 then 'duplicate_earn'
            when expected.order_status = 'completed' and posted.posted_points <> expected.expected_points
                then 'amount_mismatch'
            when
                expected.order_status in ('cancelled', 'returned')
                and coalesce(posted.earn_events, 0) > 0
                and posted.posted_points <> 0
                then 'unreversed_cancellation'
            when expected.order_status = 'placed' and coalesce(posted.earn_events, 0) > 0 and posted.posted_points <> 0
                then 'earn_on_open_order'
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
                    || ' points (' || classified.tier_on_order_date || ' tier on the order date); no earn was posted.'
            when 'duplicate_earn'
                then
                    cast(classified.earn_events as {{ dbt.type_string() }})
                    || ' earn events were posted for one order ('
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
