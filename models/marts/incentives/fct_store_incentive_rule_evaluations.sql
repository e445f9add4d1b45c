{#- append-only: a run inserts new keys only; undo_logged records them, so a refresh that does
    not publish takes its rows back out (docs/operations.md#rollback) -#}
{{ config(
    materialized='incremental',
    incremental_strategy='undo_logged',
    unique_key=['store_id', 'period_month', 'rule_id', 'evaluated_at'],
    full_refresh=false,
) }}
-- Append-only history of the rule results behind each recorded evaluation: one row per store,
-- month, rule and evaluation (store_id, period_month, rule_id, evaluated_at), so a restatement
-- can say which rules and metrics changed since the month was published. A run records the
-- current rule results (fct_store_incentive_rule_results) under the evaluated_at of the
-- store-month's latest evaluation in fct_store_incentive_evaluations when that evaluation is
-- the current one and its rules are not recorded yet (also repairing a run that recorded the
-- evaluation but failed before its rules). Never updated or deleted; full_refresh is off.

with

evaluations as (
    select * from {{ ref('fct_store_incentive_evaluations') }}
),

eligibility as (
    select * from {{ ref('fct_store_incentive_eligibility') }}
),

rule_results as (
    select * from {{ ref('fct_store_incentive_rule_results') }}
),

evaluations_ranked as (
    select
        store_id,
        period_month,
        evaluation_hash,
        evaluated_at,
        row_number() over (partition by store_id, period_month order by evaluated_at desc) as recency
    from evaluations
),

current_evaluations as (
    select evaluations_ranked.*
    from evaluations_ranked
    inner join eligibility
        on
            evaluations_ranked.store_id = eligibility.store_id
            and evaluations_ranked.period_month = eligibility.period_month
            and evaluations_ranked.evaluation_hash = eligibility.evaluation_hash
    where evaluations_ranked.recency = 1
),

{% if is_incremental() %}
recorded as (
    select distinct
        store_id,
        period_month,
        evaluated_at
    from {{ this }}
),
{% endif %}

to_record as (
    select current_evaluations.*
    from current_evaluations
    {%- if is_incremental() %}
    left join recorded
        on
            current_evaluations.store_id = recorded.store_id
            and current_evaluations.period_month = recorded.period_month
            and current_evaluations.evaluated_at = recorded.evaluated_at
    where recorded.store_id is null
    {%- endif %}
),

final as (
    select
        rule_results.store_id,
        rule_results.period_month,
        rule_results.rule_id,
        rule_results.metric,
        rule_results.aggregation,
        rule_results.comparator,
        rule_results.threshold_source,
        rule_results.actual,
        rule_results.threshold,
        rule_results.passed,
        rule_results.not_applicable,
        rule_results.explanation,
        to_record.evaluation_hash,
        to_record.evaluated_at
    from to_record
    inner join rule_results
        on
            to_record.store_id = rule_results.store_id
            and to_record.period_month = rule_results.period_month
)

select * from final
