-- One row per month and tier (month, tier): members holding the tier that month, and how
-- many moved into it by upgrade or downgrade (or started in it) at the start of the month.

with

member_tiers as (
    select * from {{ ref('dim_member_tiers') }}
),

months as (
    select * from {{ ref('int_liability_months') }}
),

tiers as (
    select distinct
        tier,
        tier_rank
    from {{ ref('program_tiers') }}
),

holdings as (
    select
        months.month,
        member_tiers.tier,
        member_tiers.account_id,
        member_tiers.valid_from,
        member_tiers.change
    from months
    inner join member_tiers
        on
            months.month >= member_tiers.valid_from
            and (member_tiers.valid_to is null or months.month < member_tiers.valid_to)
),

counted as (
    select
        month,
        tier,
        count(*) as members,
        sum(case when valid_from = month and change = 'upgrade' then 1 else 0 end) as upgraded_into,
        sum(case when valid_from = month and change = 'downgrade' then 1 else 0 end) as downgraded_into,
        sum(case when valid_from = month and change = 'initial' then 1 else 0 end) as enrolled_into
    from holdings
    group by month, tier
),

final as (
    select
        months.month,
        tiers.tier,
        tiers.tier_rank,
        cast(coalesce(counted.members, 0) as bigint) as members,
        cast(coalesce(counted.upgraded_into, 0) as bigint) as upgraded_into,
        cast(coalesce(counted.downgraded_into, 0) as bigint) as downgraded_into,
        cast(coalesce(counted.enrolled_into, 0) as bigint) as enrolled_into
    from months
    cross join tiers
    left join counted
        on
            months.month = counted.month
            and tiers.tier = counted.tier
)

select * from final
