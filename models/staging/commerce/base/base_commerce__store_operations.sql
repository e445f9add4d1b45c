-- One row per delivered store operations row, parsed and checked (see base_loyalty__ledger_events).
-- Metrics are open-ended (long format): a new metric needs no change here.

{%- set columns = [
    'store_id',
    'business_date',
    'metric',
    'value',
] %}
{%- set key_columns = ['store_id', 'business_date', 'metric'] %}

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
        source('commerce', 'store_operations'),
        ['store_id', 'business_date', 'metric'],
        reevaluate_prior,
        match_types={'business_date': 'date'}
    ) }}
),

parsed as {{ materialized_cte() }} (
    select
        nullif(trim(delivered.store_id), '') as store_id,
        {{ parse_date('delivered.business_date') }} as business_date,
        nullif(trim(delivered.metric), '') as metric,
        {{ parse_decimal('delivered.value', 6) }} as value,
        {{ delivery_columns('delivered', columns, key_columns) }}
    from delivered
),

checked as {{ streamed_cte() }} (
    select
        parsed.*,
        {%- set checks = [
            ["parsed.store_id is null or parsed.raw_business_date is null or parsed.metric is null", "missing_key", "'store_id, business_date and metric are required'"],
            ["parsed.raw_value is null", "missing_value", "'value is empty'"],
            ["parsed.value is null", "unparseable_number", "'value ''' || parsed.raw_value || ''' is not a decimal'"],
            ["parsed.business_date is null", "unparseable_timestamp", "'business_date ''' || parsed.raw_business_date || ''' is not a date (YYYY-MM-DD)'"],
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
    {{ classify_deliveries('numbered', 'store_operations', columns) }}
)

select * from final
