-- One row per member and tier validity interval (account_id, valid_from): the tier in effect
-- from valid_from (inclusive) to valid_to (exclusive; null = current). The enrolment month
-- starts at the lowest tier (change = initial); each month-end evaluation takes effect the
-- next month, and consecutive months in the same tier form one interval.

with

members as (
    select * from {{ ref('stg_loyalty__members') }}
),

evaluations as (
    select * from {{ ref('int_member_tier_evaluations') }}
),

tiers as (
    select * from {{ ref('program_tiers') }}
),

lowest_tier as (
    select
        tier,
        tier_rank,
        effective_from,
        effective_to
    from tiers
    where min_qualifying_points = 0
),

initial_months as (
    select
        members.account_id,
        {{ month_start('members.enrolled_at') }} as effective_month,
        cast(0 as bigint) as qualifying_points,
        lowest_tier.tier,
        lowest_tier.tier_rank
    from members
    inner join lowest_tier
        on
            {{ is_effective('lowest_tier', month_start('members.enrolled_at')) }}
),

monthly_tiers as (
    select
        account_id,
        effective_month,
        qualifying_points,
        tier,
        tier_rank
    from initial_months
    union all
    select
        account_id,
        effective_month,
        qualifying_points,
        tier,
        tier_rank
    from evaluations
),

changes_flagged as (
    select
        monthly_tiers.*,
        lag(monthly_tiers.tier_rank) over (
            partition by monthly_tiers.account_id order by monthly_tiers.effective_month
        ) as previous_tier_rank,
        case
            when
                lag(monthly_tiers.tier) over (
                    partition by monthly_tiers.account_id order by monthly_tiers.effective_month
                ) = monthly_tiers.tier
                then 0
            else 1
        end as is_new_interval
    from monthly_tiers
),

intervals_numbered as (
    select
        changes_flagged.*,
        sum(changes_flagged.is_new_interval) over (
            partition by changes_flagged.account_id
            order by changes_flagged.effective_month
            rows between unbounded preceding and current row
        ) as interval_number
    from changes_flagged
),

intervals as (
    select
        account_id,
        interval_number,
        min(effective_month) as valid_from
    from intervals_numbered
    group by account_id, interval_number
),

interval_starts as (
    select
        intervals_numbered.account_id,
        intervals_numbered.tier,
        intervals_numbered.tier_rank,
        intervals_numbered.qualifying_points,
        intervals_numbered.previous_tier_rank,
        intervals.valid_from,
        lead(intervals.valid_from) over (
            partition by intervals.account_id order by intervals.valid_from
        ) as valid_to
    from intervals
    inner join intervals_numbered
        on
            intervals.account_id = intervals_numbered.account_id
            and intervals.valid_from = intervals_numbered.effective_month
),

final as (
    select
        account_id,
        tier,
        tier_rank,
        qualifying_points,
        valid_from,
        valid_to,
        case
            when previous_tier_rank is null then 'initial'
            when tier_rank > previous_tier_rank then 'upgrade'
            else 'downgrade'
        end as change
    from interval_starts
)

select * from final
