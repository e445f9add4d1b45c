"""Turn the simulation into the landing tables of docs/landing.md (valid rows only).

A frame is a dict of numpy columns: text as object arrays (None = null); timestamps (seconds),
dates (days), money (cents) and integers as int64 with NULL for null. Ids are given here, in
creation order: events and wallet transactions by recorded_at, orders by ordered_at.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tools.sample_data.balances import BalanceBook, BalanceTruth
from tools.sample_data.config import DAY, NULL, Calendar
from tools.sample_data.ledger import CURRENCIES, EVENT_TYPES, REVERSE, SOURCES, TXN_TYPES, Accruals
from tools.sample_data.simulate import (
    CHANNELS,
    COMPLETED,
    OPS_METRICS,
    ORDER_STATUSES,
    PLACED,
    Members,
    Orders,
    StoreOps,
    Stores,
    StoreTargets,
    id_width,
)

Frame = dict[str, np.ndarray]


def objects(values) -> np.ndarray:
    values = list(values)
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def take(labels: np.ndarray, index: np.ndarray) -> np.ndarray:
    """labels[index] with None where index < 0."""
    out = labels[np.maximum(index, 0)]
    if (index < 0).any():
        out = out.copy()
        out[index < 0] = None
    return out


@dataclass
class Movements:
    """All events of one balance type in id order, with the account/holder each belongs to."""

    ids: np.ndarray  # object
    account: np.ndarray
    currency: np.ndarray  # -1 for points
    occurred: np.ndarray
    recorded: np.ndarray
    kind: np.ndarray
    amount: np.ndarray
    order: np.ndarray
    base: np.ndarray
    source: np.ndarray
    reverses: np.ndarray  # position of the redemption a reinstating reverse reverses, -1 otherwise


def flatten(book: BalanceBook, prefix: str) -> Movements:
    """Collect every run's events and number them by (recorded_at, account, currency, sequence).

    A reinstating reverse carries -2 - (its redemption's position in the run) as its base; it
    becomes the redemption's position here.
    """
    rows: list[tuple] = []
    holder_of: list[int] = []
    for holder, run in enumerate(book.runs):
        rows.extend(run.events)
        holder_of.extend([holder] * len(run.events))
    data = np.array(rows, dtype=np.int64).reshape(-1, 7)
    holder = np.array(holder_of, dtype=np.int64)
    first = np.searchsorted(holder, holder)  # holders are contiguous and in order
    seq = np.arange(len(holder)) - first
    holders = np.array(book.holders, dtype=np.int64).reshape(-1, 2)
    account, currency = holders[holder, 0], holders[holder, 1]
    order = np.lexsort((seq, currency, account, data[:, 1]))
    position = np.empty(len(order), dtype=np.int64)
    position[order] = np.arange(len(order))
    reinstating = data[:, 5] <= -2
    reverses = np.full(len(data), -1, dtype=np.int64)
    reverses[reinstating] = position[first[reinstating] + (-2 - data[reinstating, 5])]
    base = np.where(reinstating, -1, data[:, 5])
    data, account, currency, base, reverses = data[order], account[order], currency[order], base[order], reverses[order]
    width = id_width(len(data) + 1000, 7)
    ids = objects(f"{prefix}{k + 1:0{width}d}" for k in range(len(data)))
    return Movements(
        ids, account, currency, data[:, 0], data[:, 1], data[:, 2], data[:, 3], data[:, 4], base, data[:, 6], reverses
    )


def ledger_frame(points: Movements, accruals: Accruals, account_ids: np.ndarray, order_ids: np.ndarray) -> Frame:
    position_of_base = np.full(len(accruals.account), -1, dtype=np.int64)
    has_base = points.base >= 0
    position_of_base[points.base[has_base]] = np.flatnonzero(has_base)
    reverses = np.full(len(points.ids), -1, dtype=np.int64)
    is_reverse = has_base & (points.kind == REVERSE)
    reverses[is_reverse] = position_of_base[accruals.reverses[points.base[is_reverse]]]
    reverses = np.where(points.reverses >= 0, points.reverses, reverses)
    return {
        "event_id": points.ids,
        "account_id": account_ids[points.account],
        "event_type": objects(EVENT_TYPES)[points.kind],
        "points": points.amount,
        "occurred_at": points.occurred,
        "recorded_at": points.recorded,
        "order_id": take(order_ids, points.order),
        "reverses_event_id": take(points.ids, reverses),
        "source": objects(SOURCES)[points.source],
    }


def wallet_frame(wallet: Movements, account_ids: np.ndarray, order_ids: np.ndarray) -> Frame:
    return {
        "txn_id": wallet.ids,
        "account_id": account_ids[wallet.account],
        "currency": objects(CURRENCIES)[wallet.currency],
        "txn_type": objects(TXN_TYPES)[wallet.kind],
        "amount": wallet.amount,
        "occurred_at": wallet.occurred,
        "recorded_at": wallet.recorded,
        "order_id": take(order_ids, wallet.order),
    }


def members_frame(members: Members, store_ids: np.ndarray) -> Frame:
    return {
        "account_id": objects(members.ids),
        "email": objects(members.emails),
        "enrolled_at": members.enrolled,
        "home_store_id": take(store_ids, members.home_store),
        "status": np.where(members.closed, "closed", "active").astype(object),
    }


def stores_frame(stores: Stores) -> Frame:
    return {
        "store_id": objects(stores.ids),
        "store_name": objects(stores.names),
        "region": objects(stores.regions),
        "opened_on": stores.opened_day,
        "closed_on": stores.closed_day,
    }


def orders_frame(orders: Orders, account_ids: np.ndarray, store_ids: np.ndarray, order_ids: np.ndarray) -> Frame:
    """The change feed: a 'placed' row, then 'completed', then 'cancelled'/'returned' rows (and a
    'completed' row again for an order completed again after its cancellation)."""
    k = np.arange(orders.count)
    done = orders.completed != NULL
    ended = orders.ended != NULL
    again = orders.recompleted != NULL
    index = np.concatenate([k, k[done], k[ended], k[again]])
    updated = np.concatenate([orders.ordered, orders.completed[done], orders.ended[ended], orders.recompleted[again]])
    status = np.concatenate(
        [
            np.full(orders.count, PLACED),
            np.full(int(done.sum()), COMPLETED),
            orders.end_status[ended],
            np.full(int(again.sum()), COMPLETED),
        ]
    )
    order = np.lexsort((status, index, updated))
    index, updated, status = index[order], updated[order], status[order]
    return {
        "order_id": order_ids[index],
        "account_id": take(account_ids, orders.account[index]),
        "store_id": store_ids[orders.store[index]],
        "channel": objects(CHANNELS)[orders.channel[index]],
        "status": objects(ORDER_STATUSES)[status],
        "currency": np.full(len(index), "EUR", dtype=object),
        "net_amount": orders.net[index],
        "ordered_at": orders.ordered[index],
        "updated_at": updated,
    }


def ops_frame(ops: StoreOps, store_ids: np.ndarray) -> Frame:
    return {
        "store_id": store_ids[ops.store],
        "business_date": ops.day,
        "metric": objects(OPS_METRICS)[ops.metric],
        "value": ops.value,
    }


def targets_frame(targets: StoreTargets, store_ids: np.ndarray, calendar: Calendar) -> Frame:
    first_days = np.array([calendar.first_day(m) for m in range(calendar.months)], dtype=np.int64)
    return {
        "store_id": store_ids[targets.store],
        "period_month": first_days[targets.month],
        "metric": np.full(len(targets.store), "net_sales", dtype=object),
        "target": targets.target,
    }


def balances_at(
    movements: Movements, holder_key: np.ndarray, query_key: np.ndarray, query_time: np.ndarray
) -> np.ndarray:
    """Σ amount of each queried holder's movements with recorded_at ≤ the query time."""
    composite = holder_key * 2**32 + movements.recorded  # recorded_at < 2**32 until 2106
    order = np.argsort(composite, kind="stable")
    composite = composite[order]
    cumulative = np.concatenate([[0], np.cumsum(movements.amount[order])])
    start = np.searchsorted(composite, query_key * 2**32, side="left")
    stop = np.searchsorted(composite, query_key * 2**32 + query_time, side="right")
    return cumulative[stop] - cumulative[start]


def holder_keys(account: np.ndarray, currency: np.ndarray) -> np.ndarray:
    return account * 4 + (currency + 1)


def snapshots(
    calendar: Calendar, points: Movements, wallet: Movements, truths: list[BalanceTruth], as_of: np.ndarray
) -> Frame:
    """Quarter-end snapshots (exact) and the latest snapshot of each balance (as the truth says)."""
    skip = {(t.account, t.currency, t.balance_type) for t in truths if t.snapshot is None}
    account_l, type_l, currency_l, as_of_l, balance_l = [], [], [], [], []
    quarter_months = [q for q in calendar.quarter_ends() if q < calendar.months - 1]
    time_of_day = as_of - (calendar.end - DAY)
    for balance_type, movements in (("points", points), ("wallet", wallet)):
        keys = holder_keys(movements.account, movements.currency)
        if not len(keys):
            continue
        by_key = np.argsort(keys, kind="stable")
        unique, block_start = np.unique(keys[by_key], return_index=True)
        first_recorded = np.minimum.reduceat(movements.recorded[by_key], block_start)
        holder_account, holder_currency = unique // 4, unique % 4 - 1
        for q in quarter_months:
            at = calendar.starts[q + 1] - DAY + time_of_day[holder_account]
            keep = at >= first_recorded
            keep &= np.array(
                [
                    (int(a), int(c), balance_type) not in skip
                    for a, c in zip(holder_account, holder_currency, strict=True)
                ],
                dtype=bool,
            )
            if not keep.any():
                continue
            values = balances_at(movements, keys, unique[keep], at[keep])
            account_l.append(holder_account[keep])
            type_l.append(np.full(int(keep.sum()), 0 if balance_type == "points" else 1))
            currency_l.append(holder_currency[keep])
            as_of_l.append(at[keep])
            balance_l.append(values * (100 if balance_type == "points" else 1))
    latest = [t for t in truths if t.snapshot is not None]
    account_l.append(np.array([t.account for t in latest], dtype=np.int64))
    type_l.append(np.array([0 if t.balance_type == "points" else 1 for t in latest], dtype=np.int64))
    currency_l.append(np.array([t.currency for t in latest], dtype=np.int64))
    as_of_l.append(np.array([t.as_of for t in latest], dtype=np.int64))
    balance_l.append(
        np.array([t.snapshot * (100 if t.balance_type == "points" else 1) for t in latest], dtype=np.int64)
    )
    account = np.concatenate(account_l)
    btype = np.concatenate(type_l)
    currency = np.concatenate(currency_l)
    at = np.concatenate(as_of_l)
    balance = np.concatenate(balance_l)
    order = np.lexsort((currency, btype, account, at))
    return {
        "_account": account[order],
        "_type": btype[order],
        "_currency": currency[order],
        "as_of": at[order],
        "balance": balance[order],
    }
