-- Invariant: every incentive rule judges a metric and aggregation the program knows. A rule
-- naming an unknown metric (a typo in seeds/incentive_rules.csv) would never find a value and
-- silently pass or fail every store by its not_applicable_policy. The program knows the metrics
-- of seeds/incentive_metrics.csv (those it computes from orders and the operations metrics the
-- contract ships) and any metric int_store_metrics_monthly ever produced (an operations metric
-- the feed added). A known metric without data this month (a landing without store operations)
-- is not a typo and does not warn. Warns; failing rows (findings.<this test>): the rules whose
-- metric/aggregation is neither.
{{ config(
    tags=['incentives'], severity='warn', store_failures=true, schema='findings',
    meta={'dagster': {'ref': {'name': 'incentive_rules'}}, 'runbook': 'unknown-incentive-metric'}
) }}

with

rules as (
    select * from {{ ref('incentive_rules') }}
),

program_metrics as (
    select * from {{ ref('incentive_metrics') }}
),

computed_metrics as (
    select * from {{ ref('int_store_metrics_monthly') }}
),

known_metrics as (
    select
        metric,
        aggregation
    from program_metrics
    union
    select distinct
        metric,
        aggregation
    from computed_metrics
),

final as (
    select
        rules.rule_id,
        rules.effective_from,
        rules.metric,
        rules.aggregation
    from rules
    left join known_metrics
        on
            rules.metric = known_metrics.metric
            and rules.aggregation = known_metrics.aggregation
    where known_metrics.metric is null
)

select * from final
