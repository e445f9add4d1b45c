-- One row per store, month and incentive rule in effect that month (store_id, period_month,
-- rule_id): the metric's actual value, the threshold (fixed, or the month's target), whether
-- the rule passed and a sentence a store manager can read (docs/program.md#store-incentives,
-- docs/marts.md#fct_store_incentive_rule_results). Rules come from
-- seeds/incentive_rules.csv: a rule applies to the months from effective_from (inclusive) to
-- effective_to (exclusive). Without an actual value or a threshold the rule is not
-- applicable and its not_applicable_policy decides: no audit passes, no target fails.

with

store_months as (
    select * from {{ ref('int_store_months_open') }}
),

metrics as (
    select * from {{ ref('int_store_metrics_monthly') }}
),

targets as (
    select * from {{ ref('stg_commerce__store_targets') }}
),

rules as (
    select * from {{ ref('incentive_rules') }}
),

rules_in_effect as (
    select
        store_months.store_id,
        store_months.period_month,
        rules.rule_id,
        rules.metric,
        rules.aggregation,
        rules.comparator,
        rules.threshold_source,
        rules.threshold as fixed_threshold,
        rules.target_metric,
        rules.not_applicable_policy
    from store_months
    inner join rules
        on
            {{ is_effective('rules', 'store_months.period_month') }}
),

measured as (
    select
        rules_in_effect.*,
        metrics.metric_value as actual,
        metrics.observations,
        case
            when rules_in_effect.threshold_source = 'target' then targets.target_value
            else rules_in_effect.fixed_threshold
        end as threshold
    from rules_in_effect
    left join metrics
        on
            rules_in_effect.store_id = metrics.store_id
            and rules_in_effect.period_month = metrics.period_month
            and rules_in_effect.metric = metrics.metric
            and rules_in_effect.aggregation = metrics.aggregation
    left join targets
        on
            rules_in_effect.threshold_source = 'target'
            and rules_in_effect.store_id = targets.store_id
            and rules_in_effect.period_month = targets.period_month
            and rules_in_effect.target_metric = targets.metric
),

judged as (
    select
        measured.*,
        (measured.actual is null or measured.threshold is null) as not_applicable,
        case
            when measured.actual is null or measured.threshold is null
                then measured.not_applicable_policy = 'pass'
            else {{ incentive_comparison('measured.actual', 'measured.comparator', 'measured.threshold') }}
        end as passed,
        case
            when measured.aggregation in ('min', 'max') then measured.aggregation || ' ' || measured.metric
            else measured.metric
        end as metric_label
    from measured
),

explained as (
    select
        judged.*,
        case
            when judged.actual is null
                then
                    'no ' || judged.metric_label || ' this month ('
                    || case when judged.passed then 'not applicable, counts as passed' else 'counts as failed' end
                    || ')'
            when judged.threshold is null
                then
                    'no ' || judged.target_metric || ' target for the month ('
                    || case when judged.passed then 'not applicable, counts as passed' else 'counts as failed' end
                    || ')'
            else
                judged.metric_label || ' ' || {{ format_incentive_number('judged.actual') }}
                || ' '
                || case
                    when judged.passed then judged.comparator
                    else {{ incentive_failed_comparator('judged.comparator') }}
                end
                || ' ' || case when judged.threshold_source = 'target' then 'target ' else '' end
                || {{ format_incentive_number('judged.threshold') }}
        end as explanation
    from judged
),

final as (
    select
        cast(store_id as {{ dbt.type_string() }}) as store_id,
        cast(period_month as date) as period_month,
        cast(rule_id as {{ dbt.type_string() }}) as rule_id,
        cast(metric as {{ dbt.type_string() }}) as metric,
        cast(aggregation as {{ dbt.type_string() }}) as aggregation,
        cast(comparator as {{ dbt.type_string() }}) as comparator,
        cast(threshold_source as {{ dbt.type_string() }}) as threshold_source,
        cast(actual as decimal(18, 6)) as actual,
        cast(threshold as decimal(18, 6)) as threshold,
        cast(passed as boolean) as passed,
        cast(not_applicable as boolean) as not_applicable,
        cast(not_applicable_policy as {{ dbt.type_string() }}) as not_applicable_policy,
        cast(observations as bigint) as observations,
        cast(explanation as {{ dbt.type_string() }}) as explanation
    from explained
)

select * from final
