{#- append-only: a run inserts new keys only; undo_logged records them, so a refresh that does
    not publish takes its rows back out (docs/operations.md#rollback) -#}
{{ config(
    materialized='incremental',
    incremental_strategy='undo_logged',
    unique_key=['store_id', 'period_month', 'evaluated_at'],
    full_refresh=false,
) }}
-- Append-only history of store incentive evaluations: one row per store, month and
-- evaluation (store_id, period_month, evaluated_at). A run appends the current evaluation of a
-- store-month (fct_store_incentive_eligibility) when the history has none for it yet or its
-- latest one has another evaluation_hash; rows are never updated or deleted. The first run
-- records every current evaluation. full_refresh is off: a --full-refresh must not erase what
-- was published (drop the table by hand to really start over).

with

eligibility as (
    select * from {{ ref('fct_store_incentive_eligibility') }}
),

{% if is_incremental() %}
recorded as (
    select
        store_id,
        period_month,
        evaluation_hash,
        row_number() over (partition by store_id, period_month order by evaluated_at desc) as recency
    from {{ this }}
),

latest_recorded as (
    select * from recorded
    where recency = 1
),
{% endif %}

new_or_changed as (
    select eligibility.*
    from eligibility
    {%- if is_incremental() %}
    left join latest_recorded
        on
            eligibility.store_id = latest_recorded.store_id
            and eligibility.period_month = latest_recorded.period_month
    where
        latest_recorded.evaluation_hash is null
        or latest_recorded.evaluation_hash <> eligibility.evaluation_hash
    {%- endif %}
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
        {{ incentive_evaluated_at() }} as evaluated_at
    from new_or_changed
)

select * from final
