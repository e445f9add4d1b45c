-- One row per points lot (lot_event_id): every earn and positive correction is a lot (and a
-- positive reverse whose reversed event the ledger does not hold; a reverse of a redemption
-- puts its points back into the lots the redemption consumed instead, see
-- int_points_lots_replayed), placed on its account's FIFO line by (occurred_at, event_id).
-- lot_start / lot_end are the lot's interval on the account's cumulative lot line: FIFO
-- consumption of U points in total has used exactly the part of each lot below U (on an
-- account with no reinstated points).
-- Points earned in month M are due to expire at the end of month M + expiry_after_months.

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

positioned as (
    select
        lots.*,
        sum(lots.lot_points) over (
            partition by lots.account_id
            order by lots.occurred_at, lots.lot_event_id
            rows between unbounded preceding and current row
        ) as lot_end
    from lots
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
        cast({{ dbt.dateadd('month', 'program_rules.value', 'positioned.lot_month') }} as date) as due_month
    from positioned
    inner join program_rules
        on
            {{ is_effective('program_rules', 'positioned.lot_month') }}
)

select * from final
