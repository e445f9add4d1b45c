-- One row per store incentive month that is published now (period_month): its latest action is
-- a publish, and it is published as of that action. A month whose latest action is a reopen
-- (or that was never published) has no row. On equal acted_at a reopen counts as the later.

with

actions as (
    select * from {{ ref('stg_control__incentive_period_actions') }}
),

actions_ranked as (
    select
        period_month,
        action,
        acted_at,
        acted_by,
        note,
        row_number() over (
            partition by period_month
            order by acted_at desc, case when action = 'reopen' then 0 else 1 end
        ) as recency
    from actions
),

final as (
    select
        period_month,
        acted_at as published_at,
        acted_by as published_by,
        note as publish_note
    from actions_ranked
    where recency = 1 and action = 'publish'
)

select * from final
