-- One row per balance movement (balance_type, movement_id): every points ledger event and
-- every wallet transaction in one shape, with the balance's running total in the order the
-- ledger knew them (recorded_at, then movement_id). currency is null for points; currency_key
-- ('-' for points) is the null-free join key of a balance (account_id, balance_type, currency_key).
--
-- Incremental (docs/operations.md#incremental-refresh): a refresh continues each balance from
-- its running total. The movements staging (re)classified since this model's last run mark, in
-- each balance they are in now or were in at the last build, a restart point (the first of them
-- in the balance's order); the balance's movements from there on are numbered again from the
-- count and sum of the movements before it, which stay as they are. A day's movements recorded
-- after the last ones are appended; a late-recorded one renumbers its balance from its place. A
-- movement no longer staged loses its row (a key-only row, _classified_through null).

{{ config(
    materialized='incremental',
    incremental_strategy='undo_logged',
    unique_key=['balance_type', 'movement_id'],
    meta={'undo_logged_key_only_rows': '_classified_through is null'},
) }}

{%- set balance = ['account_id', 'balance_type', 'currency_key'] %}
{%- set balance_order = ['recorded_at', 'movement_id'] %}
{%- set balance_window -%}
    partition by movements_to_number.account_id, movements_to_number.balance_type, movements_to_number.currency_key
    order by movements_to_number.recorded_at, movements_to_number.movement_id
{%- endset %}

with

ledger_events as (
    select * from {{ ref('stg_loyalty__ledger_events') }}
),

wallet_transactions as (
    select * from {{ ref('stg_wallet__transactions') }}
),

base_ledger_events as (
    select * from {{ ref('base_loyalty__ledger_events') }}
),

base_wallet_transactions as (
    select * from {{ ref('base_wallet__wallet_transactions') }}
),

points_movements as (
    select
        account_id,
        'points' as balance_type,
        cast(null as {{ dbt.type_string() }}) as currency,
        '-' as currency_key,
        event_id as movement_id,
        event_type as movement_type,
        cast(points as decimal(18, 2)) as amount,
        occurred_at,
        recorded_at,
        order_id,
        reverses_event_id as reverses_movement_id
    from ledger_events
),

wallet_movements as (
    select
        account_id,
        'wallet' as balance_type,
        currency,
        currency as currency_key,
        txn_id as movement_id,
        txn_type as movement_type,
        amount,
        occurred_at,
        recorded_at,
        order_id,
        cast(null as {{ dbt.type_string() }}) as reverses_movement_id
    from wallet_transactions
),

movements as (
    select * from points_movements
    union all
    select * from wallet_movements
),

{%- if is_incremental() %}

changed_movements as (
    select
        'points' as balance_type,
        changed_events.event_id as movement_id
    from ({{ changed_keys('base_ledger_events', 'event_id') }}) as changed_events
    union all
    select
        'wallet' as balance_type,
        changed_transactions.txn_id as movement_id
    from ({{ changed_keys('base_wallet_transactions', 'txn_id') }}) as changed_transactions
),

changed_positions as (
    -- where each changed movement is now, and where it was at the last build
    select
        movements.account_id,
        movements.balance_type,
        movements.currency_key,
        movements.recorded_at,
        movements.movement_id
    from movements
    inner join changed_movements
        on
            movements.balance_type = changed_movements.balance_type
            and movements.movement_id = changed_movements.movement_id
    union all
    select
        previous.account_id,
        previous.balance_type,
        previous.currency_key,
        previous.recorded_at,
        previous.movement_id
    from {{ this }} as previous
    inner join changed_movements
        on
            previous.balance_type = changed_movements.balance_type
            and previous.movement_id = changed_movements.movement_id
),

restart_points as (
    -- per balance, its first changed position
    {{ restart_points('changed_positions', balance, balance_order) }}
),

kept_before_restart as (
    -- the last build's movements of each restarted balance before its restart point stay
    select
        previous.account_id,
        previous.balance_type,
        previous.currency_key,
        count(*) as movements_before,
        sum(previous.amount) as balance_before
    from {{ this }} as previous
    inner join restart_points
        on
            previous.account_id = restart_points.account_id
            and previous.balance_type = restart_points.balance_type
            and previous.currency_key = restart_points.currency_key
    where {{ before_restart('previous', 'restart_points', balance_order) }}
    group by previous.account_id, previous.balance_type, previous.currency_key
),
{%- endif %}

movements_to_number as (
    -- a full build: every movement; an incremental one: those from each restart point on
    select
        movements.*,
        {{ 'coalesce(kept_before_restart.movements_before, 0)' if is_incremental() else '0' }} as movements_before,
        {{ 'coalesce(kept_before_restart.balance_before, 0)' if is_incremental() else '0' }} as balance_before
    from movements
    {%- if is_incremental() %}
    inner join restart_points
        on
            movements.account_id = restart_points.account_id
            and movements.balance_type = restart_points.balance_type
            and movements.currency_key = restart_points.currency_key
    left join kept_before_restart
        on
            movements.account_id = kept_before_restart.account_id
            and movements.balance_type = kept_before_restart.balance_type
            and movements.currency_key = kept_before_restart.currency_key
    where not {{ before_restart('movements', 'restart_points', balance_order) }}
    {%- endif %}
),

final as (
    select
        movements_to_number.account_id,
        movements_to_number.balance_type,
        movements_to_number.currency,
        movements_to_number.currency_key,
        movements_to_number.movement_id,
        movements_to_number.movement_type,
        movements_to_number.amount,
        movements_to_number.occurred_at,
        movements_to_number.recorded_at,
        movements_to_number.order_id,
        movements_to_number.reverses_movement_id,
        {{ 'movements_to_number.balance_before + ' if is_incremental() }}sum(movements_to_number.amount) over (
            {{ balance_window }}
            rows between unbounded preceding and current row
        ) as running_balance,
        {{ 'movements_to_number.movements_before + ' if is_incremental() }}row_number() over (
            {{ balance_window }}
        ) as movement_sequence,
        {{ newest_classification(['base_ledger_events', 'base_wallet_transactions']) }} as _classified_through
    from movements_to_number
)

select * from final
{%- if is_incremental() %}
union all
-- key-only rows: changed movements that are no longer staged
select
    cast(null as {{ dbt.type_string() }}) as account_id,
    changed_movements.balance_type,
    cast(null as {{ dbt.type_string() }}) as currency,
    cast(null as {{ dbt.type_string() }}) as currency_key,
    changed_movements.movement_id,
    cast(null as {{ dbt.type_string() }}) as movement_type,
    cast(null as decimal(18, 2)) as amount,
    cast(null as timestamp) as occurred_at,
    cast(null as timestamp) as recorded_at,
    cast(null as {{ dbt.type_string() }}) as order_id,
    cast(null as {{ dbt.type_string() }}) as reverses_movement_id,
    cast(null as decimal(38, 2)) as running_balance,
    cast(null as bigint) as movement_sequence,
    cast(null as bigint) as _classified_through
from changed_movements
left join movements
    on
        changed_movements.balance_type = movements.balance_type
        and changed_movements.movement_id = movements.movement_id
where movements.movement_id is null
{%- endif %}
