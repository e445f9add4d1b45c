-- One row per delivered store target row, parsed and checked (see base_loyalty__ledger_events).

{%- set columns = [
    'store_id',
    'period_month',
    'metric',
    'target',
] %}
{%- set key_columns = ['store_id', 'period_month', 'metric'] %}

{#- earlier deliveries to classify again: their verdict depends on rows that may arrive later #}
{%- set reevaluate_prior %}
        prior.rejection_reason = 'unknown_store' and prior.store_id in (select store_id from stores)
{%- endset %}

with

stores as (
    -- a store is known when any version of it is staged (its current state exists)
    select distinct store_id from {{ ref('base_commerce__stores') }}
    where row_status = 'staged'
),

-- new load batches, and earlier deliveries whose verdict they can change
delivered as {{ streamed_cte() }} (
    {{ deliveries_to_classify(
        source('commerce', 'store_targets'),
        ['store_id', 'period_month', 'metric'],
        reevaluate_prior,
        match_types={'period_month': 'date'}
    ) }}
),

parsed as {{ materialized_cte() }} (
    select
        nullif(trim(delivered.store_id), '') as store_id,
        {{ parse_date('delivered.period_month') }} as period_month,
        nullif(trim(delivered.metric), '') as metric,
        {{ parse_decimal('delivered.target') }} as target,
        {{ delivery_columns('delivered', columns, key_columns) }}
    from delivered
),

checked as {{ streamed_cte() }} (
    select
        parsed.*,
        {%- set checks = [
            ["parsed.store_id is null or parsed.raw_period_month is null or parsed.metric is null", "missing_key", "'store_id, period_month and metric are required'"],
            ["parsed.raw_target is null", "missing_value", "'target is empty'"],
            ["parsed.target is null", "unparseable_number", "'target ''' || parsed.raw_target || ''' is not a decimal with at most 2 places'"],
            ["parsed.period_month is null", "unparseable_timestamp", "'period_month ''' || parsed.raw_period_month || ''' is not a date (YYYY-MM-DD)'"],
            ["parsed.period_month <> " ~ dbt.date_trunc('month', 'parsed.period_month'), "unparseable_timestamp", "'period_month ' || parsed.raw_period_month || ' is not the first day of a month'"],
            ["parsed.target < 0", "wrong_sign", "'target ' || parsed.raw_target || ' is negative'"],
            ["stores.store_id is null", "unknown_store", "'store ' || parsed.store_id || ' is not a staged store'"],
        ] %}
        {{ first_failed_check(checks, 'reason') }} as rejection_reason,
        {{ first_failed_check(checks, 'detail') }} as rejection_detail
    from parsed
    left join stores
        on parsed.store_id = stores.store_id
),

numbered as (
    {{ number_deliveries('checked', key_columns, columns) }}
),

final as (
    {{ classify_deliveries('numbered', 'store_targets', columns) }}
)

select * from final
