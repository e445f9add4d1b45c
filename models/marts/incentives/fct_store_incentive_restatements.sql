-- One row per store and published month whose current evaluation differs from the published
-- one (store_id, period_month): a restatement (docs/program.md#restatements). The published result stays as it
-- was (fct_store_incentive_published); this says what it would be now, since when the
-- difference is known and why (which rules and metrics changed). A reopened month is not
-- published, so it has no rows until it is published again. Kinds: changed, added (evaluated
-- only after the publish), withdrawn (no longer evaluated, e.g. the store's dates changed).

with

periods as (
    select * from {{ ref('int_incentive_periods_published') }}
),

published as (
    select * from {{ ref('fct_store_incentive_published') }}
),

eligibility as (
    select * from {{ ref('fct_store_incentive_eligibility') }}
),

evaluations as (
    select * from {{ ref('fct_store_incentive_evaluations') }}
),

rule_results as (
    select * from {{ ref('fct_store_incentive_rule_results') }}
),

rule_evaluations as (
    select * from {{ ref('fct_store_incentive_rule_evaluations') }}
),

store_versions as (
    select * from {{ ref('dim_stores') }}
),

-- the store's dates as the warehouse knows them now: a closed_on re-delivered after the
-- publish is why a month stops being open the whole month
current_store_dates as (
    select
        store_id,
        'the store''s current data: opened_on ' || cast(opened_on as {{ dbt.type_string() }})
        || coalesce(', closed_on ' || cast(closed_on as {{ dbt.type_string() }}), '')
        || ', delivered in ' || source_file as store_dates
    from store_versions
    where is_current
),

current_of_published_months as (
    select
        eligibility.*,
        periods.published_at
    from eligibility
    inner join periods
        on eligibility.period_month = periods.period_month
),

compared as (
    select
        coalesce(published.store_id, current_evaluation.store_id) as store_id,
        coalesce(published.period_month, current_evaluation.period_month) as period_month,
        case
            when published.store_id is null then 'added'
            when current_evaluation.store_id is null then 'withdrawn'
            else 'changed'
        end as restatement_kind,
        coalesce(published.published_at, current_evaluation.published_at) as published_at,
        published.evaluated_at as published_evaluated_at,
        published.eligible as published_eligible,
        current_evaluation.eligible as current_eligible,
        published.reason as published_reason,
        current_evaluation.reason as current_reason,
        published.is_open_whole_month as published_is_open_whole_month,
        current_evaluation.is_open_whole_month as current_is_open_whole_month,
        published.months_all_rules_passed_in_previous_3 as published_previous_months_passed,
        current_evaluation.months_all_rules_passed_in_previous_3 as current_previous_months_passed
    from published
    full outer join current_of_published_months as current_evaluation
        on
            published.store_id = current_evaluation.store_id
            and published.period_month = current_evaluation.period_month
    where
        published.evaluation_hash is null
        or current_evaluation.evaluation_hash is null
        or published.evaluation_hash <> current_evaluation.evaluation_hash
),

first_evaluations_after_publish as (
    select
        evaluations.store_id,
        evaluations.period_month,
        min(evaluations.evaluated_at) as detected_at
    from evaluations
    inner join periods
        on
            evaluations.period_month = periods.period_month
            and evaluations.evaluated_at > periods.published_at
    group by evaluations.store_id, evaluations.period_month
),

published_rules as (
    select rule_evaluations.*
    from rule_evaluations
    inner join compared
        on
            rule_evaluations.store_id = compared.store_id
            and rule_evaluations.period_month = compared.period_month
            and rule_evaluations.evaluated_at = compared.published_evaluated_at
            and compared.restatement_kind = 'changed'
),

current_rules as (
    select rule_results.*
    from rule_results
    inner join compared
        on
            rule_results.store_id = compared.store_id
            and rule_results.period_month = compared.period_month
            and compared.restatement_kind = 'changed'
),

rule_changes as (
    select
        coalesce(published_rules.store_id, current_rules.store_id) as store_id,
        coalesce(published_rules.period_month, current_rules.period_month) as period_month,
        coalesce(published_rules.rule_id, current_rules.rule_id) as rule_id,
        coalesce(published_rules.rule_id, current_rules.rule_id) || ': '
        || coalesce(published_rules.explanation, 'not recorded') || ' -> '
        || coalesce(current_rules.explanation, 'not evaluated') as rule_change
    from published_rules
    full outer join current_rules
        on
            published_rules.store_id = current_rules.store_id
            and published_rules.period_month = current_rules.period_month
            and published_rules.rule_id = current_rules.rule_id
    where
        published_rules.rule_id is null
        or current_rules.rule_id is null
        or published_rules.passed <> current_rules.passed
        or published_rules.not_applicable <> current_rules.not_applicable
        or coalesce(published_rules.explanation, '') <> coalesce(current_rules.explanation, '')
),

rule_changes_by_store_month as (
    select
        store_id,
        period_month,
        {{ dbt.listagg('rule_change', "'; '", 'order by rule_id') }} as rule_changes
    from rule_changes
    group by store_id, period_month
),

explained as (
    select
        compared.*,
        first_evaluations_after_publish.detected_at,
        concat_ws(
            '; ',
            case compared.restatement_kind
                when 'added' then 'not yet evaluated when the month was published'
                when 'withdrawn'
                    then
                        'no longer evaluated: by the current store data it was not open that month'
                        || coalesce(' (' || current_store_dates.store_dates || ')', '')
            end,
            case
                when compared.published_is_open_whole_month <> compared.current_is_open_whole_month
                    then
                        'open the whole month: '
                        || case when compared.published_is_open_whole_month then 'yes' else 'no' end || ' -> '
                        || case when compared.current_is_open_whole_month then 'yes' else 'no' end
                        || coalesce(' (' || current_store_dates.store_dates || ')', '')
            end,
            case
                when compared.published_previous_months_passed <> compared.current_previous_months_passed
                    then
                        'previous months with all rules passed: '
                        || cast(compared.published_previous_months_passed as {{ dbt.type_string() }}) || ' -> '
                        || cast(compared.current_previous_months_passed as {{ dbt.type_string() }})
            end,
            rule_changes_by_store_month.rule_changes
        ) as why
    from compared
    left join first_evaluations_after_publish
        on
            compared.store_id = first_evaluations_after_publish.store_id
            and compared.period_month = first_evaluations_after_publish.period_month
    left join rule_changes_by_store_month
        on
            compared.store_id = rule_changes_by_store_month.store_id
            and compared.period_month = rule_changes_by_store_month.period_month
    left join current_store_dates
        on compared.store_id = current_store_dates.store_id
),

final as (
    select
        store_id,
        period_month,
        restatement_kind,
        published_eligible,
        current_eligible,
        published_reason,
        current_reason,
        published_at,
        published_evaluated_at,
        cast(coalesce(detected_at, {{ incentive_evaluated_at() }}) as timestamp) as detected_at,
        case when why = '' then 'the reason changed' else why end as why
    from explained
)

select * from final
