-- Invariant: every incentive rule judges a metric and aggregation the warehouse computes. A
-- rule naming an unknown metric (a typo in seeds/incentive_rules.csv) would never find a value
-- and silently pass or fail every store by its not_applicable_policy. Warns, because a metric
-- can also be absent only because no store recorded it yet. Failing rows: the rules whose
-- metric/aggregation int_store_metrics_monthly never produced.
{{ config(tags=['incentives'], severity='warn', meta={'dagster': {'ref': {'name': 'incentive_rules'}}}) }}

with

rules as (
    select * from {{ ref('incentive_rules') }}
),

metrics as (
    select distinct
        metric,
        aggregation
    from {{ ref('int_store_metrics_monthly') }}
)

select
    rules.rule_id,
    rules.metric,
    rules.aggregation
from rules
left join metrics
    on
        rules.metric = metrics.metric
        and rules.aggregation = metrics.aggregation
where metrics.metric is null
