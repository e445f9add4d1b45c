-- The plain-DuckDB "limit" of `make bench` (tools/bench.py): the warehouse's main computations
-- written as straight SQL on one DuckDB connection (tools/bench.py runs it with threads = 2 on
-- a fresh database file), to time a refresh against. It does the same kind and amount of work
-- as a full refresh, not every rule of it:
--
--   1. raw:     every landing file of the eight sources read as text (read_csv all_varchar /
--               read_parquet cast to varchar), with its file name, into raw_<source>;
--   2. staged:  each value trimmed and typed (timestamps with an offset converted to UTC, money
--               and points checked by pattern), each row given the first failing reason of the
--               contract's order (missing key / value, unparseable number / timestamp, unknown
--               enum, wrong sign, recorded before occurred, unknown account / store); valid rows
--               deduplicated on the delivery key (first delivery in file-name order kept, the rest
--               counted as exact or conflicting duplicates); rows per file in accounting;
--               members, stores and store targets: the current version per key;
--   3. latest order state: the row with the latest updated_at per order_id;
--   4. running balance per (account_id, balance_type, currency) over every points and wallet
--      movement in recorded_at order (a window sum written as a table);
--   5. reconciliation: the latest snapshot per balance against the running balance as of the
--      snapshot (an ASOF join), classified matched / drift / no movements;
--   6. tiers: per member and month end (enrolment month to the last month ended by the data's
--      as-of), earn points with occurred_at in the trailing window of qualifying_window_days
--      days (seeds/program_rules.csv) and the tier they reach (seeds/program_tiers.csv);
--   7. FIFO lots: earn lots per account in (occurred_at, event_id) order, consumed by redeem and
--      expire events in (recorded_at, event_id) order through cumulative sums: one allocation row
--      per (lot, consuming event) and each lot's remaining points;
--   8. roll-forwards: per month by recorded_at, opening, movements by type and closing, for
--      points and for each wallet currency, every month from the first through the as-of's.
--
-- Not reproduced: drift-cause attribution, expiry replay and reinstatements, accrual checks,
-- store incentives, dimension history, the report and the publish copy.
--
-- Set two variables first (tools/bench.py does), e.g. in the duckdb CLI:
--   set variable landing = '/path/to/landing'; set variable seeds = '/path/to/repo/seeds';
--   .read bench/limit.sql
-- Every source folder must hold at least one .csv and one .parquet file (the generator's do).

set TimeZone = 'UTC';

-- 1. raw ---------------------------------------------------------------------------------------

create or replace macro landing_text(src) as table
    select * from (
        select * from read_csv(
            getvariable('landing') || '/' || src || '/*.csv',
            all_varchar = true, header = true, filename = true, union_by_name = true,
            delim = ',', quote = '"', escape = '"'
        )
        union all by name
        select columns(*)::varchar from read_parquet(
            getvariable('landing') || '/' || src || '/*.parquet', filename = true, union_by_name = true
        )
    );

create or replace macro ts(x) as cast(try_cast(trim(x) as timestamptz) as timestamp);
create or replace macro money(x) as
    case when regexp_full_match(trim(x), '[+-]?[0-9]{1,16}(\.[0-9]{1,2})?') then cast(trim(x) as decimal(18, 2)) end;
create or replace macro whole(x) as
    case when regexp_full_match(trim(x), '[+-]?[0-9]{1,18}') then cast(trim(x) as bigint) end;
create or replace macro blank(x) as (x is null or trim(x) = '');

create or replace table raw_members as select row_number() over () as seq, * from landing_text('members');
create or replace table raw_stores as select row_number() over () as seq, * from landing_text('stores');
create or replace table raw_orders as select row_number() over () as seq, * from landing_text('orders');
create or replace table raw_ledger_events as select row_number() over () as seq, * from landing_text('ledger_events');
create or replace table raw_wallet_transactions as
    select row_number() over () as seq, * from landing_text('wallet_transactions');
create or replace table raw_balance_snapshots as
    select row_number() over () as seq, * from landing_text('balance_snapshots');
create or replace table raw_store_operations as
    select row_number() over () as seq, * from landing_text('store_operations');
create or replace table raw_store_targets as select row_number() over () as seq, * from landing_text('store_targets');

-- 2. staged ------------------------------------------------------------------------------------

create or replace table typed_stores as
select
    filename, seq, trim(store_id) as store_id, trim(store_name) as store_name, trim(region) as region,
    try_cast(trim(opened_on) as date) as opened_on, try_cast(trim(closed_on) as date) as closed_on,
    case
        when blank(store_id) then 'missing_key'
        when blank(opened_on) then 'missing_value'
        when try_cast(trim(opened_on) as date) is null
            or (not blank(closed_on) and try_cast(trim(closed_on) as date) is null) then 'unparseable_timestamp'
        when try_cast(trim(closed_on) as date) < try_cast(trim(opened_on) as date) then 'recorded_before_occurred'
    end as reason
from raw_stores;

create or replace table stg_stores as
select * exclude (reason) from typed_stores where reason is null
qualify row_number() over (partition by store_id order by filename desc, seq desc) = 1;

create or replace table typed_members as
select
    m.filename, m.seq, trim(m.account_id) as account_id, ts(m.enrolled_at) as enrolled_at,
    nullif(trim(m.home_store_id), '') as home_store_id, trim(m.status) as status,
    case
        when blank(m.account_id) then 'missing_key'
        when blank(m.enrolled_at) or blank(m.status) then 'missing_value'
        when ts(m.enrolled_at) is null then 'unparseable_timestamp'
        when trim(m.status) not in ('active', 'closed') then 'unknown_enum'
        when not blank(m.home_store_id) and s.store_id is null then 'unknown_store'
    end as reason
from raw_members as m
left join stg_stores as s on s.store_id = trim(m.home_store_id);

create or replace table stg_members as
select * exclude (reason) from typed_members where reason is null
qualify row_number() over (partition by account_id order by filename desc, seq desc) = 1;

create or replace table typed_orders as
select
    o.filename, o.seq, trim(o.order_id) as order_id, nullif(trim(o.account_id), '') as account_id,
    trim(o.store_id) as store_id, trim(o.channel) as channel, trim(o.status) as status,
    trim(o.currency) as currency, money(o.net_amount) as net_amount, ts(o.ordered_at) as ordered_at,
    ts(o.updated_at) as updated_at,
    case
        when blank(o.order_id) or blank(o.updated_at) then 'missing_key'
        when blank(o.store_id) or blank(o.net_amount) or blank(o.ordered_at) then 'missing_value'
        when money(o.net_amount) is null then 'unparseable_number'
        when ts(o.ordered_at) is null or ts(o.updated_at) is null then 'unparseable_timestamp'
        when trim(o.channel) not in ('store', 'online')
            or trim(o.status) not in ('placed', 'completed', 'cancelled', 'returned')
            or not regexp_full_match(trim(o.currency), '[A-Z]{3}') then 'unknown_enum'
        when money(o.net_amount) < 0 then 'wrong_sign'
        when ts(o.updated_at) < ts(o.ordered_at) then 'recorded_before_occurred'
        when o.account_id is not null and trim(o.account_id) <> '' and m.account_id is null then 'unknown_account'
        when s.store_id is null then 'unknown_store'
    end as reason
from raw_orders as o
left join stg_members as m on m.account_id = trim(o.account_id)
left join stg_stores as s on s.store_id = trim(o.store_id);

create or replace table typed_ledger_events as
select
    e.filename, e.seq, trim(e.event_id) as event_id, trim(e.account_id) as account_id,
    trim(e.event_type) as event_type, whole(e.points) as points, ts(e.occurred_at) as occurred_at,
    ts(e.recorded_at) as recorded_at, nullif(trim(e.order_id), '') as order_id,
    nullif(trim(e.reverses_event_id), '') as reverses_event_id, trim(e.source) as source,
    case
        when blank(e.event_id) or blank(e.account_id) then 'missing_key'
        when blank(e.points) or blank(e.occurred_at) or blank(e.recorded_at) or blank(e.event_type) then 'missing_value'
        when whole(e.points) is null then 'unparseable_number'
        when ts(e.occurred_at) is null or ts(e.recorded_at) is null then 'unparseable_timestamp'
        when trim(e.event_type) not in ('earn', 'redeem', 'expire', 'correct', 'reverse') then 'unknown_enum'
        when whole(e.points) = 0
            or (trim(e.event_type) = 'earn' and whole(e.points) < 0)
            or (trim(e.event_type) in ('redeem', 'expire') and whole(e.points) > 0) then 'wrong_sign'
        when ts(e.recorded_at) < ts(e.occurred_at) then 'recorded_before_occurred'
        when m.account_id is null then 'unknown_account'
    end as reason
from raw_ledger_events as e
left join stg_members as m on m.account_id = trim(e.account_id);

create or replace table typed_wallet_transactions as
select
    w.filename, w.seq, trim(w.txn_id) as txn_id, trim(w.account_id) as account_id,
    trim(w.currency) as currency, trim(w.txn_type) as txn_type, money(w.amount) as amount,
    ts(w.occurred_at) as occurred_at, ts(w.recorded_at) as recorded_at, nullif(trim(w.order_id), '') as order_id,
    case
        when blank(w.txn_id) or blank(w.account_id) then 'missing_key'
        when blank(w.amount) or blank(w.occurred_at) or blank(w.recorded_at) or blank(w.txn_type) then 'missing_value'
        when money(w.amount) is null then 'unparseable_number'
        when ts(w.occurred_at) is null or ts(w.recorded_at) is null then 'unparseable_timestamp'
        when trim(w.txn_type) not in ('top_up', 'spend', 'refund', 'cashback', 'adjust')
            or not regexp_full_match(trim(w.currency), '[A-Z]{3}') then 'unknown_enum'
        when money(w.amount) = 0
            or (trim(w.txn_type) in ('top_up', 'refund', 'cashback') and money(w.amount) < 0)
            or (trim(w.txn_type) = 'spend' and money(w.amount) > 0) then 'wrong_sign'
        when ts(w.recorded_at) < ts(w.occurred_at) then 'recorded_before_occurred'
        when m.account_id is null then 'unknown_account'
    end as reason
from raw_wallet_transactions as w
left join stg_members as m on m.account_id = trim(w.account_id);

create or replace table typed_balance_snapshots as
select
    b.filename, b.seq, trim(b.account_id) as account_id, trim(b.balance_type) as balance_type,
    coalesce(nullif(trim(b.currency), ''), '') as currency, money(b.balance) as balance, ts(b.as_of) as as_of,
    case
        when blank(b.account_id) or blank(b.balance_type) or blank(b.as_of)
            or (trim(b.balance_type) = 'wallet' and blank(b.currency)) then 'missing_key'
        when blank(b.balance) then 'missing_value'
        when money(b.balance) is null or (trim(b.balance_type) = 'points' and money(b.balance) % 1 <> 0)
            then 'unparseable_number'
        when ts(b.as_of) is null then 'unparseable_timestamp'
        when trim(b.balance_type) not in ('points', 'wallet')
            or (trim(b.balance_type) = 'points' and not blank(b.currency)) then 'unknown_enum'
        when m.account_id is null then 'unknown_account'
    end as reason
from raw_balance_snapshots as b
left join stg_members as m on m.account_id = trim(b.account_id);

create or replace table typed_store_operations as
select
    o.filename, o.seq, trim(o.store_id) as store_id, try_cast(trim(o.business_date) as date) as business_date,
    trim(o.metric) as metric, try_cast(trim(o.value) as decimal(18, 6)) as value,
    case
        when blank(o.store_id) or blank(o.business_date) or blank(o.metric) then 'missing_key'
        when blank(o.value) then 'missing_value'
        when try_cast(trim(o.value) as decimal(18, 6)) is null then 'unparseable_number'
        when try_cast(trim(o.business_date) as date) is null then 'unparseable_timestamp'
        when s.store_id is null then 'unknown_store'
    end as reason
from raw_store_operations as o
left join stg_stores as s on s.store_id = trim(o.store_id);

create or replace table typed_store_targets as
select
    t.filename, t.seq, trim(t.store_id) as store_id, try_cast(trim(t.period_month) as date) as period_month,
    trim(t.metric) as metric, money(t.target) as target,
    case
        when blank(t.store_id) or blank(t.period_month) or blank(t.metric) then 'missing_key'
        when blank(t.target) then 'missing_value'
        when money(t.target) is null then 'unparseable_number'
        when try_cast(trim(t.period_month) as date) is null
            or day(try_cast(trim(t.period_month) as date)) <> 1 then 'unparseable_timestamp'
        when money(t.target) < 0 then 'wrong_sign'
        when s.store_id is null then 'unknown_store'
    end as reason
from raw_store_targets as t
left join stg_stores as s on s.store_id = trim(t.store_id);

create or replace table stg_store_targets as
select * exclude (reason) from typed_store_targets where reason is null
qualify row_number() over (partition by store_id, period_month, metric order by filename desc, seq desc) = 1;

-- facts and the orders change feed: the first valid delivery of a key is staged; a later one is an
-- exact duplicate (same payload) or a conflicting duplicate
create or replace table deliveries_ledger_events as
select
    *,
    row_number() over (partition by event_id order by filename, seq) as delivery,
    count(*) over (
        partition by event_id, account_id, event_type, points, occurred_at, recorded_at, order_id,
        reverses_event_id, source
    ) as same_payload
from typed_ledger_events where reason is null;
create or replace table stg_ledger_events as select * exclude (delivery, same_payload, reason)
from deliveries_ledger_events where delivery = 1;

create or replace table deliveries_wallet_transactions as
select
    *,
    row_number() over (partition by txn_id order by filename, seq) as delivery,
    count(*) over (
        partition by txn_id, account_id, currency, txn_type, amount, occurred_at, recorded_at, order_id
    ) as same_payload
from typed_wallet_transactions where reason is null;
create or replace table stg_wallet_transactions as select * exclude (delivery, same_payload, reason)
from deliveries_wallet_transactions where delivery = 1;

create or replace table deliveries_orders as
select
    *,
    row_number() over (partition by order_id, updated_at order by filename, seq) as delivery,
    count(*) over (
        partition by order_id, updated_at, account_id, store_id, channel, status, currency, net_amount, ordered_at
    ) as same_payload
from typed_orders where reason is null;
create or replace table stg_orders_changes as select * exclude (delivery, same_payload, reason)
from deliveries_orders where delivery = 1;

create or replace table stg_balance_snapshots as
select * exclude (reason) from typed_balance_snapshots where reason is null
qualify row_number() over (partition by account_id, balance_type, currency, as_of order by filename, seq) = 1;

create or replace table stg_store_operations as
select * exclude (reason) from typed_store_operations where reason is null
qualify row_number() over (partition by store_id, business_date, metric order by filename, seq) = 1;

create or replace table rejected_rows as
select 'members' as source, filename, seq, reason from typed_members where reason is not null
union all select 'stores', filename, seq, reason from typed_stores where reason is not null
union all select 'orders', filename, seq, reason from typed_orders where reason is not null
union all select 'ledger_events', filename, seq, reason from typed_ledger_events where reason is not null
union all select 'wallet_transactions', filename, seq, reason from typed_wallet_transactions where reason is not null
union all select 'balance_snapshots', filename, seq, reason from typed_balance_snapshots where reason is not null
union all select 'store_operations', filename, seq, reason from typed_store_operations where reason is not null
union all select 'store_targets', filename, seq, reason from typed_store_targets where reason is not null
union all select 'ledger_events', filename, seq, 'conflicting_duplicate' from deliveries_ledger_events
    where delivery > 1 and same_payload = 1
union all select 'wallet_transactions', filename, seq, 'conflicting_duplicate' from deliveries_wallet_transactions
    where delivery > 1 and same_payload = 1
union all select 'orders', filename, seq, 'conflicting_duplicate' from deliveries_orders
    where delivery > 1 and same_payload = 1;

create or replace table source_row_accounting as
with delivered as (
    select 'ledger_events' as source, filename, count(*) as rows_delivered from raw_ledger_events group by all
    union all select 'wallet_transactions', filename, count(*) from raw_wallet_transactions group by all
    union all select 'orders', filename, count(*) from raw_orders group by all
    union all select 'balance_snapshots', filename, count(*) from raw_balance_snapshots group by all
    union all select 'members', filename, count(*) from raw_members group by all
    union all select 'stores', filename, count(*) from raw_stores group by all
    union all select 'store_operations', filename, count(*) from raw_store_operations group by all
    union all select 'store_targets', filename, count(*) from raw_store_targets group by all
),
rejected as (select source, filename, count(*) as rows_rejected from rejected_rows group by all)
select d.*, coalesce(r.rows_rejected, 0) as rows_rejected, d.rows_delivered - coalesce(r.rows_rejected, 0) as rows_kept
from delivered as d left join rejected as r using (source, filename);

-- 3. latest order state --------------------------------------------------------------------------

create or replace table stg_orders as
select * from stg_orders_changes
qualify row_number() over (partition by order_id order by updated_at desc, filename desc, seq desc) = 1;

-- 4. running balance -----------------------------------------------------------------------------

create or replace table balance_movements as
select
    account_id, 'points' as balance_type, '' as currency, event_id as movement_id, event_type as movement_type,
    cast(points as decimal(18, 2)) as amount, occurred_at, recorded_at
from stg_ledger_events
union all
select account_id, 'wallet', currency, txn_id, txn_type, amount, occurred_at, recorded_at
from stg_wallet_transactions;

create or replace table running_balances as
select
    *,
    sum(amount) over (
        partition by account_id, balance_type, currency order by recorded_at, movement_id
        rows between unbounded preceding and current row
    ) as balance_after
from balance_movements;

set variable as_of = (
    select greatest(
        (select max(recorded_at) from balance_movements),
        (select max(as_of) from stg_balance_snapshots),
        (select max(updated_at) from stg_orders)
    )
);

-- 5. reconciliation ------------------------------------------------------------------------------

create or replace table balances_reconciled as
with latest as (
    select account_id, balance_type, currency, max(as_of) as as_of, arg_max(balance, as_of) as snapshot_balance,
        count(*) as snapshots_count
    from stg_balance_snapshots group by all
),
at_snapshot as (
    select l.*, r.balance_after as ledger_balance, r.recorded_at as last_movement_at
    from latest as l
    asof left join running_balances as r
        on r.account_id = l.account_id and r.balance_type = l.balance_type and r.currency = l.currency
        and r.recorded_at <= l.as_of
)
select
    *,
    coalesce(ledger_balance, 0) - snapshot_balance as drift,
    case
        when ledger_balance is null then 'no_movements'
        when ledger_balance = snapshot_balance then 'matched'
        else 'drift'
    end as status
from at_snapshot;

create or replace table reconciliation_summary as
select balance_type, currency, status, count(*) as balances, sum(abs(drift)) as absolute_drift
from balances_reconciled group by all;

-- 6. tiers at month ends -------------------------------------------------------------------------

create or replace table program_tiers as
select * from read_csv(
    getvariable('seeds') || '/program_tiers.csv', header = true,
    columns = {
        'tier': 'varchar', 'tier_rank': 'integer', 'min_qualifying_points': 'bigint',
        'earn_multiplier': 'decimal(6, 2)', 'effective_from': 'date', 'effective_to': 'date'
    }
);
create or replace table program_rules as
select * from read_csv(
    getvariable('seeds') || '/program_rules.csv', header = true,
    columns = {'rule': 'varchar', 'value': 'integer', 'effective_from': 'date', 'effective_to': 'date'}
);

create or replace table qualifying_daily as
with qualifying as (
    select account_id, cast(occurred_at as date) as day, points from stg_ledger_events where event_type = 'earn'
    union all
    select r.account_id, cast(r.occurred_at as date), r.points
    from stg_ledger_events as r
    join stg_ledger_events as e on e.event_id = r.reverses_event_id and e.event_type = 'earn'
    where r.event_type = 'reverse'
),
daily as (select account_id, day, sum(points) as points from qualifying group by all)
select
    account_id, day,
    sum(points) over (partition by account_id order by day rows between unbounded preceding and current row) as cumulative
from daily;

set variable qualifying_window_days = (
    select any_value(value) from program_rules
    where rule = 'qualifying_window_days' and effective_from <= current_date
        and (effective_to is null or current_date < effective_to)
);

-- the month ends that have ended by the as-of (23:59:59 on the last day)
create or replace table month_ends as
select cast(m + interval 1 month - interval 1 day as date) as month_end
from range(timestamp '2000-01-01', date_trunc('month', getvariable('as_of')), interval 1 month) as t(m)
where m + interval 1 month - interval 1 day >= (select date_trunc('month', min(enrolled_at)) from stg_members);

create or replace table member_month_ends as
select
    m.account_id, e.month_end,
    cast(e.month_end - cast(getvariable('qualifying_window_days') as integer) as date) as before_window
from stg_members as m
join month_ends as e on e.month_end >= cast(m.enrolled_at as date);

create or replace table member_qualifying_points as
with upto_month_end as (
    select g.*, q.cumulative as cumulative_at_end
    from member_month_ends as g
    asof left join qualifying_daily as q on q.account_id = g.account_id and q.day <= g.month_end
),
upto_window_start as (
    select u.*, q.cumulative as cumulative_before_window
    from upto_month_end as u
    asof left join qualifying_daily as q on q.account_id = u.account_id and q.day <= u.before_window
)
select
    account_id, month_end,
    coalesce(cumulative_at_end, 0) - coalesce(cumulative_before_window, 0) as qualifying_points
from upto_window_start;

create or replace table member_tier_evaluations as
select q.account_id, q.month_end, q.qualifying_points, arg_max(t.tier, t.tier_rank) as tier, max(t.tier_rank) as tier_rank
from member_qualifying_points as q
join program_tiers as t
    on t.min_qualifying_points <= q.qualifying_points
    and q.month_end >= t.effective_from and (t.effective_to is null or q.month_end < t.effective_to)
group by all;

create or replace table tier_movements_monthly as
select
    month_end, tier,
    count(*) as members,
    count(*) filter (where previous_rank < tier_rank) as upgraded,
    count(*) filter (where previous_rank > tier_rank) as downgraded
from (
    select *, lag(tier_rank) over (partition by account_id order by month_end) as previous_rank
    from member_tier_evaluations
)
group by all;

-- 7. FIFO lots -----------------------------------------------------------------------------------

create or replace table points_lots as
select
    account_id, event_id as lot_event_id, occurred_at, points as lot_points,
    sum(points) over w - points as lot_start, sum(points) over w as lot_end
from stg_ledger_events
where event_type = 'earn' or (event_type = 'correct' and points > 0)
window w as (partition by account_id order by occurred_at, event_id rows between unbounded preceding and current row);

create or replace table points_consumptions as
select
    account_id, event_id as consumption_event_id, event_type, recorded_at, -points as consumed_points,
    sum(-points) over w + points as consumed_start, sum(-points) over w as consumed_end
from stg_ledger_events
where event_type in ('redeem', 'expire')
window w as (partition by account_id order by recorded_at, event_id rows between unbounded preceding and current row);

-- FIFO by merging the two sequences of cumulative boundaries per account: every segment between
-- consecutive boundaries belongs to the lot and to the consumption that started last at or
-- before it (two ASOF joins), and only the part below both totals is allocated.
create or replace table points_lot_allocations as
with totals as (
    select account_id, l.lots_total, c.consumed_total
    from (select account_id, max(lot_end) as lots_total from points_lots group by all) as l
    join (select account_id, max(consumed_end) as consumed_total from points_consumptions group by all) as c
        using (account_id)
),
boundaries as (
    select distinct account_id, position from (
        select account_id, lot_start as position from points_lots
        union all
        select account_id, consumed_start from points_consumptions
    )
),
segments as (
    select
        b.account_id, b.position,
        least(
            coalesce(lead(b.position) over (partition by b.account_id order by b.position), t.lots_total),
            t.lots_total, t.consumed_total
        ) as segment_end
    from boundaries as b
    join totals as t using (account_id)
),
with_lot as (
    select s.*, l.lot_event_id
    from segments as s
    asof join points_lots as l on l.account_id = s.account_id and l.lot_start <= s.position
    where s.segment_end > s.position
),
with_consumption as (
    select w.*, c.consumption_event_id
    from with_lot as w
    asof join points_consumptions as c on c.account_id = w.account_id and c.consumed_start <= w.position
)
select account_id, lot_event_id, consumption_event_id, sum(segment_end - position) as points
from with_consumption
group by all;

create or replace table fct_points_lots as
select
    l.*, l.lot_points - coalesce(a.allocated, 0) as remaining_points,
    cast(date_trunc('month', l.occurred_at) as date) as lot_month
from points_lots as l
left join (
    select account_id, lot_event_id, sum(points) as allocated from points_lot_allocations group by all
) as a using (account_id, lot_event_id);

-- 8. roll-forwards -------------------------------------------------------------------------------

create or replace table liability_months as
select cast(m as date) as month
from range(
    (select date_trunc('month', min(recorded_at)) from balance_movements),
    date_trunc('month', getvariable('as_of')) + interval 1 month,
    interval 1 month
) as t(m);

create or replace table points_liability_monthly as
with movements as (
    select
        cast(date_trunc('month', recorded_at) as date) as month,
        sum(amount) filter (where movement_type = 'earn') as earned,
        sum(amount) filter (where movement_type = 'redeem') as redeemed,
        sum(amount) filter (where movement_type = 'expire') as expired,
        sum(amount) filter (where movement_type = 'correct') as corrected,
        sum(amount) filter (where movement_type = 'reverse') as reversed,
        sum(amount) as net_movement
    from balance_movements where balance_type = 'points'
    group by all
)
select
    m.month,
    coalesce(sum(v.net_movement) over w, 0) - coalesce(v.net_movement, 0) as opening,
    coalesce(v.earned, 0) as earned, coalesce(v.redeemed, 0) as redeemed, coalesce(v.expired, 0) as expired,
    coalesce(v.corrected, 0) as corrected, coalesce(v.reversed, 0) as reversed,
    coalesce(sum(v.net_movement) over w, 0) as closing
from liability_months as m
left join movements as v using (month)
window w as (order by m.month rows between unbounded preceding and current row);

create or replace table wallet_liability_monthly as
with movements as (
    select
        currency, cast(date_trunc('month', recorded_at) as date) as month,
        sum(amount) filter (where movement_type = 'top_up') as top_ups,
        sum(amount) filter (where movement_type = 'spend') as spends,
        sum(amount) filter (where movement_type = 'refund') as refunds,
        sum(amount) filter (where movement_type = 'cashback') as cashback,
        sum(amount) filter (where movement_type = 'adjust') as adjustments,
        sum(amount) as net_movement
    from balance_movements where balance_type = 'wallet'
    group by all
),
grid as (
    select c.currency, m.month
    from (select distinct currency from movements) as c cross join liability_months as m
)
select
    g.currency, g.month,
    coalesce(sum(v.net_movement) over w, 0) - coalesce(v.net_movement, 0) as opening,
    coalesce(v.top_ups, 0) as top_ups, coalesce(v.spends, 0) as spends, coalesce(v.refunds, 0) as refunds,
    coalesce(v.cashback, 0) as cashback, coalesce(v.adjustments, 0) as adjustments,
    coalesce(sum(v.net_movement) over w, 0) as closing
from grid as g
left join movements as v using (currency, month)
window w as (partition by g.currency order by g.month rows between unbounded preceding and current row);
