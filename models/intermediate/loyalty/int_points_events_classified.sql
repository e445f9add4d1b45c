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

with

ledger_events as (
    select * from {{ ref('stg_loyalty__ledger_events') }}
),

with_reversed as (
    select
        ledger_events.event_id,
        ledger_events.account_id,
        ledger_events.event_type,
        ledger_events.points,
        ledger_events.occurred_at,
        ledger_events.recorded_at,
        ledger_events.order_id,
        ledger_events.reverses_event_id,
        reversed.event_type as reversed_event_type,
        -- a reinstatement needs the consuming event on the same account
        ledger_events.event_type = 'reverse' and ledger_events.points > 0 and reversed.event_id is not null
            as is_reinstatement
    from ledger_events
    left join ledger_events as reversed
        on
            ledger_events.reverses_event_id = reversed.event_id
            and ledger_events.account_id = reversed.account_id
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
        end as ledger_role
    from with_reversed
)

select * from final
