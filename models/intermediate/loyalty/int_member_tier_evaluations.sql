-- One row per member and month end, from the enrolment month to the last month that has ended
-- by the warehouse's as-of (int_warehouse_as_of; a member without events since is still
-- evaluated, and downgraded, up to it): qualifying points (earn events and the reverse events
-- that reverse an earn, with occurred_at in the window of qualifying_window_days ending at the
-- month end, half-open; a reversed redemption, expiry or correction neither earns nor un-earns)
-- and the tier they give, which
-- takes effect on the first day of the next month (docs/program.md#tiers; thresholds in
-- seeds/program_tiers.csv, window in seeds/program_rules.csv, both effective-dated).
--
-- Incremental by member and month (docs/operations.md#incremental-refresh): a refresh evaluates
-- again the months whose window holds (or held) an event staging (re)classified since this
-- model's last run, or an event that reverses one; every month of a member whose own row
-- changed; and every member's months after the last month evaluated (a new month end). A month
-- no longer in a member's range (the member is gone, the as-of moved back) loses its row (a
-- key-only row, _classified_through null).

{{ config(
    materialized='incremental',
    incremental_strategy='undo_logged',
    unique_key=['account_id', 'evaluation_month'],
    meta={'undo_logged_key_only_rows': '_classified_through is null'},
) }}

with

members as (
    select * from {{ ref('stg_loyalty__members') }}
),

ledger_events as (
    select * from {{ ref('stg_loyalty__ledger_events') }}
),

tiers as (
    select * from {{ ref('program_tiers') }}
),

program_rules as (
    select * from {{ ref('program_rules') }}
    where rule = 'qualifying_window_days'
),

warehouse_as_of as (
    select * from {{ ref('int_warehouse_as_of') }}
),

base_members as (
    select * from {{ ref('base_loyalty__members') }}
),

base_ledger_events as (
    select * from {{ ref('base_loyalty__ledger_events') }}
),

horizon as (
    select last_ended_month as last_month
    from warehouse_as_of
),

member_ranges as (
    select
        members.account_id,
        {{ month_start('members.enrolled_at') }} as first_month,
        horizon.last_month
    from members
    cross join horizon
    where {{ month_start('members.enrolled_at') }} <= horizon.last_month
),

member_months as (
    {{ month_series('member_ranges', 'member_ranges.first_month', 'member_ranges.last_month') }}
),

evaluations as (
    select
        member_months.account_id,
        member_months.month_start as evaluation_month,
        cast({{ dbt.dateadd('month', 1, 'member_months.month_start') }} as date) as effective_month,
        cast({{ dbt.dateadd('day', -1, dbt.dateadd('month', 1, 'member_months.month_start')) }} as date)
            as month_end_date,
        program_rules.value as window_days
    from member_months
    inner join program_rules
        on
            {{ is_effective(
                'program_rules', dbt.dateadd('day', -1, dbt.dateadd('month', 1, 'member_months.month_start'))
            ) }}
),

qualifying_events as (
    select
        ledger_events.account_id,
        ledger_events.points,
        ledger_events.occurred_at
    from ledger_events
    left join ledger_events as reversed
        on ledger_events.reverses_event_id = reversed.event_id
    where
        ledger_events.event_type = 'earn'
        or (ledger_events.event_type = 'reverse' and reversed.event_type = 'earn')
),

{%- if is_incremental() %}

previous_horizon as (
    select max(previous.evaluation_month) as last_month
    from {{ this }} as previous
),

changed_members as (
    {{ changed_keys('base_members', 'account_id') }}
),

changed_events as (
    {{ changed_keys('base_ledger_events', 'event_id') }}
),

