-- One row per ledger event (event_id): the staged points ledger.

with

base as (
    select * from {{ ref('base_loyalty__ledger_events') }}
    where row_status = 'staged'
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
        source as source_system,
        _source_file as source_file
    from base
)

select * from final
