-- One row per member and month end, from the enrolment month to the last month that has ended
-- by the warehouse's as-of (int_warehouse_as_of; a member without events since is still
-- evaluated, and downgraded, up to it): qualifying points (earn + reverse with occurred_at in the window of
-- qualifying_window_days ending at the month end, half-open) and the tier they give, which
-- takes effect on the first day of the next month (docs/program.md#tiers; thresholds in
-- seeds/program_tiers.csv, window in seeds/program_rules.csv, both effective-dated).

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
        account_id,
        points,
        occurred_at
    from ledger_events
    where event_type in ('earn', 'reverse')
),

qualifying as (
    select
        evaluations.account_id,
        evaluations.evaluation_month,
        evaluations.effective_month,
        evaluations.month_end_date,
        cast(coalesce(sum(qualifying_events.points), 0) as bigint) as qualifying_points
    from evaluations
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
        earn_multiplier
    from tiered
    where tier_preference = 1
)

select * from final
