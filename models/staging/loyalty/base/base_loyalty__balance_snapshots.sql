-- One row per delivered balance snapshot row, parsed and checked (see base_loyalty__ledger_events).

{%- set columns = [
    'account_id',
    'balance_type',
    'currency',
    'balance',
    'as_of',
] %}
{%- set key_columns = ['account_id', 'balance_type', 'currency', 'as_of'] %}

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
    {{ deliveries_to_classify(
        source('loyalty', 'balance_snapshots'),
        ['account_id', 'balance_type', 'currency', 'as_of'],
        reevaluate_prior,
        match_types={'as_of': 'timestamp'}
    ) }}
),

parsed as {{ materialized_cte() }} (
    select
        nullif(trim(delivered.account_id), '') as account_id,
        trim(delivered.balance_type) as balance_type,
        nullif(trim(delivered.currency), '') as currency,
        {{ parse_decimal('delivered.balance') }} as balance,
        {{ parse_timestamp_utc('delivered.as_of') }} as as_of,
        {{ delivery_columns('delivered', columns, key_columns) }}
    from delivered
),

checked as {{ streamed_cte() }} (
    select
        parsed.*,
        {%- set checks = [
            ["parsed.account_id is null or parsed.raw_as_of is null or parsed.balance_type is null", "missing_key", "'account_id, balance_type and as_of are required'"],
            ["parsed.balance_type = 'wallet' and parsed.currency is null", "missing_key", "'a wallet snapshot needs a currency'"],
            ["parsed.raw_balance is null", "missing_value", "'balance is empty'"],
            ["parsed.balance is null", "unparseable_number", "'balance ''' || parsed.raw_balance || ''' is not a decimal with at most 2 places'"],
            ["parsed.balance_type = 'points' and parsed.balance <> round(parsed.balance, 0)", "unparseable_number", "'points balance ' || parsed.raw_balance || ' is not a whole number'"],
            ["parsed.as_of is null", "unparseable_timestamp", "'as_of ''' || parsed.raw_as_of || ''' is not an ISO 8601 timestamp'"],
            ["parsed.balance_type not in ('points', 'wallet')", "unknown_enum", "'balance_type ''' || parsed.raw_balance_type || ''' is not one of points, wallet'"],
            ["parsed.balance_type = 'points' and parsed.currency is not null", "unknown_enum", "'a points snapshot has no currency, got ''' || parsed.currency || ''''"],
            ["parsed.balance_type = 'wallet' and currencies.currency_code is null", "unknown_enum", "'currency ''' || parsed.currency || ''' is not an ISO 4217 code'"],
            future_timestamp_check('parsed', ['as_of']),
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
    {{ classify_deliveries('numbered', 'balance_snapshots', columns) }}
)

select * from final
