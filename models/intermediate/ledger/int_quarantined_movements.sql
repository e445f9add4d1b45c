-- One row per quarantined movement row (source_file, source_row_number, load_id): a row of
-- audit.rejected_source_rows from ledger_events or wallet_transactions whose account and amount
-- parse, in the shape of int_balance_movements (the values as staging parsed them), and whether
-- the ledger holds a movement with its key. int_drift_cause__rejected_movement matches these
-- against the drift (docs/marts.md#likely-causes); layers stay one-way: staging -> audit -> here.

with

rejected_rows as (
    select * from {{ ref('rejected_source_rows') }}
    where source in ('ledger_events', 'wallet_transactions')
),

ledger_event_rows as (
    select * from {{ ref('base_loyalty__ledger_events') }}
    where row_status = 'rejected'
),

wallet_transaction_rows as (
    select * from {{ ref('base_wallet__wallet_transactions') }}
    where row_status = 'rejected'
),

ledger_movements as (
    select * from {{ ref('int_balance_movements') }}
),

parsed_rows as (
    select
        _source_file as source_file,
        _source_row_number as source_row_number,
        _load_id as load_id,
        account_id,
        'points' as balance_type,
        cast(null as {{ dbt.type_string() }}) as currency,
        '-' as currency_key,
        event_id as movement_id,
        raw_event_type as movement_type,
        cast(points as decimal(18, 2)) as amount,
        occurred_at,
        recorded_at
    from ledger_event_rows
    union all
    select
        _source_file as source_file,
        _source_row_number as source_row_number,
        _load_id as load_id,
        account_id,
        'wallet' as balance_type,
        currency,
        currency as currency_key,
        txn_id as movement_id,
        raw_txn_type as movement_type,
        amount,
        occurred_at,
        recorded_at
    from wallet_transaction_rows
),

quarantined as (
    select
        parsed_rows.*,
        rejected_rows.source,
        rejected_rows.reason,
        rejected_rows.reason_detail
    from rejected_rows
    inner join parsed_rows
        on
            rejected_rows.source_file = parsed_rows.source_file
            and rejected_rows.source_row_number = parsed_rows.source_row_number
            and rejected_rows.load_id = parsed_rows.load_id
    where
        parsed_rows.account_id is not null
        and parsed_rows.currency_key is not null
        and parsed_rows.amount is not null
),

final as (
    select
        quarantined.*,
        ledger_movements.movement_id is not null as is_held_by_ledger
    from quarantined
    left join ledger_movements
        on
            quarantined.movement_id = ledger_movements.movement_id
            and quarantined.balance_type = ledger_movements.balance_type
)

select * from final
