-- One row per delivered member row, parsed and checked (see base_loyalty__ledger_events).

{%- set columns = [
    'account_id',
    'email',
    'enrolled_at',
    'home_store_id',
    'status',
] %}
{%- set key_columns = ['account_id'] %}
{#- personal data (loyalty/landing/contract.py): masked in raw_row, which the quarantine publishes #}
{%- set personal_columns = ['email'] %}

{#- earlier deliveries to classify again: their verdict depends on rows that may arrive later #}
{%- set reevaluate_prior %}
        prior.rejection_reason = 'unknown_store' and prior.home_store_id in (select store_id from stores)
{%- endset %}

with

stores as (
    -- a store is known when any version of it is staged (its current state exists)
    select distinct store_id from {{ ref('base_commerce__stores') }}
    where row_status = 'staged'
),

-- new load batches, and earlier deliveries whose verdict they can change
delivered as {{ streamed_cte() }} (
    {{ deliveries_to_classify(source('loyalty', 'members'), ['account_id'], reevaluate_prior) }}
),

parsed as {{ materialized_cte() }} (
    select
        nullif(trim(delivered.account_id), '') as account_id,
        nullif(trim(delivered.email), '') as email,
        {{ parse_timestamp_utc('delivered.enrolled_at') }} as enrolled_at,
        nullif(trim(delivered.home_store_id), '') as home_store_id,
        trim(delivered.status) as status,
        {{ delivery_columns('delivered', columns, key_columns) }}
    from delivered
),

checked as {{ streamed_cte() }} (
    select
        parsed.*,
        {%- set checks = [
            ["parsed.account_id is null", "missing_key", "'account_id is empty'"],
            ["parsed.raw_enrolled_at is null", "missing_value", "'enrolled_at is empty'"],
            ["parsed.enrolled_at is null", "unparseable_timestamp", "'enrolled_at ''' || parsed.raw_enrolled_at || ''' is not an ISO 8601 timestamp'"],
            ["parsed.status is null or parsed.status not in ('active', 'closed')", "unknown_enum", "'status ''' || coalesce(parsed.raw_status, '') || ''' is not one of active, closed'"],
            future_timestamp_check('parsed', ['enrolled_at']),
            ["parsed.home_store_id is not null and stores.store_id is null", "unknown_store", "'home_store_id ' || parsed.home_store_id || ' is not a staged store'"],
        ] %}
        {{ first_failed_check(checks, 'reason') }} as rejection_reason,
        {{ first_failed_check(checks, 'detail') }} as rejection_detail
    from parsed
    left join stores
        on parsed.home_store_id = stores.store_id
),

numbered as (
    {{ number_deliveries('checked', key_columns, columns) }}
),

final as (
    {{ classify_deliveries('numbered', 'members', columns, personal_columns) }}
)

select * from final
