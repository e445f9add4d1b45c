-- One row per drifting balance that a quarantined movement explains (docs/marts.md#likely-causes):
-- a row of audit.rejected_source_rows of the same account and balance, recorded at or before the
-- snapshot's as_of, whose amount is exactly the drift and whose key the ledger does not hold (a
-- conflicting re-delivery of a held movement is not a movement the balance missed). The
-- operational system applied what the warehouse rejected, so the fix is the feed, not the ledger.
-- One row explains the drift (amounts match exactly, no sums of rows); when several fit, the
-- latest recorded names the evidence.

with

balances as (
    select * from {{ ref('int_balances_reconciled') }}
    where drift_status in ('minor_drift', 'material_mismatch')
),

quarantined_movements as (
    select * from {{ ref('int_quarantined_movements') }}
    where not is_held_by_ledger
),

matches as (
    select
        quarantined_movements.*,
        row_number() over (
            partition by
                quarantined_movements.account_id,
                quarantined_movements.balance_type,
                quarantined_movements.currency_key
            order by
                quarantined_movements.recorded_at desc,
                quarantined_movements.source_file desc,
                quarantined_movements.source_row_number desc
        ) as recency
    from quarantined_movements
    inner join balances
        on
            quarantined_movements.account_id = balances.account_id
            and quarantined_movements.balance_type = balances.balance_type
            and quarantined_movements.currency_key = balances.currency_key
    where
        quarantined_movements.recorded_at <= balances.snapshot_as_of
        and quarantined_movements.amount = balances.drift
),

final as (
    select
        balances.account_id,
        balances.balance_type,
        balances.currency_key,
        'rejected_movement' as likely_cause,
        matches.movement_id as evidence_movement_id,
        {{ drift_sentence('balances.drift', 'balances.balance_type', 'balances.currency') }}
        || ' ' || case when balances.balance_type = 'points' then 'Event ' else 'Transaction ' end
        || coalesce(matches.movement_id, '(no id)') || ' ('
        || coalesce(matches.movement_type || ' ', '') || {{ format_signed('matches.amount', 'balances.balance_type') }}
        || ', recorded ' || {{ format_timestamp('matches.recorded_at') }}
        || ') was quarantined: ' || matches.source_file
        || ' row ' || cast(matches.source_row_number as {{ dbt.type_string() }})
        || ', ' || matches.reason || coalesce(' (' || matches.reason_detail || ')', '')
        || '. The operational system applied a row the warehouse rejected: likely a rejected movement;'
        || ' fix the feed and re-deliver the row, not the ledger.' as explanation
    from balances
    inner join matches
        on
            balances.account_id = matches.account_id
            and balances.balance_type = matches.balance_type
            and balances.currency_key = matches.currency_key
    where matches.recency = 1
)

select * from final
