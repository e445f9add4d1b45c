-- One row per member order (order_id): the accrual reconciliation of
-- fct_order_accrual_reconciliation (docs/program.md#earn, docs/program.md#accrual-status), kept
-- incrementally. Expected: completed orders earn floor(floor(net_amount) x points_per_unit x
-- the tier multiplier in effect on the order date); every other state nets to 0. Posted (net):
-- the order's earn events plus the reverse events that reverse those earns, whatever order the
-- reverse names; a reverse of anything else (a redemption at checkout, a correction) is not the
-- order's accrual. An earn is unreversed while it and its reversals do not net to 0. Statuses
-- on net posted points, first that fits (docs/program.md#accrual-status).
--
-- tier_evaluation_month: the month end whose tier evaluation (int_member_tier_evaluations) is in
-- effect on the order date — the month before the order's, or the last month ended by the
-- as-of when that is earlier (before the member's first evaluation the tier is the lowest).
--
-- Incremental by order (docs/operations.md#incremental-refresh): an order's row reads the order,
-- its earn events and their reversals, its member and one tier evaluation. A refresh computes
-- again the orders staging (re)classified since this model's last run; the orders of changed
-- ledger events (where an earn or a reverse points now or pointed before); every order of a
-- changed member; the orders whose tier evaluation was evaluated again (tier_evaluation_month);
-- and the orders whose tier_evaluation_month moved with the as-of. Each of them also gets a
-- key-only row (_classified_through null), so an order that no longer accrues (gone, or now a
-- guest order) loses its row.

-- depends_on: {{ ref('int_member_tier_evaluations') }}

{{ config(
    materialized='incremental',
    incremental_strategy='undo_logged',
    unique_key='order_id',
    meta={'undo_logged_key_only_rows': '_classified_through is null'},
) }}

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

warehouse_as_of as (
    select * from {{ ref('int_warehouse_as_of') }}
),

base_orders as (
    select * from {{ ref('base_commerce__orders') }}
),

base_ledger_events as (
    select * from {{ ref('base_loyalty__ledger_events') }}
),

base_members as (
    select * from {{ ref('base_loyalty__members') }}
),

{%- if is_incremental() %}

tier_evaluations as (
    select * from {{ ref('int_member_tier_evaluations') }}
),

previous as (
    select * from {{ this }}
),

changed_orders as (
    {{ changed_keys('base_orders', 'order_id') }}
),

changed_events as (
    {{ changed_keys('base_ledger_events', 'event_id') }}
),

changed_members as (
    {{ changed_keys('base_members', 'account_id') }}
),

changed_event_deliveries as (
    -- every delivery of a changed event: where it points now and where it pointed before
    select
        base_ledger_events.order_id,
        base_ledger_events.reverses_event_id
    from base_ledger_events
    inner join changed_events
        on base_ledger_events.event_id = changed_events.event_id
),

orders_in_scope as (
    select changed_orders.order_id
    from changed_orders
    union
    select changed_event_deliveries.order_id
    from changed_event_deliveries
    where changed_event_deliveries.order_id is not null
    union
    -- the order of an earn a changed reverse reverses
    select ledger_events.order_id
    from ledger_events
    inner join changed_event_deliveries
        on ledger_events.event_id = changed_event_deliveries.reverses_event_id
    where ledger_events.order_id is not null
    union
    select orders.order_id
    from orders
    inner join changed_members
        on orders.account_id = changed_members.account_id
    union
    -- one pass over the accrued orders: their tier evaluation was evaluated again since this
    -- model's last run, or their tier evaluation month moved with the as-of
    select previous.order_id
    from previous
    cross join warehouse_as_of
    left join tier_evaluations
        on
            previous.account_id = tier_evaluations.account_id
            and previous.tier_evaluation_month = tier_evaluations.evaluation_month
            and tier_evaluations._classified_through > {{ classification_watermark() }}
    where
        tier_evaluations.account_id is not null
        or previous.tier_evaluation_month <> {{ tier_evaluation_month('previous.ordered_at', 'warehouse_as_of') }}
),
{%- endif %}

orders_to_accrue as (
    -- a full build: every member order; an incremental one: the orders in scope
    select orders.*
    from orders
    {%- if is_incremental() %}
    where orders.order_id in (select orders_in_scope.order_id from orders_in_scope)
    {%- endif %}
),

{#- an incremental build reads the earns of the orders it accrues and their reversals -#}
{%- set earns_of_those_orders = 'order_id in (select orders_to_accrue.order_id from orders_to_accrue)' %}
{%- set reversals_of_those_earns = 'reverses_event_id in (select order_earns.earn_event_id from order_earns)' %}

order_earns as (
    select
        event_id as earn_event_id,
        order_id,
        points as earned_points
    from ledger_events
    where
        event_type = 'earn' and order_id is not null
        and {{ earns_of_those_orders if is_incremental() else 'true' }}
),

earn_reversals as (
    select
        reverses_event_id as earn_event_id,
        cast(count(*) as bigint) as reverse_events,
        sum(points) as reversed_points
    from ledger_events
    where
        event_type = 'reverse' and reverses_event_id is not null
        and {{ reversals_of_those_earns if is_incremental() else 'true' }}
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
        earn_rules.points_per_unit,
        {{ tier_evaluation_month('orders.ordered_at', 'warehouse_as_of') }} as tier_evaluation_month
    from orders_to_accrue as orders
    cross join warehouse_as_of
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

statuses as (
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
        expected.tier_evaluation_month,
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
        statuses.*,
        case statuses.accrual_status
            when 'ok' then 'Posted points match the order''s state.'
            when 'missing_earn'
                then
                    'Completed order should have earned ' || cast(statuses.expected_points as {{ dbt.type_string() }})
                    || ' points (' || statuses.tier_on_order_date || ' tier on the order date); '
                    || case
                        when statuses.earn_events = 0 then 'no earn was posted.'
                        else 'its earn was reversed and not posted again.'
                    end
            when 'duplicate_earn'
                then
                    cast(statuses.unreversed_earn_events as {{ dbt.type_string() }})
                    || ' unreversed earn events were posted for one order ('
                    || cast(statuses.posted_points as {{ dbt.type_string() }}) || ' points against '
                    || cast(statuses.expected_points as {{ dbt.type_string() }}) || ' expected).'
            when 'amount_mismatch'
                then
                    'Posted ' || cast(statuses.posted_points as {{ dbt.type_string() }}) || ' points, expected '
                    || cast(statuses.expected_points as {{ dbt.type_string() }}) || ' (floor(net_amount) x '
                    || cast(statuses.earn_multiplier as {{ dbt.type_string() }})
                    || ', '
                    || statuses.tier_on_order_date
                    || ' tier).'
            when 'unreversed_cancellation'
                then
                    'Order is '
                    || statuses.order_status
                    || ' but '
                    || cast(statuses.posted_points as {{ dbt.type_string() }})
                    || ' earned points were never reversed.'
            when 'earn_on_open_order'
                then
                    'Order is still placed (not completed) but '
                    || cast(statuses.posted_points as {{ dbt.type_string() }})
                    || ' points were earned on it.'
        end as explanation,
        {{ newest_classification(['base_orders', 'base_ledger_events', 'base_members']) }} as _classified_through
    from statuses
)

select * from final

{%- if is_incremental() %}
union all
-- key-only rows (see the top of this file)
select
    orders_in_scope.order_id,
    cast(null as {{ dbt.type_string() }}) as account_id,
    cast(null as {{ dbt.type_string() }}) as store_id,
    cast(null as {{ dbt.type_string() }}) as order_status,
    cast(null as {{ dbt.type_string() }}) as currency,
    cast(null as decimal(18, 2)) as net_amount,
    cast(null as timestamp) as ordered_at,
    cast(null as {{ dbt.type_string() }}) as tier_on_order_date,
    cast(null as decimal(6, 2)) as earn_multiplier,
    cast(null as bigint) as expected_points,
    cast(null as date) as tier_evaluation_month,
    cast(null as bigint) as posted_points,
    cast(null as bigint) as earn_events,
    cast(null as bigint) as reverse_events,
    cast(null as bigint) as unreversed_earn_events,
    cast(null as {{ dbt.type_string() }}) as accrual_status,
    cast(null as {{ dbt.type_string() }}) as explanation,
    cast(null as bigint) as _classified_through
from orders_in_scope
{%- endif %}
