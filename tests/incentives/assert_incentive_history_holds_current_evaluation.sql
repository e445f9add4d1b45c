-- Invariant: after a build, the latest recorded evaluation of every store-month is its current
-- evaluation, and its rule results are recorded. Otherwise the append-only history missed a
-- change, and a published month could be restated without anyone seeing it. Failing rows: the
-- store-months whose latest history row (or its rules) is missing or has another hash.
{{ config(tags=['integrity', 'incentives'], meta={'dagster': {'ref': {'name': 'fct_store_incentive_evaluations'}}}) }}

with

eligibility as (
    select * from {{ ref('fct_store_incentive_eligibility') }}
),

evaluations as (
    select * from {{ ref('fct_store_incentive_evaluations') }}
),

rule_evaluations as (
    select * from {{ ref('fct_store_incentive_rule_evaluations') }}
),

rule_results as (
    select * from {{ ref('fct_store_incentive_rule_results') }}
),

latest_evaluations as (
    select
        store_id,
        period_month,
        evaluation_hash,
        evaluated_at,
        row_number() over (partition by store_id, period_month order by evaluated_at desc) as recency
    from evaluations
),

rules_recorded as (
    select
        store_id,
        period_month,
        evaluated_at,
        count(*) as rules_recorded
    from rule_evaluations
    group by store_id, period_month, evaluated_at
),

rules_evaluated as (
    select
        store_id,
        period_month,
        count(*) as rules_evaluated
    from rule_results
    group by store_id, period_month
)

select
    eligibility.store_id,
    eligibility.period_month,
    eligibility.evaluation_hash as current_hash,
    latest_evaluations.evaluation_hash as recorded_hash,
    coalesce(rules_evaluated.rules_evaluated, 0) as rules_evaluated,
    coalesce(rules_recorded.rules_recorded, 0) as rules_recorded
from eligibility
left join latest_evaluations
    on
        eligibility.store_id = latest_evaluations.store_id
        and eligibility.period_month = latest_evaluations.period_month
        and latest_evaluations.recency = 1
left join rules_recorded
    on
        latest_evaluations.store_id = rules_recorded.store_id
        and latest_evaluations.period_month = rules_recorded.period_month
        and latest_evaluations.evaluated_at = rules_recorded.evaluated_at
left join rules_evaluated
    on
        eligibility.store_id = rules_evaluated.store_id
        and eligibility.period_month = rules_evaluated.period_month
where
    latest_evaluations.evaluation_hash is null
    or latest_evaluations.evaluation_hash <> eligibility.evaluation_hash
    or coalesce(rules_recorded.rules_recorded, 0) <> coalesce(rules_evaluated.rules_evaluated, 0)
