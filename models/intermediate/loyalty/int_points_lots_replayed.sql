-- One row per basis, lot and what became of its points (basis, lot_event_id, outcome,
-- outcome_month), for the accounts whose FIFO lots cannot be read off a line: those with a
-- reinstatement (a reverse of a redemption, negative correction or expiry puts the points back
-- into the lots the reversed event consumed, so the used points are no longer the oldest ones).
-- Every other account keeps the set-based line of int_points_lots (int_points_expiry_expected,
-- fct_points_lots). Rules: docs/program.md#expiry.
--
-- The account's events are replayed in order (a recursive CTE, one step at a time) on rows for
-- each lot, each (lot, consuming event that is reversed later) hold and the account's debt:
--   run        the lots and consumptions between two month ends or reinstatements: FIFO with
--              debt takes a prefix of the line of points (what the lots hold, then the lots
--              arriving, the newest), so a run is one step; a debt is paid by the next points;
--              the holds of a consumption reversed later record what its interval on that line
--              took from each lot that had arrived by then;
--   reinstate  takes the points back from the reversed event's holds, newest lot first (a
--              partial reversal leaves the redemption as if it had been for the smaller amount);
--   reinstate_apply  puts them into those lots: they pay a debt first, and points the event
--              never took from a lot (it overdrew the balance) go to the newest lot;
--   month_end  (basis expected only) expires what is left of the lots due that month.
-- Only the rows that can still change are stepped: a lot joins the replay the step before it
-- arrives and a hold the step before its consumption's run (entering_rows), and a row leaves
-- once it holds nothing and can receive nothing (is_settled). The work is the live rows times
-- the steps, not every lot times every step.
-- Reinstated points keep their lot's due month; when it has passed, they are due at the end of
-- the reversal's month. Bases (int_points_events_classified): `expected` is the program's own
-- expiry, `ledger` is every removal the ledger holds (fct_points_lots).
-- Outcomes: `expired` in outcome_month (expected: month ends while the account had events, up to
-- the last month ended by the warehouse's as-of, int_warehouse_as_of; then what is left at its
-- due month, whether or not that month has ended: int_points_expiry_expected reads the due
-- months that have) and `remaining` (ledger: what is left of the lot now).
--
-- Incremental (docs/operations.md#incremental-refresh): an account's replay reads only its own
-- events, its lots and (basis expected) the last month end it replays (the month before its
-- last event's, or the last month ended by the as-of when that is earlier), hashed into
-- replay_input_hash. A new month end therefore replays no account by itself. A run replays the
-- accounts whose hash changed since the last build (new or reclassified events, an as-of set
-- before an account's last event) and replaces all their rows (unique_key basis, account_id).
-- Each account it replays, and each account that no longer needs the replay, also gets a
-- key-only row (lot_event_id null), which the undo_logged strategy uses to replace the
-- account's rows but does not insert: an account whose replay now leaves no row loses its old
-- rows.

{{ config(
    materialized='incremental',
    incremental_strategy='undo_logged',
    unique_key=['basis', 'account_id'],
    on_schema_change='append_new_columns',
    meta={'undo_logged_key_only_rows': 'lot_event_id is null'},
    post_hook=["{{ drop_recursive_steps('replay') }}"],
) }}

{#- a build from before the hash column existed replays every account once -#}
{%- set has_previous_hash = false %}
{%- if execute and is_incremental() %}
    {%- set previous_columns = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list %}
    {%- set has_previous_hash = 'replay_input_hash' in previous_columns %}
{%- endif %}

{#- what a row of the replay is (its state follows): kind, lot, and the consumption a hold is for -#}
{%- set row_columns = [
    ('row_kind', dbt.type_string()), ('lot_event_id', dbt.type_string()), ('lot_rank', 'bigint'),
    ('lot_points', 'bigint'), ('due_month', 'date'), ('arrival_step_number', 'bigint'),
    ('held_for_event_id', dbt.type_string()), ('held_step_number', 'bigint'), ('held_offset', 'bigint'),
    ('held_demand', 'bigint'),
] %}

{#- The replay's inputs: every CTE up to the rows it starts from (start_rows), the rows that
    join it at a step (entering_rows) and its steps (steps) -#}
{#- sqlfluff reads the set blocks below (the inputs, the start, the step) where they stand,
    before `with`: its layout rule LT02 would indent them as if nested (they are rendered at the
    top level and in the replay CTE below); it is back on from `with` -#}
-- noqa: disable=LT02
{%- set replay_inputs %}
events as (
    select * from {{ ref('int_points_events_classified') }}
),

lots as (
    select * from {{ ref('int_points_lots') }}
),

warehouse_as_of as (
    select * from {{ ref('int_warehouse_as_of') }}
),

event_roles as (
    select
        'expected' as basis,
        account_id,
        event_id,
        occurred_at,
        points,
        expected_role as fifo_role,
        reinstates_event_id
    from events
    union all
    select
        'ledger' as basis,
        account_id,
        event_id,
        occurred_at,
        points,
        ledger_role as fifo_role,
        reinstates_event_id
    from events
),

replay_candidates as (
    select distinct
        basis,
        account_id
    from event_roles
    where fifo_role = 'reinstate'
),

candidate_events as (
    select
        event_roles.basis,
        event_roles.account_id,
        {{ dbt.listagg(
            dbt.concat([
                'event_roles.event_id', "'|'",
                'cast(event_roles.occurred_at as ' ~ dbt.type_string() ~ ')', "'|'",
                'cast(event_roles.points as ' ~ dbt.type_string() ~ ')', "'|'",
                'event_roles.fifo_role', "'|'",
                "coalesce(event_roles.reinstates_event_id, '')",
            ]),
            "';'",
            'order by event_roles.event_id, event_roles.fifo_role',
        ) }} as events_text,
        {{ month_start('min(event_roles.occurred_at)') }} as first_event_month,
        cast({{ dbt.dateadd('month', -1, month_start('max(event_roles.occurred_at)')) }} as date)
            as last_event_month_end
    from event_roles
    inner join replay_candidates
        on
            event_roles.basis = replay_candidates.basis
            and event_roles.account_id = replay_candidates.account_id
    where event_roles.fifo_role in ('lot', 'consume', 'reinstate')
    group by event_roles.basis, event_roles.account_id
),

candidate_lots as (
    select
        lots.account_id,
        {{ dbt.listagg(
            dbt.concat([
                'lots.lot_event_id', "'|'",
                'cast(lots.occurred_at as ' ~ dbt.type_string() ~ ')', "'|'",
                'cast(lots.due_month as ' ~ dbt.type_string() ~ ')',
            ]),
            "';'",
            'order by lots.lot_event_id',
        ) }} as lots_text
    from lots
    where lots.account_id in (select replay_candidates.account_id from replay_candidates)
    group by lots.account_id
),

candidate_month_ends as (
    -- the month ends an expected-basis replay steps through: each one with an event after it,
    -- up to the last month ended by the as-of (later due months are read off the final state)
    select
        candidate_events.*,
        case
            when candidate_events.last_event_month_end < warehouse_as_of.last_ended_month
                then candidate_events.last_event_month_end
            else warehouse_as_of.last_ended_month
        end as last_month_end
    from candidate_events
    cross join warehouse_as_of
),

replay_inputs as (
    -- what an account's replay reads, as one hash (see the top of this file)
    select
        candidate_month_ends.basis,
        candidate_month_ends.account_id,
        candidate_month_ends.first_event_month,
        candidate_month_ends.last_month_end,
        {{ dbt.hash(dbt.concat([
            'candidate_month_ends.events_text', "'#'",
            "coalesce(candidate_lots.lots_text, '')", "'#'",
            "case when candidate_month_ends.basis = 'expected' then cast(candidate_month_ends.last_month_end as "
                ~ dbt.type_string() ~ ") else '' end",
        ])) }} as replay_input_hash
    from candidate_month_ends
    left join candidate_lots
        on candidate_month_ends.account_id = candidate_lots.account_id
),

{%- if is_incremental() %}

previous_replays as (
    select distinct
        basis,
        account_id,
        {{ 'replay_input_hash' if has_previous_hash else 'cast(null as ' ~ dbt.type_string() ~ ')' }}
            as replay_input_hash
    from {{ this }}
),

vanished_replays as (
    -- accounts replayed before that no longer need the replay
    select
        previous_replays.basis,
        previous_replays.account_id
    from previous_replays
    left join replay_inputs
        on
            previous_replays.basis = replay_inputs.basis
            and previous_replays.account_id = replay_inputs.account_id
    where replay_inputs.account_id is null
),
{%- endif %}

replayed_accounts as (
    -- every candidate in a full build; in an incremental one, those whose inputs changed since
    -- the last build (or whose replay left no row)
    select replay_inputs.*
    from replay_inputs
    {%- if is_incremental() %}
    left join previous_replays
        on
            replay_inputs.basis = previous_replays.basis
            and replay_inputs.account_id = previous_replays.account_id
    where
        previous_replays.replay_input_hash is null
        or previous_replays.replay_input_hash <> replay_inputs.replay_input_hash
    {%- endif %}
),

account_events as (
    select event_roles.*
    from event_roles
    inner join replayed_accounts
        on
            event_roles.basis = replayed_accounts.basis
            and event_roles.account_id = replayed_accounts.account_id
    where event_roles.fifo_role in ('lot', 'consume', 'reinstate')
),

month_end_ranges as (
    -- the expected basis expires lots at each month end of candidate_month_ends
    select
        replayed_accounts.basis,
        replayed_accounts.account_id,
        replayed_accounts.first_event_month as first_month,
        replayed_accounts.last_month_end as last_month
    from replayed_accounts
    where replayed_accounts.basis = 'expected'
),

month_ends as (
    {{ month_series('month_end_ranges', 'month_end_ranges.first_month', 'month_end_ranges.last_month') }}
),

elements as (
    -- events and month ends in replay order
    select
        basis,
        account_id,
        event_id,
        fifo_role as element_kind,
        abs(points) as element_points,
        reinstates_event_id,
        occurred_at as sort_at,
        1 as sort_class,
        {{ month_start('occurred_at') }} as element_month
    from account_events
    union all
    select
        basis,
        account_id,
        cast(null as {{ dbt.type_string() }}) as event_id,
        'month_end' as element_kind,
        0 as element_points,
        cast(null as {{ dbt.type_string() }}) as reinstates_event_id,
        -- at the first instant of the next month, before any event of that instant
        cast({{ dbt.dateadd('month', 1, 'month_start') }} as timestamp) as sort_at,
        0 as sort_class,
        month_start as element_month
    from month_ends
),

elements_ordered as (
    select
        elements.*,
        row_number() over (
            partition by elements.basis, elements.account_id
            order by elements.sort_at, elements.sort_class, elements.event_id
        ) as element_position
    from elements
),

elements_grouped as (
    -- the lots and consumptions between two month ends or reinstatements form one run: FIFO
    -- with debt takes a prefix of the line of points, so a run is one step
    select
        elements_ordered.*,
        sum(case when elements_ordered.element_kind in ('month_end', 'reinstate') then 1 else 0 end) over (
            partition by elements_ordered.basis, elements_ordered.account_id
            order by elements_ordered.element_position
            rows between unbounded preceding and current row
        ) as boundaries_so_far
    from elements_ordered
),

steps_unordered as (
    select
        basis,
        account_id,
        'run' as step_kind,
        cast(null as {{ dbt.type_string() }}) as step_event_id,
        sum(case when element_kind = 'consume' then element_points else 0 end) as step_points,
        cast(null as {{ dbt.type_string() }}) as step_target_event_id,
        min(element_position) as sort_position,
        0 as sort_phase,
        cast(null as date) as step_month,
        boundaries_so_far as run_key
    from elements_grouped
    where element_kind in ('lot', 'consume')
    group by basis, account_id, boundaries_so_far
    union all
    select
        basis,
        account_id,
        element_kind as step_kind,
        event_id as step_event_id,
        element_points as step_points,
        reinstates_event_id as step_target_event_id,
        element_position as sort_position,
        0 as sort_phase,
        element_month as step_month,
        cast(null as bigint) as run_key
    from elements_grouped
    where element_kind in ('month_end', 'reinstate')
    union all
    select
        basis,
        account_id,
        'reinstate_apply' as step_kind,
        event_id as step_event_id,
        element_points as step_points,
        reinstates_event_id as step_target_event_id,
        element_position as sort_position,
        1 as sort_phase,
        element_month as step_month,
        cast(null as bigint) as run_key
    from elements_grouped
    where element_kind = 'reinstate'
),

steps as (
    select
        steps_unordered.*,
        row_number() over (
            partition by steps_unordered.basis, steps_unordered.account_id
            order by steps_unordered.sort_position, steps_unordered.sort_phase
        ) as step_number
    from steps_unordered
),

run_elements as (
    -- each lot and consumption with its run's step and the run's consumption before it
    select
        elements_grouped.basis,
        elements_grouped.account_id,
        elements_grouped.event_id,
        elements_grouped.element_kind,
        elements_grouped.element_points,
        elements_grouped.element_position,
        steps.step_number as run_step_number,
        coalesce(sum(
            case when elements_grouped.element_kind = 'consume' then elements_grouped.element_points else 0 end
        ) over (
            partition by elements_grouped.basis, elements_grouped.account_id, elements_grouped.boundaries_so_far
            order by elements_grouped.element_position
            rows between unbounded preceding and 1 preceding
        ), 0) as consumed_before_in_run
    from elements_grouped
    inner join steps
        on
            elements_grouped.basis = steps.basis
            and elements_grouped.account_id = steps.account_id
            and elements_grouped.boundaries_so_far = steps.run_key
    where elements_grouped.element_kind in ('lot', 'consume')
),

last_steps as (
    select
        basis,
        account_id,
        max(step_number) as last_step_number
    from steps
    group by basis, account_id
),

lot_slots as (
    select
        replayed_accounts.basis,
        lots.account_id,
        lots.lot_event_id,
        arrivals.element_points as lot_points,
        lots.due_month,
        arrivals.run_step_number as arrival_step_number,
        arrivals.element_position as arrival_position,
        row_number() over (
            partition by replayed_accounts.basis, lots.account_id
            order by lots.occurred_at, lots.lot_event_id
        ) as lot_rank
    from lots
    inner join replayed_accounts
        on lots.account_id = replayed_accounts.account_id
    inner join run_elements as arrivals
        on
            replayed_accounts.basis = arrivals.basis
            and lots.lot_event_id = arrivals.event_id
),

held_events as (
    -- consumptions reversed later: what they take from each lot is held for the reversal
    select distinct
        account_events.basis,
        account_events.account_id,
        account_events.reinstates_event_id as held_for_event_id,
        held.run_step_number as held_step_number,
        held.consumed_before_in_run as held_offset,
        held.element_points as held_demand,
        held.element_position as held_position
    from account_events
    inner join run_elements as held
        on
            account_events.basis = held.basis
            and account_events.reinstates_event_id = held.event_id
    where account_events.fifo_role = 'reinstate'
),

start_rows as (
    select
        basis,
        account_id,
        'lot' as row_kind,
        lot_event_id,
        lot_rank,
        lot_points,
        due_month,
        arrival_step_number,
        cast(null as {{ dbt.type_string() }}) as held_for_event_id,
        cast(null as bigint) as held_step_number,
        cast(null as bigint) as held_offset,
        cast(null as bigint) as held_demand,
        arrival_step_number - 1 as entry_step_number
    from lot_slots
    union all
    select
        lot_slots.basis,
        lot_slots.account_id,
        'hold' as row_kind,
        lot_slots.lot_event_id,
        lot_slots.lot_rank,
        0 as lot_points,
        lot_slots.due_month,
        cast(null as bigint) as arrival_step_number,
        held_events.held_for_event_id,
        held_events.held_step_number,
        held_events.held_offset,
        held_events.held_demand,
        held_events.held_step_number - 1 as entry_step_number
    from lot_slots
    inner join held_events
        on
            lot_slots.basis = held_events.basis
            and lot_slots.account_id = held_events.account_id
            -- a consumption takes only from the lots that arrived before it
            and lot_slots.arrival_position < held_events.held_position
    union all
    select
        basis,
        account_id,
        'debt' as row_kind,
        cast(null as {{ dbt.type_string() }}) as lot_event_id,
        0 as lot_rank,
        0 as lot_points,
        cast(null as date) as due_month,
        cast(null as bigint) as arrival_step_number,
        cast(null as {{ dbt.type_string() }}) as held_for_event_id,
        cast(null as bigint) as held_step_number,
        cast(null as bigint) as held_offset,
        cast(null as bigint) as held_demand,
        0 as entry_step_number
    from replayed_accounts
),

entering_rows as (
    -- a row joins the replay in the state before the step that first changes it (a lot before
    -- it arrives, a hold before its consumption's run; until then it holds nothing): the
    -- account's debt row carries it in, and carries itself on (is_entering false)
    select
        start_rows.*,
        true as is_entering
    from start_rows
    where start_rows.entry_step_number > 0
    union all
    -- the debt row again at every step
    select
        debt.basis,
        debt.account_id,
        {%- for column, data_type in row_columns %}
        debt.{{ column }},
        {%- endfor %}
        steps.step_number as entry_step_number,
        false as is_entering
    from start_rows as debt
    inner join steps
        on
            debt.basis = steps.basis
            and debt.account_id = steps.account_id
    where debt.row_kind = 'debt'
)
{%- endset %}

{#- Values of the previous step, read across the account's rows with window functions (the
    recursive term is one select over the previous step: no aggregate, no subquery). -#}
{%- set account = 'partition by replay.basis, replay.account_id' -%}
{%- set up_to_rank = 'order by replay.lot_rank range between unbounded preceding and current row' -%}
{%- set from_rank_up = 'order by replay.lot_rank desc range between unbounded preceding and current row' -%}
{%- set owed = "max(case when replay.row_kind = 'debt' then replay.owed_points else 0 end)"
    ~ " over (" ~ account ~ ")" -%}
{%- set excess = "max(case when replay.row_kind = 'debt' then replay.excess_points else 0 end)"
    ~ " over (" ~ account ~ ")" -%}
{#- a run: the points on the line are what the lots hold plus the lots arriving in the run (the
    newest); the debt and the run's consumptions take its prefix -#}
{%- set line_points = "case when replay.row_kind <> 'lot' then 0"
    ~ " when replay.arrival_step_number = steps.step_number then replay.remaining_points + replay.lot_points"
    ~ " else replay.remaining_points end" -%}
{%- set at_rank = "sum(" ~ line_points ~ ") over (" ~ account ~ ", replay.lot_rank)" -%}
{%- set before_rank = "(sum(" ~ line_points ~ ") over (" ~ account ~ " " ~ up_to_rank ~ ") - " ~ at_rank ~ ")" -%}
{%- set removed = "(" ~ owed ~ " + steps.step_points)" -%}
{%- set line_total = "sum(" ~ line_points ~ ") over (" ~ account ~ ")" -%}
{#- what a consumption reversed later took from the lot: its interval on the line (after the
    debt and the run's consumptions before it), over the lots that had arrived by then -#}
{%- set held_take = "greatest(0, least(" ~ before_rank ~ " + " ~ at_rank
    ~ ", " ~ owed ~ " + replay.held_offset + replay.held_demand)"
    ~ " - greatest(" ~ before_rank ~ ", " ~ owed ~ " + replay.held_offset))" -%}
{#- what the reversed event holds of the newer lots: a reinstatement gives those back first -#}
{%- set target_held = "case when replay.row_kind = 'hold'"
    ~ " and replay.held_for_event_id = steps.step_target_event_id then replay.held_points else 0 end" -%}
{%- set newer_held = "(sum(" ~ target_held ~ ") over (" ~ account ~ " " ~ from_rank_up ~ ")"
    ~ " - replay.held_points)" -%}
{#- what a reinstatement gives each lot, and the debt it pays first, oldest lot first -#}
{%- set giving = "case when replay.row_kind = 'hold' then replay.giving_points else 0 end" -%}
{%- set give_at_rank = "sum(" ~ giving ~ ") over (" ~ account ~ ", replay.lot_rank)" -%}
{%- set give_before_rank = "(sum(" ~ giving ~ ") over (" ~ account ~ " " ~ up_to_rank ~ ")"
    ~ " - " ~ give_at_rank ~ ")" -%}
{%- set give_total = "sum(" ~ giving ~ ") over (" ~ account ~ ")" -%}
{%- set owed_after_give = "greatest(0, " ~ owed ~ " - " ~ give_total ~ ")" -%}
{%- set excess_paid = "least(" ~ owed_after_give ~ ", " ~ excess ~ ")" -%}
{%- set newest_arrived = "max(case when replay.row_kind = 'lot' and replay.is_arrived then replay.lot_rank end)"
    ~ " over (" ~ account ~ ")" -%}
{%- set received = "(" ~ give_at_rank
    ~ " - least(" ~ give_at_rank ~ ", greatest(0, " ~ owed ~ " - " ~ give_before_rank ~ "))"
    ~ " + case when replay.lot_rank = " ~ newest_arrived
    ~ " then " ~ excess ~ " - " ~ excess_paid ~ " else 0 end)" -%}
{#- a row whose state can no longer change and adds nothing to the others' leaves the replay (it
    holds no points and gives none: what the rows left behind read of it is zero):
    a lot that arrived, holds nothing, is not the newest arrived (excess goes there) and no hold
    keeps or gives points of it; a hold past its consumption's step with nothing held or given.
    The flag is read off the previous step, so the row leaves one step later. -#}
{%- set held_at_rank = "sum(case when replay.row_kind = 'hold' then replay.held_points + replay.giving_points"
    ~ " else 0 end) over (" ~ account ~ ", replay.lot_rank)" -%}
{%- set settled = "coalesce(case"
    ~ " when replay.row_kind = 'lot' then replay.is_arrived and replay.remaining_points = 0"
    ~ " and replay.lot_rank < " ~ newest_arrived ~ " and " ~ held_at_rank ~ " = 0"
    ~ " when replay.row_kind = 'hold' then replay.held_step_number <= replay.step_number"
    ~ " and replay.held_points = 0 and replay.giving_points = 0"
    ~ " else false end, false)" -%}
{#- a row the debt row carries in at this step starts from nothing -#}
{%- set entering = "coalesce(entering_rows.is_entering, false)" %}

{#- the state before the first step -#}
{%- set replay_start %}
    select
        basis,
        account_id,
        cast(0 as bigint) as step_number,
        cast('start' as {{ dbt.type_string() }}) as step_kind,
        cast(null as date) as step_month,
        {%- for column, data_type in row_columns %}
        cast({{ column }} as {{ data_type }}) as {{ column }},
        {%- endfor %}
        cast(due_month as date) as effective_due_month,
        false as is_arrived,
        false as is_settled,
        cast(0 as bigint) as remaining_points,
        cast(0 as bigint) as held_points,
        cast(0 as bigint) as giving_points,
        cast(0 as bigint) as owed_points,
        cast(0 as bigint) as excess_points,
        cast(0 as bigint) as expired_points
    from __start_rows__ as start_rows
    where start_rows.entry_step_number = 0
{%- endset %}

{#- one step: the next state from the previous one (__replay__) -#}
{%- set replay_step %}
    select
        replay.basis,
        replay.account_id,
        cast(steps.step_number as bigint) as step_number,
        cast(steps.step_kind as {{ dbt.type_string() }}) as step_kind,
        cast(steps.step_month as date) as step_month,
        {%- for column, data_type in row_columns %}
        cast(case
            when {{ entering }} then entering_rows.{{ column }}
            else replay.{{ column }}
        end as {{ data_type }}) as {{ column }},
        {%- endfor %}
        cast(case
            when {{ entering }} then entering_rows.due_month
            when
                steps.step_kind = 'reinstate_apply' and replay.row_kind = 'lot'
                and replay.due_month < steps.step_month and {{ received }} > 0
                then steps.step_month
            else replay.effective_due_month
        end as date) as effective_due_month,
        not {{ entering }} and (
            replay.is_arrived
            or coalesce(steps.step_kind = 'run' and replay.arrival_step_number = steps.step_number, false)
        ) as is_arrived,
        not {{ entering }} and {{ settled }} as is_settled,
        cast(case
            when {{ entering }} then 0
            when replay.row_kind <> 'lot' then 0
            when steps.step_kind = 'run'
                then least({{ at_rank }}, greatest(0, {{ before_rank }} + {{ at_rank }} - {{ removed }}))
            when steps.step_kind = 'reinstate_apply' then replay.remaining_points + {{ received }}
            when steps.step_kind = 'month_end' and replay.effective_due_month = steps.step_month then 0
            else replay.remaining_points
        end as bigint) as remaining_points,
        cast(case
            when {{ entering }} then 0
            when replay.row_kind <> 'hold' then 0
            when steps.step_kind = 'run' and replay.held_step_number = steps.step_number
                then replay.held_points + {{ held_take }}
            when steps.step_kind = 'reinstate' and replay.held_for_event_id = steps.step_target_event_id
                then replay.held_points - least(replay.held_points, greatest(0, steps.step_points - {{ newer_held }}))
            else replay.held_points
        end as bigint) as held_points,
        cast(case
            when {{ entering }} then 0
            when
                replay.row_kind = 'hold' and steps.step_kind = 'reinstate'
                and replay.held_for_event_id = steps.step_target_event_id
                then least(replay.held_points, greatest(0, steps.step_points - {{ newer_held }}))
            else 0
        end as bigint) as giving_points,
        cast(case
            when {{ entering }} then 0
            when replay.row_kind <> 'debt' then 0
            when steps.step_kind = 'run' then greatest(0, {{ removed }} - {{ line_total }})
            when steps.step_kind = 'reinstate_apply' then {{ owed_after_give }} - {{ excess_paid }}
            else {{ owed }}
        end as bigint) as owed_points,
        cast(case
            when {{ entering }} then 0
            when replay.row_kind = 'debt' and steps.step_kind = 'reinstate'
                then greatest(0, steps.step_points - sum({{ target_held }}) over ({{ account }}))
            else 0
        end as bigint) as excess_points,
        cast(case
            when {{ entering }} then 0
            when
                replay.row_kind = 'lot' and steps.step_kind = 'month_end'
                and replay.effective_due_month = steps.step_month
                then replay.remaining_points
            else 0
        end as bigint) as expired_points
    from __replay__ as replay
    inner join __steps__ as steps
        on
            replay.basis = steps.basis
            and replay.account_id = steps.account_id
            and replay.step_number + 1 = steps.step_number
    left join __entering_rows__ as entering_rows
        on
            replay.row_kind = 'debt'
            and replay.basis = entering_rows.basis
            and replay.account_id = entering_rows.account_id
            and steps.step_number = entering_rows.entry_step_number
    where not replay.is_settled
{%- endset %}
-- noqa: enable=LT02

with {{ 'recursive' if target.type != 'spark' }}

{{ replay_inputs }},

replay as (
    {{ recursive_steps('replay', replay_start, replay_step, ['steps', 'entering_rows', 'start_rows'], replay_inputs) }}
),

expired_at_month_ends as (
    select
        basis,
        account_id,
        lot_event_id,
        'expired' as outcome,
        step_month as outcome_month,
        expired_points as points
    from replay
    where row_kind = 'lot' and step_kind = 'month_end' and expired_points > 0
),

final_state as (
    select replay.*
    from replay
    inner join last_steps
        on
            replay.basis = last_steps.basis
            and replay.account_id = last_steps.account_id
            and replay.step_number = last_steps.last_step_number
    where replay.row_kind = 'lot'
),

outcomes as (
    select * from expired_at_month_ends
    union all
    -- expected: what is left after the last event expires at its due month (ended or not: the
    -- as-of decides downstream, so a new month end changes no replayed row)
    select
        final_state.basis,
        final_state.account_id,
        final_state.lot_event_id,
        'expired' as outcome,
        final_state.effective_due_month as outcome_month,
        final_state.remaining_points as points
    from final_state
    where final_state.basis = 'expected' and final_state.remaining_points > 0
    union all
    -- ledger: what is left of every lot (a lot that left the replay holds nothing)
    select
        lot_slots.basis,
        lot_slots.account_id,
        lot_slots.lot_event_id,
        'remaining' as outcome,
        cast(null as date) as outcome_month,
        coalesce(final_state.remaining_points, 0) as points
    from lot_slots
    left join final_state
        on
            lot_slots.basis = final_state.basis
            and lot_slots.account_id = final_state.account_id
            and lot_slots.lot_event_id = final_state.lot_event_id
    where lot_slots.basis = 'ledger'
),

final as (
    select
        cast(outcomes.basis as {{ dbt.type_string() }}) as basis,
        outcomes.account_id,
        outcomes.lot_event_id,
        cast(outcomes.outcome as {{ dbt.type_string() }}) as outcome,
        outcomes.outcome_month,
        cast(sum(outcomes.points) as bigint) as points,
        replayed_accounts.replay_input_hash
    from outcomes
    inner join replayed_accounts
        on
            outcomes.basis = replayed_accounts.basis
            and outcomes.account_id = replayed_accounts.account_id
    group by
        outcomes.basis,
        outcomes.account_id,
        outcomes.lot_event_id,
        outcomes.outcome,
        outcomes.outcome_month,
        replayed_accounts.replay_input_hash
)

select * from final
{%- if is_incremental() %}
union all
-- key-only rows (see the top of this file)
select
    cast(replaced_accounts.basis as {{ dbt.type_string() }}) as basis,
    replaced_accounts.account_id,
    cast(null as {{ dbt.type_string() }}) as lot_event_id,
    cast(null as {{ dbt.type_string() }}) as outcome,
    cast(null as date) as outcome_month,
    cast(null as bigint) as points,
    cast(null as {{ dbt.type_string() }}) as replay_input_hash
from (
    select
        replayed_accounts.basis,
        replayed_accounts.account_id
    from replayed_accounts
    union all
    select
        vanished_replays.basis,
        vanished_replays.account_id
    from vanished_replays
) as replaced_accounts
{%- endif %}
