-- One row per ledger event (event_id): the part it plays in the FIFO lots, on the two bases the
-- warehouse keeps them (docs/program.md#expiry):
--   expected_role  what should have happened: the program's own expiry at every due date, so
--                  posted expiries, and the reversals of expiries, play no part (ignore);
--   ledger_role    what the ledger did: every removal it holds, posted expiries included.
-- Roles: lot (an earn, a positive correction, a positive reverse whose reversed event the
-- ledger does not hold), consume (a redemption, a negative correction, a negative reverse: a
-- reversal of an earn or positive correction takes the oldest points, not its own lot),
-- reinstate (a positive reverse: its points go back to the lots the reversed event consumed,
-- reinstates_event_id), ignore.
--
-- Incremental by event (docs/operations.md#incremental-refresh): an event's roles read only the
-- event and the event it reverses, so a refresh classifies again the events staging
-- (re)classified since this model's last run and the events that reverse them, and an event no
-- longer staged loses its row (a key-only row, _classified_through null).

{{ config(
    materialized='incremental',
    incremental_strategy='undo_logged',
    unique_key='event_id',
    meta={'undo_logged_key_only_rows': '_classified_through is null'},
) }}

with

ledger_events as (
    select * from {{ ref('stg_loyalty__ledger_events') }}
),

base_ledger_events as (
    select * from {{ ref('base_loyalty__ledger_events') }}
),

{%- if is_incremental() %}

changed_events as (
    {{ changed_keys('base_ledger_events', 'event_id') }}
),
{%- endif %}

events_in_scope as (
    -- a full build: every event; an incremental one: the changed events and their reverses
    select ledger_events.*
    from ledger_events
    {%- if is_incremental() %}
    where
        ledger_events.event_id in (select changed_events.event_id from changed_events)
        or ledger_events.reverses_event_id in (select changed_events.event_id from changed_events)
    {%- endif %}
),

reversed_events as (
    select
        ledger_events.event_id,
        ledger_events.account_id,
        ledger_events.event_type
    from ledger_events
    where ledger_events.event_id in (select events_in_scope.reverses_event_id from events_in_scope)
),

with_reversed as (
    select
        events_in_scope.event_id,
        events_in_scope.account_id,
        events_in_scope.event_type,
        events_in_scope.points,
        events_in_scope.occurred_at,
        events_in_scope.recorded_at,
        events_in_scope.order_id,
        events_in_scope.reverses_event_id,
        reversed.event_type as reversed_event_type,
        -- a reinstatement needs the consuming event on the same account
        events_in_scope.event_type = 'reverse' and events_in_scope.points > 0 and reversed.event_id is not null
            as is_reinstatement
    from events_in_scope
    left join reversed_events as reversed
        on
            events_in_scope.reverses_event_id = reversed.event_id
            and events_in_scope.account_id = reversed.account_id
),

final as (
    select
        event_id,
        account_id,
        event_type,
        points,
        occurred_at,
        recorded_at,
        order_id,
        reverses_event_id,
        reversed_event_type,
        case when is_reinstatement then reverses_event_id end as reinstates_event_id,
        case
            when points = 0 then 'ignore'
            when points > 0 and not is_reinstatement then 'lot'
            when is_reinstatement and reversed_event_type = 'expire' then 'ignore'
            when is_reinstatement then 'reinstate'
            when event_type = 'expire' then 'ignore'
            else 'consume'
        end as expected_role,
        case
            when points = 0 then 'ignore'
            when points > 0 and not is_reinstatement then 'lot'
            when is_reinstatement then 'reinstate'
            else 'consume'
        end as ledger_role,
        {{ newest_classification(['base_ledger_events']) }} as _classified_through
    from with_reversed
)

select * from final
{%- if is_incremental() %}
union all
-- key-only rows: changed events that are no longer staged
select
    changed_events.event_id,
    cast(null as {{ dbt.type_string() }}) as account_id,
    cast(null as {{ dbt.type_string() }}) as event_type,
    cast(null as bigint) as points,
    cast(null as timestamp) as occurred_at,
    cast(null as timestamp) as recorded_at,
    cast(null as {{ dbt.type_string() }}) as order_id,
    cast(null as {{ dbt.type_string() }}) as reverses_event_id,
    cast(null as {{ dbt.type_string() }}) as reversed_event_type,
    cast(null as {{ dbt.type_string() }}) as reinstates_event_id,
    cast(null as {{ dbt.type_string() }}) as expected_role,
    cast(null as {{ dbt.type_string() }}) as ledger_role,
    cast(null as bigint) as _classified_through
from changed_events
left join ledger_events
    on changed_events.event_id = ledger_events.event_id
where ledger_events.event_id is null
{%- endif %}
