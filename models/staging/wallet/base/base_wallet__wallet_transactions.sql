-- One row per delivered wallet transaction row, parsed and checked (see base_loyalty__ledger_events).

{%- set columns = [
    'txn_id',
    'account_id',
    'currency',
    'txn_type',
    'amount',
    'occurred_at',
    'recorded_at',
    'order_id',
] %}
{%- set key_columns = ['txn_id'] %}

{#- earlier deliveries to classify again: their verdict depends on rows that may arrive later #}
{%- set reevaluate_prior %}
        prior.rejection_reason = 'unknown_account' and prior.account_id in (select account_id from members)
{%- endset %}

with

members as (
    -- a member is known when any version of it is staged (its current state exists)
    select distinct account_id from {{ ref('base_loyalty__members') }}
    where row_status = 'staged'
),

-- new load batches, and earlier deliveries whose verdict they can change
delivered as {{ streamed_cte() }} (
    {{ deliveries_to_classify(source('wallet', 'wallet_transactions'), ['txn_id'], reevaluate_prior) }}
),

parsed as {{ materialized_cte() }} (
    select
        nullif(trim(delivered.txn_id), '') as txn_id,
        nullif(trim(delivered.account_id), '') as account_id,
        nullif(trim(delivered.currency), '') as currency,
        trim(delivered.txn_type) as txn_type,
        {{ parse_decimal('delivered.amount') }} as amount,
        {{ parse_timestamp_utc('delivered.occurred_at') }} as occurred_at,
        {{ parse_timestamp_utc('delivered.recorded_at') }} as recorded_at,
        nullif(trim(delivered.order_id), '') as order_id,
        {{ delivery_columns('delivered', columns, key_columns) }}
    from delivered
),

checked as {{ streamed_cte() }} (
    select
        parsed.*,
        {%- set checks = [
            ["parsed.txn_id is null", "missing_key", "'txn_id is empty'"],
            ["parsed.account_id is null", "missing_key", "'account_id is empty'"],
            ["parsed.raw_amount is null", "missing_value", "'amount is empty'"],
            ["parsed.amount is null", "unparseable_number", "'amount ''' || parsed.raw_amount || ''' is not a decimal with at most 2 places'"],
            ["parsed.raw_occurred_at is null or parsed.raw_recorded_at is null", "missing_value", "'occurred_at and recorded_at are required'"],
            ["parsed.occurred_at is null", "unparseable_timestamp", "'occurred_at ''' || parsed.raw_occurred_at || ''' is not an ISO 8601 timestamp'"],
            ["parsed.recorded_at is null", "unparseable_timestamp", "'recorded_at ''' || parsed.raw_recorded_at || ''' is not an ISO 8601 timestamp'"],
            ["parsed.txn_type is null or parsed.txn_type not in ('top_up', 'spend', 'refund', 'cashback', 'adjust')", "unknown_enum", "'txn_type ''' || coalesce(parsed.raw_txn_type, '') || ''' is not one of top_up, spend, refund, cashback, adjust'"],
            ["parsed.currency is null or currencies.currency_code is null", "unknown_enum", "'currency ''' || coalesce(parsed.raw_currency, '') || ''' is not an ISO 4217 code'"],
            ["(parsed.txn_type in ('top_up', 'refund', 'cashback') and parsed.amount <= 0) or (parsed.txn_type = 'spend' and parsed.amount >= 0) or parsed.amount = 0", "wrong_sign", "parsed.txn_type || ' of ' || parsed.raw_amount || ': top_up, refund and cashback must be > 0, spend < 0, nothing of 0'"],
            ["parsed.recorded_at < parsed.occurred_at", "recorded_before_occurred", "'recorded_at ' || parsed.raw_recorded_at || ' is before occurred_at ' || parsed.raw_occurred_at"],
            future_timestamp_check('parsed', ['occurred_at', 'recorded_at']),
            ["members.account_id is null", "unknown_account", "'account ' || parsed.account_id || ' is not a staged member'"],
        ] %}
        {{ first_failed_check(checks, 'reason') }} as rejection_reason,
        {{ first_failed_check(checks, 'detail') }} as rejection_detail
    from parsed
    left join {{ iso_currencies() }} as currencies
        on parsed.currency = currencies.currency_code
    left join members
        on parsed.account_id = members.account_id
),

numbered as (
    {{ number_deliveries('checked', key_columns, columns) }}
),

final as (
    {{ classify_deliveries('numbered', 'wallet_transactions', columns) }}
)

select * from final
