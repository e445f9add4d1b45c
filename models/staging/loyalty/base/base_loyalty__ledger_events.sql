-- One row per delivered ledger event row (every file, every row, including duplicates and
-- rejects), parsed and checked. stg_loyalty__ledger_events keeps the staged rows; the
-- quarantine and the row accounting read the rest.

{%- set columns = [
    'event_id',
    'account_id',
    'event_type',
    'points',
    'occurred_at',
    'recorded_at',
    'order_id',
    'reverses_event_id',
    'source',
] %}
{%- set key_columns = ['event_id'] %}

{#- earlier deliveries to classify again: their verdict depends on rows that may arrive later #}
{%- set reevaluate_prior %}
        (prior.rejection_reason = 'unknown_account' and prior.account_id in (select account_id from members))
        -- a reverse is judged by the sign of the event it reverses, which may arrive later
        or prior.reverses_event_id in (
            select nullif(trim(new_rows.event_id), '') from {{ source('loyalty', 'ledger_events') }} as new_rows
            where new_rows._file_sequence > {{ new_deliveries_after() }}
        )
{%- endset %}

with

members as (
    -- a member is known when any version of it is staged (its current state exists)
    select distinct account_id from {{ ref('base_loyalty__members') }}
    where row_status = 'staged'
),

-- new load batches, and earlier deliveries whose verdict they can change
delivered as {{ streamed_cte() }} (
    {{ deliveries_to_classify(source('loyalty', 'ledger_events'), ['event_id'], reevaluate_prior) }}
),

parsed as {{ materialized_cte() }} (
    select
        nullif(trim(delivered.event_id), '') as event_id,
        nullif(trim(delivered.account_id), '') as account_id,
        trim(delivered.event_type) as event_type,
        {{ parse_integer('delivered.points') }} as points,
        {{ parse_timestamp_utc('delivered.occurred_at') }} as occurred_at,
        {{ parse_timestamp_utc('delivered.recorded_at') }} as recorded_at,
        nullif(trim(delivered.order_id), '') as order_id,
        nullif(trim(delivered.reverses_event_id), '') as reverses_event_id,
        nullif(trim(delivered.source), '') as source,
        {{ delivery_columns('delivered', columns, key_columns) }}
    from delivered
),

-- The sign a reverse must have depends on the event it reverses.
reversed_events as (
    select
        event_id,
        min(points) as min_points,
        max(points) as max_points
    from (
        select
            event_id,
            points
        from parsed
        {%- if this is not none and is_incremental() %}
        union all
        -- deliveries classified by earlier runs
        select
            event_id,
            points
        from {{ this }}
        where event_id in (select reverses_event_id from parsed)
        {%- endif %}
    ) as deliveries
    where points is not null
    group by event_id
),

checked as {{ streamed_cte() }} (
    select
        parsed.*,
        {%- set checks = [
            ["parsed.event_id is null", "missing_key", "'event_id is empty'"],
            ["parsed.account_id is null", "missing_key", "'account_id is empty'"],
            ["parsed.raw_points is null", "missing_value", "'points is empty'"],
            ["parsed.points is null", "unparseable_number", "'points ''' || parsed.raw_points || ''' is not a whole number'"],
            ["parsed.raw_occurred_at is null or parsed.raw_recorded_at is null", "missing_value", "'occurred_at and recorded_at are required'"],
            ["parsed.occurred_at is null", "unparseable_timestamp", "'occurred_at ''' || parsed.raw_occurred_at || ''' is not an ISO 8601 timestamp'"],
            ["parsed.recorded_at is null", "unparseable_timestamp", "'recorded_at ''' || parsed.raw_recorded_at || ''' is not an ISO 8601 timestamp'"],
            ["parsed.event_type is null or parsed.event_type not in ('earn', 'redeem', 'expire', 'correct', 'reverse')", "unknown_enum", "'event_type ''' || coalesce(parsed.raw_event_type, '') || ''' is not one of earn, redeem, expire, correct, reverse'"],
            ["(parsed.event_type = 'earn' and parsed.points <= 0) or (parsed.event_type in ('redeem', 'expire') and parsed.points >= 0) or parsed.points = 0", "wrong_sign", "parsed.event_type || ' with ' || parsed.raw_points || ' points: earn must be > 0, redeem and expire < 0, no event of 0 points'"],
            ["parsed.event_type = 'reverse' and (reversed_events.min_points > 0 and parsed.points > 0 or reversed_events.max_points < 0 and parsed.points < 0)", "wrong_sign", "'reverse of ' || parsed.raw_points || ' points has the sign of the event it reverses (' || parsed.reverses_event_id || ')'"],
            ["parsed.recorded_at < parsed.occurred_at", "recorded_before_occurred", "'recorded_at ' || parsed.raw_recorded_at || ' is before occurred_at ' || parsed.raw_occurred_at"],
            future_timestamp_check('parsed', ['occurred_at', 'recorded_at']),
            ["members.account_id is null", "unknown_account", "'account ' || parsed.account_id || ' is not a staged member'"],
        ] %}
        {{ first_failed_check(checks, 'reason') }} as rejection_reason,
        {{ first_failed_check(checks, 'detail') }} as rejection_detail
    from parsed
    left join members
        on parsed.account_id = members.account_id
    left join reversed_events
        on parsed.reverses_event_id = reversed_events.event_id
),

numbered as (
    {{ number_deliveries('checked', key_columns, columns) }}
),

final as (
    {{ classify_deliveries('numbered', 'ledger_events', columns) }}
)

select * from final
