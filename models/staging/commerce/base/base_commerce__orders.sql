-- One row per delivered order change-feed row, parsed and checked (see base_loyalty__ledger_events).

{%- set columns = [
    'order_id',
    'account_id',
    'store_id',
    'channel',
    'status',
    'currency',
    'net_amount',
    'ordered_at',
    'updated_at',
] %}
{%- set key_columns = ['order_id', 'updated_at'] %}

{#- earlier deliveries to classify again: their verdict depends on rows that may arrive later #}
{%- set reevaluate_prior %}
        (prior.rejection_reason = 'unknown_account' and prior.account_id in (select account_id from members))
        or (prior.rejection_reason = 'unknown_store' and prior.store_id in (select store_id from stores))
{%- endset %}

with

members as (
    -- a member is known when any version of it is staged (its current state exists)
    select distinct account_id from {{ ref('base_loyalty__members') }}
    where row_status = 'staged'
),

stores as (
    -- a store is known when any version of it is staged (its current state exists)
    select distinct store_id from {{ ref('base_commerce__stores') }}
    where row_status = 'staged'
),

-- new load batches, and earlier deliveries whose verdict they can change
delivered as {{ streamed_cte() }} (
    {{ deliveries_to_classify(
        source('commerce', 'orders'),
        ['order_id', 'updated_at'],
        reevaluate_prior,
        match_types={'updated_at': 'timestamp'}
    ) }}
),

parsed as {{ materialized_cte() }} (
    select
        nullif(trim(delivered.order_id), '') as order_id,
        nullif(trim(delivered.account_id), '') as account_id,
        nullif(trim(delivered.store_id), '') as store_id,
        trim(delivered.channel) as channel,
        trim(delivered.status) as status,
        nullif(trim(delivered.currency), '') as currency,
        {{ parse_decimal('delivered.net_amount') }} as net_amount,
        {{ parse_timestamp_utc('delivered.ordered_at') }} as ordered_at,
        {{ parse_timestamp_utc('delivered.updated_at') }} as updated_at,
        {{ delivery_columns('delivered', columns, key_columns) }}
    from delivered
),

checked as {{ streamed_cte() }} (
    select
        parsed.*,
        {%- set checks = [
            ["parsed.order_id is null or parsed.raw_updated_at is null", "missing_key", "'order_id and updated_at are required'"],
            ["parsed.store_id is null or parsed.raw_ordered_at is null or parsed.raw_net_amount is null", "missing_value", "'store_id, ordered_at and net_amount are required'"],
            ["parsed.net_amount is null", "unparseable_number", "'net_amount ''' || parsed.raw_net_amount || ''' is not a decimal with at most 2 places'"],
            ["parsed.ordered_at is null", "unparseable_timestamp", "'ordered_at ''' || parsed.raw_ordered_at || ''' is not an ISO 8601 timestamp'"],
            ["parsed.updated_at is null", "unparseable_timestamp", "'updated_at ''' || parsed.raw_updated_at || ''' is not an ISO 8601 timestamp'"],
            ["parsed.channel is null or parsed.channel not in ('store', 'online')", "unknown_enum", "'channel ''' || coalesce(parsed.raw_channel, '') || ''' is not one of store, online'"],
            ["parsed.status is null or parsed.status not in ('placed', 'completed', 'cancelled', 'returned')", "unknown_enum", "'status ''' || coalesce(parsed.raw_status, '') || ''' is not one of placed, completed, cancelled, returned'"],
            ["parsed.currency is null or currencies.currency_code is null", "unknown_enum", "'currency ''' || coalesce(parsed.raw_currency, '') || ''' is not an ISO 4217 code'"],
            ["parsed.net_amount < 0", "wrong_sign", "'net_amount ' || parsed.raw_net_amount || ' is negative'"],
            ["parsed.updated_at < parsed.ordered_at", "recorded_before_occurred", "'updated_at ' || parsed.raw_updated_at || ' is before ordered_at ' || parsed.raw_ordered_at"],
            future_timestamp_check('parsed', ['ordered_at', 'updated_at']),
            ["parsed.account_id is not null and members.account_id is null", "unknown_account", "'account ' || parsed.account_id || ' is not a staged member'"],
            ["stores.store_id is null", "unknown_store", "'store ' || parsed.store_id || ' is not a staged store'"],
        ] %}
        {{ first_failed_check(checks, 'reason') }} as rejection_reason,
        {{ first_failed_check(checks, 'detail') }} as rejection_detail
    from parsed
    left join {{ iso_currencies() }} as currencies
        on parsed.currency = currencies.currency_code
    left join members
        on parsed.account_id = members.account_id
    left join stores
        on parsed.store_id = stores.store_id
),

numbered as (
    {{ number_deliveries('checked', key_columns, columns) }}
),

final as (
    {{ classify_deliveries('numbered', 'orders', columns) }}
)

select * from final
