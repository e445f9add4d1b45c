-- One row per store and month (store_id, period_month) the store was open at least one day in
-- the data range: whether it earned the incentive and why (docs/program.md#store-incentives,
-- docs/marts.md#fct_store_incentive_eligibility). Eligible = open the
-- whole month, every rule in effect passed that month, and every rule passed in at least 2 of
-- the 3 months before (dbt vars incentive_consistency_min_passed, incentive_consistency_months).
-- A month before the data range or in which the store was not open has no row and counts as
-- not passed.
{%- set window_months = incentive_consistency_months() -%}
{%- set min_passed = incentive_consistency_min_passed() -%}
{#- The evaluation's identity: what a store manager was told. A change in any of these is a new
    evaluation (and, for a published month, a restatement). -#}
{%- set hashed_parts = [] -%}
{%- for part in [
    'store_id',
    format_date('period_month'),
    "case when eligible then 'eligible' else 'not eligible' end",
    'cast(rules_passed as ' ~ dbt.type_string() ~ ')',
    'cast(rules_failed as ' ~ dbt.type_string() ~ ')',
    "case when is_open_whole_month then 'whole month' else 'part of the month' end",
    'cast(previous_months_passed as ' ~ dbt.type_string() ~ ')',
    'reason',
] -%}
    {%- do hashed_parts.append(part) -%}
    {%- if not loop.last %}{% do hashed_parts.append("'|'") %}{% endif -%}
{%- endfor %}

with

store_months as (
    select * from {{ ref('int_store_months_open') }}
),

rule_results as (
    select * from {{ ref('fct_store_incentive_rule_results') }}
),

rules_by_store_month as (
    select
        store_id,
        period_month,
        sum(case when passed then 1 else 0 end) as rules_passed,
        sum(case when passed then 0 else 1 end) as rules_failed,
        {{ dbt.listagg(
            "case when not passed then explanation end",
            "'; '",
            "order by rule_id"
        ) }} as failed_rules_explained
    from rule_results
    group by store_id, period_month
),

months_judged as (
    select
        store_months.store_id,
        store_months.period_month,
        store_months.opened_on,
        store_months.closed_on,
        store_months.open_days,
        store_months.days_in_month,
        store_months.is_open_whole_month,
        coalesce(rules_by_store_month.rules_passed, 0) as rules_passed,
        coalesce(rules_by_store_month.rules_failed, 0) as rules_failed,
        rules_by_store_month.failed_rules_explained,
        coalesce(rules_by_store_month.rules_failed, 0) = 0 as has_passed_all_rules
    from store_months
    left join rules_by_store_month
        on
            store_months.store_id = rules_by_store_month.store_id
            and store_months.period_month = rules_by_store_month.period_month
),

-- months without a row (before the data, before the store opened, closed) count as not passed
consistency as (
    select
        months_judged.store_id,
        months_judged.period_month,
        sum(case when previous_months.has_passed_all_rules then 1 else 0 end) as previous_months_passed
    from months_judged
    left join months_judged as previous_months
        on
            months_judged.store_id = previous_months.store_id
            and months_judged.period_month > previous_months.period_month
            and previous_months.period_month
            >= cast({{ dbt.dateadd('month', -window_months, 'months_judged.period_month') }} as date)
    group by months_judged.store_id, months_judged.period_month
),

decided as (
    select
        months_judged.*,
        consistency.previous_months_passed,
        (
            months_judged.is_open_whole_month
            and months_judged.has_passed_all_rules
            and consistency.previous_months_passed >= {{ min_passed }}
        ) as eligible
    from months_judged
    inner join consistency
        on
            months_judged.store_id = consistency.store_id
            and months_judged.period_month = consistency.period_month
),

explained as (
    select
        decided.*,
        case
            when decided.eligible then 'eligible: '
            else 'not eligible: '
        end
        || concat_ws(
            '; ',
            case
                when not decided.is_open_whole_month
                    then
                        'not open the whole month (open '
                        || cast(decided.open_days as {{ dbt.type_string() }}) || ' of '
                        || cast(decided.days_in_month as {{ dbt.type_string() }}) || ' days'
                        || case
                            when decided.opened_on > decided.period_month
                                then ', opened ' || {{ format_date('decided.opened_on') }}
                            else ''
                        end
                        || case
                            when
                                decided.closed_on is not null
                                and decided.closed_on < {{ dbt.dateadd('month', 1, 'decided.period_month') }}
                                then ', closed from ' || {{ format_date('decided.closed_on') }}
                            else ''
                        end
                        || ')'
            end,
            case
                when decided.rules_failed = 0
                    then 'passed all ' || cast(decided.rules_passed as {{ dbt.type_string() }}) || ' rules'
                else decided.failed_rules_explained
            end,
            'passed all rules in ' || cast(decided.previous_months_passed as {{ dbt.type_string() }})
            || ' of the {{ window_months }} previous months'
        ) as reason
    from decided
),

final as (
    select
        store_id,
        period_month,
        cast(eligible as boolean) as eligible,
        cast(rules_passed as bigint) as rules_passed,
        cast(rules_failed as bigint) as rules_failed,
        cast(is_open_whole_month as boolean) as is_open_whole_month,
        cast(open_days as bigint) as open_days,
        cast(previous_months_passed as bigint) as months_all_rules_passed_in_previous_3,
        reason,
        {{ dbt.hash(dbt.concat(hashed_parts)) }} as evaluation_hash
    from explained
)

select * from final
