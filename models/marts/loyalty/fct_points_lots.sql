-- One row per points lot (lot_event_id): what is left of it now under FIFO. Every points
-- removal the ledger holds (redeem, expire, negative correct and reverse) consumes the oldest
-- lots first, so a lot is used up to the account's total removed points on the cumulative lot
-- line: remaining = clamp(lot_end - removed, 0, lot_points). An account with reinstated points
-- (a reverse of a redemption, expiry or negative correction puts its points back into the lots
-- that event consumed) is replayed event by event instead (int_points_lots_replayed, basis
-- ledger). Σ remaining equals the balance whenever the balance is not negative (a negative
-- balance is a debt the next points pay).

with

lots as (
    select * from {{ ref('int_points_lots') }}
),

ledger_events as (
    select * from {{ ref('int_points_events_classified') }}
),

replayed_lots as (
    select * from {{ ref('int_points_lots_replayed') }}
    where basis = 'ledger' and outcome = 'remaining'
),

removed as (
    select
        account_id,
        -sum(points) as removed_points
    from ledger_events
    where ledger_role = 'consume'
    group by account_id
),

final as (
    select
        lots.account_id,
        lots.lot_event_id,
        lots.event_type,
        lots.occurred_at,
        lots.lot_month,
        lots.due_month,
        cast(lots.lot_points as bigint) as lot_points,
        cast(coalesce(
            replayed_lots.points,
            least(lots.lot_points, greatest(0, lots.lot_end - coalesce(removed.removed_points, 0)))
        ) as bigint) as remaining_points,
        cast(lots.lot_start as bigint) as lot_start,
        cast(lots.lot_end as bigint) as lot_end
    from lots
    left join removed
        on lots.account_id = removed.account_id
    left join replayed_lots
        on lots.lot_event_id = replayed_lots.lot_event_id
)

select * from final