changed_event_moments as (
    -- every delivery of a changed event (where it counts now or counted before) and the events
    -- that reverse one (an earn's reverse qualifies)
    select
        base_ledger_events.account_id,
        base_ledger_events.occurred_at
    from base_ledger_events
    inner join changed_events
        on base_ledger_events.event_id = changed_events.event_id
    where base_ledger_events.account_id is not null and base_ledger_events.occurred_at is not null
    union
    select
        ledger_events.account_id,
        ledger_events.occurred_at
    from ledger_events
    inner join changed_events
        on ledger_events.reverses_event_id = changed_events.event_id
),

months_with_changed_events as (
    select distinct
        evaluations.account_id,
        evaluations.evaluation_month
    from evaluations
    inner join changed_event_moments
        on
            evaluations.account_id = changed_event_moments.account_id
            and changed_event_moments.occurred_at < cast(evaluations.effective_month as timestamp)
            and changed_event_moments.occurred_at >= cast(
                {{ dbt.dateadd('day', '-evaluations.window_days', 'evaluations.effective_month') }} as timestamp
            )
),
{%- endif %}

evaluations_to_compute as (
    -- a full build: every member month; an incremental one: those described at the top
    select evaluations.*
    from evaluations
    {%- if is_incremental() %}
    cross join previous_horizon
    left join months_with_changed_events
        on
            evaluations.account_id = months_with_changed_events.account_id
            and evaluations.evaluation_month = months_with_changed_events.evaluation_month
    where
        previous_horizon.last_month is null
        or evaluations.evaluation_month > previous_horizon.last_month
        or evaluations.account_id in (select changed_members.account_id from changed_members)
        or months_with_changed_events.account_id is not null
    {%- endif %}
),

qualifying as (
    select
        evaluations.account_id,
        evaluations.evaluation_month,
        evaluations.effective_month,
        evaluations.month_end_date,
        cast(coalesce(sum(qualifying_events.points), 0) as bigint) as qualifying_points
    from evaluations_to_compute as evaluations
    left join qualifying_events
        on
            evaluations.account_id = qualifying_events.account_id
            and qualifying_events.occurred_at < cast(evaluations.effective_month as timestamp)
            and qualifying_events.occurred_at >= cast(
                {{ dbt.dateadd('day', '-evaluations.window_days', 'evaluations.effective_month') }} as timestamp
            )
    group by
        evaluations.account_id,
        evaluations.evaluation_month,
        evaluations.effective_month,
        evaluations.month_end_date
),

tiered as (
    select
        qualifying.*,
        tiers.tier,
        tiers.tier_rank,
        tiers.earn_multiplier,
        row_number() over (
            partition by qualifying.account_id, qualifying.evaluation_month
            order by tiers.tier_rank desc
        ) as tier_preference
    from qualifying
    inner join tiers
        on
            -- a reverse still in the window after its earn left it can make the sum negative:
            -- that is the lowest tier, not no tier
            greatest(qualifying.qualifying_points, 0) >= tiers.min_qualifying_points
            and {{ is_effective('tiers', 'qualifying.month_end_date') }}
),

final as (
    select
        account_id,
        evaluation_month,
        effective_month,
        qualifying_points,
        tier,
        tier_rank,
        earn_multiplier,
        {{ newest_classification(['base_members', 'base_ledger_events']) }} as _classified_through
    from tiered
    where tier_preference = 1
)

select * from final
{%- if is_incremental() %}
union all
-- key-only rows: months no longer in a member's range
select
    previous.account_id,
    previous.evaluation_month,
    cast(null as date) as effective_month,
    cast(null as bigint) as qualifying_points,
    cast(null as {{ dbt.type_string() }}) as tier,
    cast(null as integer) as tier_rank,
    cast(null as decimal(6, 2)) as earn_multiplier,
    cast(null as bigint) as _classified_through
from {{ this }} as previous
cross join horizon
left join member_months
    on
        previous.account_id = member_months.account_id
        and previous.evaluation_month = member_months.month_start
where
    member_months.account_id is null
    and (
        previous.evaluation_month > horizon.last_month
        or previous.account_id in (select changed_members.account_id from changed_members)
    )
{%- endif %}
