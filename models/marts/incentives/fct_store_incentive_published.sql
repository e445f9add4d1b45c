-- One row per store and published month (store_id, period_month): the evaluation as it was
-- published, i.e. the store-month's latest recorded evaluation at or before the month's latest
-- publish action, while no reopen followed it (docs/program.md#restatements: a published month is not silently
-- rewritten by late data; fct_store_incentive_restatements shows where the current evaluation
-- differs). A store-month first evaluated after the publish has no row here.

with

periods as (
    select * from {{ ref('int_incentive_periods_published') }}
),

evaluations as (
    select * from {{ ref('fct_store_incentive_evaluations') }}
),

evaluations_before_publish as (
    select
        evaluations.*,
        periods.published_at,
        periods.published_by,
        row_number() over (
            partition by evaluations.store_id, evaluations.period_month
            order by evaluations.evaluated_at desc
        ) as recency
    from evaluations
    inner join periods
        on
            evaluations.period_month = periods.period_month
            and evaluations.evaluated_at <= periods.published_at
),

final as (
    select
        store_id,
        period_month,
        eligible,
        rules_passed,
        rules_failed,
        is_open_whole_month,
        months_all_rules_passed_in_previous_3,
        reason,
        evaluation_hash,
        evaluated_at,
        published_at,
        published_by
    from evaluations_before_publish
    where recency = 1
)

select * from final
