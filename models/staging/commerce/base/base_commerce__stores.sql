-- One row per delivered store row, parsed and checked (see base_loyalty__ledger_events).

{%- set columns = [
    'store_id',
    'store_name',
    'region',
    'opened_on',
    'closed_on',
] %}
{%- set key_columns = ['store_id'] %}

with

-- new load batches, and earlier deliveries whose verdict they can change
delivered as {{ streamed_cte() }} (
    {{ deliveries_to_classify(source('commerce', 'stores'), ['store_id'], 'false') }}
),

parsed as {{ materialized_cte() }} (
    select
        nullif(trim(delivered.store_id), '') as store_id,
        nullif(trim(delivered.store_name), '') as store_name,
        nullif(trim(delivered.region), '') as region,
        {{ parse_date('delivered.opened_on') }} as opened_on,
        {{ parse_date('delivered.closed_on') }} as closed_on,
        {{ delivery_columns('delivered', columns, key_columns) }}
    from delivered
),

checked as {{ streamed_cte() }} (
    select
        parsed.*,
        {%- set checks = [
            ["parsed.store_id is null", "missing_key", "'store_id is empty'"],
            ["parsed.raw_opened_on is null", "missing_value", "'opened_on is empty'"],
            ["parsed.opened_on is null", "unparseable_timestamp", "'opened_on ''' || parsed.raw_opened_on || ''' is not a date (YYYY-MM-DD)'"],
            ["parsed.raw_closed_on is not null and parsed.closed_on is null", "unparseable_timestamp", "'closed_on ''' || parsed.raw_closed_on || ''' is not a date (YYYY-MM-DD)'"],
            ["parsed.closed_on < parsed.opened_on", "recorded_before_occurred", "'closed_on ' || parsed.raw_closed_on || ' is before opened_on ' || parsed.raw_opened_on"],
        ] %}
        {{ first_failed_check(checks, 'reason') }} as rejection_reason,
        {{ first_failed_check(checks, 'detail') }} as rejection_detail
    from parsed
),

numbered as (
    {{ number_deliveries('checked', key_columns, columns) }}
),

final as (
    {{ classify_deliveries('numbered', 'stores', columns) }}
)

select * from final
