-- One row per points lot (lot_event_id): every earn and positive correction is a lot (and a
-- positive reverse whose reversed event the ledger does not hold; a reverse of a redemption
-- puts its points back into the lots the redemption consumed instead, see
-- int_points_lots_replayed), placed on its account's FIFO line by (occurred_at, event_id).
-- lot_start / lot_end are the lot's interval on the account's cumulative lot line: FIFO
-- consumption of U points in total has used exactly the part of each lot below U (on an
-- account with no reinstated points).
-- Points earned in month M are due to expire at the end of month M + expiry_after_months.
--
-- Incremental (docs/operations.md#incremental-refresh): a refresh continues each account's line
-- from its total. The events int_points_events_classified classified again since this model's
-- last run mark, on each account's line where they are now or were at the last build, a restart
-- point (the first of them in the line's order); the account's lots from there on are placed
-- again after the points of the lots before it, which stay as they are. A lot that is no longer
-- one loses its row (a key-only row, _classified_through null).

-- depends_on: {{ ref('base_loyalty__ledger_events') }}

{{ config(
    materialized='incremental',
    incremental_strategy='undo_logged',
    unique_key='lot_event_id',
    meta={'undo_logged_key_only_rows': '_classified_through is null'},
) }}

{%- set line_order = ['occurred_at', 'lot_event_id'] %}

with

ledger_events as (
    select * from {{ ref('int_points_events_classified') }}
),

program_rules as (
    select * from {{ ref('program_rules') }}
    where rule = 'expiry_after_months'
),

lots as (
    select
        account_id,
        event_id as lot_event_id,
        event_type,
        points as lot_points,
        occurred_at,
        {{ month_start('occurred_at') }} as lot_month
    from ledger_events
    where ledger_role = 'lot'
),
{%- if is_incremental() %}

base_ledger_events as (
    select * from {{ ref('base_loyalty__ledger_events') }}
),

changed_events as (
    -- events classified again since this model's last run, and events no longer staged
    select ledger_events.event_id
    from ledger_events
    where ledger_events._classified_through > {{ classification_watermark() }}
    union
    {{ changed_keys('base_ledger_events', 'event_id') }}
),

changed_positions as (
    -- where each changed lot is on its account's line now, and where it was at the last build
    select
        lots.account_id,
        lots.occurred_at,
        lots.lot_event_id
    from lots
    inner join changed_events
        on lots.lot_event_id = changed_events.event_id
    union all
    select
        previous.account_id,
        previous.occurred_at,
        previous.lot_event_id
    from {{ this }} as previous
    inner join changed_events
        on previous.lot_event_id = changed_events.event_id
),

restart_points as (
    -- per account, its first changed position
    {{ restart_points('changed_positions', ['account_id'], line_order) }}
),

kept_before_restart as (
    -- the last build's lots of each restarted account before its restart point stay
    select
        previous.account_id,
        sum(previous.lot_points) as points_before
    from {{ this }} as previous
    inner join restart_points
        on previous.account_id = restart_points.account_id
    where {{ before_restart('previous', 'restart_points', line_order) }}
    group by previous.account_id
),
{%- endif %}

lots_to_place as (
    -- a full build: every lot; an incremental one: those from each restart point on
    select
        lots.*,
        {{ 'coalesce(kept_before_restart.points_before, 0)' if is_incremental() else '0' }} as points_before
    from lots
    {%- if is_incremental() %}
    inner join restart_points
        on lots.account_id = restart_points.account_id
    left join kept_before_restart
        on lots.account_id = kept_before_restart.account_id
    where not {{ before_restart('lots', 'restart_points', line_order) }}
    {%- endif %}
),

positioned as (
    select
        lots_to_place.*,
        {{ 'lots_to_place.points_before + ' if is_incremental() }}sum(lots_to_place.lot_points) over (
            partition by lots_to_place.account_id
            order by lots_to_place.occurred_at, lots_to_place.lot_event_id
            rows between unbounded preceding and current row
        ) as lot_end
    from lots_to_place
),

final as (
    select
        positioned.account_id,
        positioned.lot_event_id,
        positioned.event_type,
        positioned.occurred_at,
        positioned.lot_month,
        positioned.lot_points,
        positioned.lot_end - positioned.lot_points as lot_start,
        positioned.lot_end,
        cast({{ dbt.dateadd('month', 'program_rules.value', 'positioned.lot_month') }} as date) as due_month,
        {{ newest_classification(['ledger_events']) }} as _classified_through
    from positioned
    inner join program_rules
        on
            {{ is_effective('program_rules', 'positioned.lot_month') }}
)

select * from final
{%- if is_incremental() %}
union all
-- key-only rows: changed events that are no longer a lot
select
    cast(null as {{ dbt.type_string() }}) as account_id,
    changed_events.event_id as lot_event_id,
    cast(null as {{ dbt.type_string() }}) as event_type,
    cast(null as timestamp) as occurred_at,
    cast(null as date) as lot_month,
    cast(null as bigint) as lot_points,
    cast(null as bigint) as lot_start,
    cast(null as bigint) as lot_end,
    cast(null as date) as due_month,
    cast(null as bigint) as _classified_through
from changed_events
left join lots
    on changed_events.event_id = lots.lot_event_id
where lots.lot_event_id is null
{%- endif %}
