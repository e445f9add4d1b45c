"""The ground truth, derived again from the rows the generator wrote, and its files.

Each fact here is re-derived with the rules of :mod:`program` from the valid landing rows (not
copied from what the injector intended) and compared with the intent; a difference is a bug in
the generator and stops it.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tools.sample_data.balances import BalanceTruth
from tools.sample_data.changes import DimensionChanges
from tools.sample_data.config import DAY, NULL, Calendar, iso, iso_date
from tools.sample_data.expiry import ExpiryFault
from tools.sample_data.ledger import (
    ACC_DUPLICATE,
    ACC_MISMATCH,
    ACC_MISSING,
    ACC_NO_REVERSE,
    ACC_OPEN_EARN,
    ACC_PARTIAL_REVERSE,
    ACC_RECOMPLETED_MISSING,
    CURRENCIES,
    EARN,
    EVENT_TYPES,
    EXPIRE,
    REVERSE,
    TXN_TYPES,
    Accruals,
)
from tools.sample_data.program import (
    EXPIRY_AFTER_MONTHS,
    QUALIFYING_WINDOW_DAYS,
    TIERS,
    Movement,
    StoreMonth,
    reconcile,
    replayed_expiries,
    store_eligibility,
    tier_codes,
)
from tools.sample_data.simulate import (
    COMPLETED,
    PLACED,
    RETURNED,
    Members,
    Orders,
    StoreOps,
    Stores,
    StoreTargets,
    completed_sales,
)
from tools.sample_data.tables import Movements, balances_at, holder_keys

PLAN_STATUS = {
    ACC_MISSING: "missing_earn",
    ACC_DUPLICATE: "duplicate_earn",
    ACC_MISMATCH: "amount_mismatch",
    ACC_NO_REVERSE: "unreversed_cancellation",
    ACC_PARTIAL_REVERSE: "unreversed_cancellation",
    ACC_OPEN_EARN: "earn_on_open_order",
    ACC_RECOMPLETED_MISSING: "missing_earn",
}


class TruthError(AssertionError):
    """The generator wrote data whose derived truth differs from what it meant to inject."""


def write_csv(path: Path, header: list[str], rows) -> None:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode("utf-8"))


def cents_text(value: int) -> str:
    return f"{'-' if value < 0 else ''}{abs(value) // 100}.{abs(value) % 100:02d}"


# --- balances ----------------------------------------------------------------------------------
QuarantinedMovements = dict[tuple[str, int, int], list[Movement]]  # (balance_type, account, currency) -> rows


def verify_balances(
    truths: list[BalanceTruth], points: Movements, wallet: Movements, quarantined: QuarantinedMovements | None = None
) -> None:
    """Recompute every latest snapshot's drift from the ledger as written, and every non-zero
    drift's status and cause with the contract's precedence; ``quarantined`` are the rejected
    movement rows of each balance (rejected_movement)."""
    quarantined = quarantined or {}
    for balance_type, movements in (("points", points), ("wallet", wallet)):
        rows = [t for t in truths if t.balance_type == balance_type and t.snapshot is not None]
        keys = holder_keys(movements.account, movements.currency)
        query = holder_keys(
            np.array([t.account for t in rows], dtype=np.int64), np.array([t.currency for t in rows], dtype=np.int64)
        )
        computed = balances_at(movements, keys, query, np.array([t.as_of for t in rows], dtype=np.int64))
        for truth, value in zip(rows, computed.tolist(), strict=True):
            if truth.snapshot - value != truth.drift:
                raise TruthError(
                    f"{balance_type} {truth.account}/{truth.currency}: drift {truth.snapshot - value} != {truth.drift}"
                )
        names = EVENT_TYPES if balance_type == "points" else TXN_TYPES
        suspects = {(t.account, t.currency): t for t in rows if t.drift != 0}
        pairs = zip(movements.account.tolist(), movements.currency.tolist(), strict=True)
        mask = np.array([pair in suspects for pair in pairs], dtype=bool)
        grouped: dict[tuple[int, int], list[Movement]] = {key: [] for key in suspects}
        for index in np.flatnonzero(mask).tolist():
            order = int(movements.order[index])
            grouped[(int(movements.account[index]), int(movements.currency[index]))].append(
                Movement(
                    movements.ids[index],
                    names[int(movements.kind[index])],
                    int(movements.amount[index]),
                    int(movements.occurred[index]),
                    int(movements.recorded[index]),
                    order if order >= 0 else None,
                )
            )
        for key, truth in suspects.items():
            rows = quarantined.get((balance_type, truth.account, truth.currency), [])
            status, cause, drift = reconcile(truth.snapshot, grouped[key], truth.as_of, balance_type, rows)
            if (status, cause, drift) != (truth.status, truth.cause, truth.drift):
                raise TruthError(
                    f"{balance_type} account {truth.account}: planned {truth.fault} as "
                    f"{truth.status}/{truth.cause}/{truth.drift}, data says {status}/{cause}/{drift}"
                )
    for truth in truths:
        if truth.snapshot is None:
            continue
        expected = "in_balance" if truth.fault in ("", "tiny/in_balance") else None
        if expected and truth.status != expected:
            raise TruthError(f"{truth.balance_type} account {truth.account}: should be in balance")


def quarantined_movements(
    rejected_rows: list[tuple[str, dict, str]], account_index: dict[str, int]
) -> QuarantinedMovements:
    """The quarantined movements of each balance, read from the bad rows as written: (source,
    values, reason) of every bad ledger_events / wallet_transactions row. A row counts when its
    account, amount and recorded_at parse (and the currency, for the wallet) and its key is not a
    movement the ledger holds (a conflicting_duplicate repeats a held key) -- as the warehouse
    reads audit.rejected_source_rows."""
    out: QuarantinedMovements = {}
    for source, values, reason in rejected_rows:
        if source not in ("ledger_events", "wallet_transactions") or reason == "conflicting_duplicate":
            continue
        amount_column = "points" if source == "ledger_events" else "amount"
        account, amount, recorded = values.get("account_id"), values.get(amount_column), values.get("recorded_at")
        if not isinstance(account, str) or account not in account_index:
            continue
        if not isinstance(amount, int) or not isinstance(recorded, int):
            continue  # missing or unparseable (Raw)
        occurred = values.get("occurred_at")
        occurred = occurred if isinstance(occurred, int) else recorded
        if source == "ledger_events":
            key = ("points", account_index[account], -1)
            kind = values.get("event_type")
        else:
            currency = values.get("currency")
            if currency not in CURRENCIES:
                continue
            key = ("wallet", account_index[account], CURRENCIES.index(currency))
            kind = values.get("txn_type")
        out.setdefault(key, []).append(Movement(f"quarantined:{len(out)}", str(kind), amount, occurred, recorded, None))
    return out


def balance_rows(truths: list[BalanceTruth], account_ids: list[str]) -> list[list[str]]:
    rows = []
    for t in sorted(truths, key=lambda t: (t.account, t.balance_type, t.currency)):
        currency = "" if t.balance_type == "points" else ("EUR", "GBP")[t.currency]
        drift = "" if t.drift is None else cents_text(t.drift * 100 if t.balance_type == "points" else t.drift)
        rows.append([account_ids[t.account], t.balance_type, currency, t.status, t.cause, drift])
    return rows


# --- expiry ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ExpiryRow:
    account: int
    month: int  # due month index
    status: str
    expected: int
    posted: int


def expiry_rows(
    calendar: Calendar, points: Movements, accounts: int, faults: list[ExpiryFault], ended: int
) -> list[ExpiryRow]:
    """Every (account, due month) with points due or posted, from the ledger as written, for the
    due months that ended by the data's as-of (months 0 .. ended - 1): a later due date is not
    checked yet.

    The expected expiry is the set-based FIFO (L(k) lots of lot months <= k, C(k) points consumed
    up to the end of k's due month: S(k) = max(0, max over j <= k of L(j) - C(j)), due month
    k + 18 expires S(k) - S(k - 1)), vectorised over accounts; the posted one is -Σ expire events
    by month of occurred_at. Each injected fault must come back with its label and amounts, and
    every other row must be ``ok``: the generator's FIFO posts exactly what the formula expects.
    """
    months, lag = calendar.months, EXPIRY_AFTER_MONTHS
    month = calendar.month_of(points.occurred)
    if len(month) and (month.min() < 0 or month.max() >= months):
        raise TruthError("a ledger event occurred outside the data")
    cell = points.account * months + month
    is_expire = points.kind == EXPIRE

    def per_cell(mask: np.ndarray, sign: int) -> np.ndarray:
        total = np.bincount(cell[mask], weights=sign * points.amount[mask], minlength=accounts * months)
        return np.round(total).astype(np.int64).reshape(accounts, months)

    reinstating = points.reverses >= 0  # back into the lots the redemption took: not a lot
    lots = per_cell((points.amount > 0) & ~reinstating, 1)
    consumed = per_cell((points.amount < 0) & ~is_expire, -1)
    posted = per_cell(is_expire, -1)
    expected = np.zeros((accounts, months), dtype=np.int64)
    lots_due = np.zeros((accounts, months), dtype=np.int64)  # points of the lot month due then
    if months > lag:
        unconsumed = np.cumsum(lots, axis=1)[:, : months - lag] - np.cumsum(consumed, axis=1)[:, lag:]
        expired = np.maximum(np.maximum.accumulate(unconsumed, axis=1), 0)
        expected[:, lag:] = np.diff(expired, axis=1, prepend=0)
        lots_due[:, lag:] = lots[:, : months - lag]
    # accounts with reinstated points: the used points are no longer the oldest, replay them
    replayed = np.unique(points.account[reinstating])
    candidates = np.flatnonzero(np.isin(points.account, replayed) & ~is_expire)
    # ids follow creation order and have one width: (occurred_at, id) is the ledger's FIFO order
    candidates = candidates[np.lexsort((candidates, points.occurred[candidates], points.account[candidates]))]
    cuts = np.searchsorted(points.account[candidates], replayed)
    for account, lo, hi in zip(replayed.tolist(), cuts.tolist(), [*cuts[1:].tolist(), len(candidates)], strict=True):
        mine = candidates[lo:hi]
        events = [
            (
                int(month[i]),
                "reinstate" if reinstating[i] else ("lot" if points.amount[i] > 0 else "consume"),
                int(points.amount[i]),
                int(i),
                int(points.reverses[i]),
            )
            for i in mine.tolist()
        ]
        expected[account] = replayed_expiries(events, months)
    expected[:, ended:] = posted[:, ended:] = 0
    status = np.select(
        [posted == expected, posted < expected, expected > 0, lots_due > 0],
        ["ok", "under_expired", "over_expired", "expired_but_spent"],
        "expired_early",
    )
    planned = {(f.account, f.month): f for f in faults}
    rows = []
    for account, due in zip(*np.nonzero((expected != 0) | (posted != 0)), strict=True):
        account, due = int(account), int(due)
        row = ExpiryRow(account, due, str(status[account, due]), int(expected[account, due]), int(posted[account, due]))
        fault = planned.pop((account, due), None)
        if fault is None and row.status != "ok":
            raise TruthError(
                f"points account {account}, due month {calendar.label(due)}: the expiry job posted {row.posted}, "
                f"the set-based FIFO expects {row.expected} ({row.status}) where no fault was injected"
            )
        if fault is not None and (row.status, row.expected, row.posted) != (fault.status, fault.expected, fault.posted):
            raise TruthError(
                f"points account {account}, due month {calendar.label(due)}: planned {fault.slot} "
                f"(expected {fault.expected}, posted {fault.posted}), data says {row.status} "
                f"(expected {row.expected}, posted {row.posted})"
            )
        rows.append(row)
    if planned:
        fault = next(iter(planned.values()))
        raise TruthError(f"points account {fault.account}: the {fault.slot} fault left no expiry row")
    return rows


# --- order accruals ----------------------------------------------------------------------------
def order_accruals(orders: Orders, accruals: Accruals, points: Movements) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(member order indexes, status per order, posted points per order) from the ledger as written.

    Posted points are net: an order's earns plus the reversals of those earns (a reversed
    redemption that names the order is not an earn); an earn is unreversed while its net is not 0.
    """
    member = np.flatnonzero(orders.account >= 0)
    is_earn = (points.order >= 0) & (points.kind == EARN)
    earn_reversal = (points.kind == REVERSE) & (points.base >= 0)
    # each earn's net: the earn plus the reverses of it (reverses point at accrual base events)
    net = {int(points.base[i]): int(points.amount[i]) for i in np.flatnonzero(is_earn)}
    for i in np.flatnonzero(earn_reversal).tolist():
        earn = int(accruals.reverses[points.base[i]])
        net[earn] = net.get(earn, 0) + int(points.amount[i])
    posted = np.zeros(orders.count, dtype=np.int64)
    unreversed = np.zeros(orders.count, dtype=np.int64)
    for earn, value in net.items():
        order = int(accruals.order[earn])
        posted[order] += value
        unreversed[order] += value != 0
    final = orders.final
    expected = accruals.expected
    status = np.where(
        final == PLACED,
        np.where(posted != 0, "earn_on_open_order", "ok"),
        np.where(
            final != COMPLETED,
            np.where(posted != 0, "unreversed_cancellation", "ok"),
            np.where(
                (expected > 0) & (posted == 0),
                "missing_earn",
                np.where(unreversed > 1, "duplicate_earn", np.where(posted != expected, "amount_mismatch", "ok")),
            ),
        ),
    ).astype(object)
    planned = np.array(["ok"] + [PLAN_STATUS[code] for code in range(1, len(PLAN_STATUS) + 1)], dtype=object)[
        accruals.plan
    ]
    wrong = np.flatnonzero((status != planned) & (orders.account >= 0))
    if len(wrong):
        k = int(wrong[0])
        raise TruthError(f"order index {k}: planned {planned[k]}, data says {status[k]}")
    return member, status, posted


# --- tiers -------------------------------------------------------------------------------------
def verify_tiers(calendar: Calendar, accruals: Accruals, points: Movements, accounts: int) -> None:
    # earns and the reverses of earns (base events); a reversed redemption does not qualify
    qualifying = (points.kind == EARN) | ((points.kind == REVERSE) & (points.base >= 0))
    for month in range(1, calendar.months + 1):
        hi = calendar.starts[month]
        window = qualifying & (points.occurred >= hi - QUALIFYING_WINDOW_DAYS * DAY) & (points.occurred < hi)
        q = np.round(np.bincount(points.account[window], weights=points.amount[window], minlength=accounts)).astype(
            np.int64
        )
        if not np.array_equal(q, accruals.qualifying[month]) or not np.array_equal(tier_codes(q), accruals.tier[month]):
            raise TruthError(f"tiers of {calendar.label(month)} differ from the ledger as written")


def tier_rows(calendar: Calendar, members: Members, accruals: Accruals, ended: int) -> list[list[str]]:
    """The tier in effect per member and month, from the enrolment month (or the first of the
    data) to month ``ended``, whose tier the last month-end evaluation before the as-of decided:
    a member without events since is still evaluated, and downgraded, up to it."""
    rows = []
    first = np.maximum(calendar.month_of(members.enrolled), 0)
    labels = [calendar.label(m) + "-01" for m in range(calendar.months + 1)]
    tier = accruals.tier.T.tolist()
    qualifying = accruals.qualifying.T.tolist()
    for account in range(members.count):
        account_id = members.ids[account]
        for month in range(int(first[account]), ended + 1):
            rows.append([account_id, labels[month], TIERS[tier[account][month]], qualifying[account][month]])
    return rows


def tier_movements(accruals: Accruals, ended: int) -> dict[str, int]:
    """How many member-months moved up or down a tier up to month ``ended`` (for the summary)."""
    tier = accruals.tier[: ended + 1].astype(np.int64)
    change = tier[1:] - tier[:-1]
    return {
        "upgrades": int((change > 0).sum()),
        "downgrades": int((change < 0).sum()),
        "members_upgraded": int((change > 0).any(axis=0).sum()),
        "members_downgraded": int((change < 0).any(axis=0).sum()),
    }


# --- the as-of ---------------------------------------------------------------------------------
def warehouse_as_of(calendar: Calendar, frames: dict[str, dict[str, np.ndarray]]) -> tuple[int, int]:
    """(as-of in seconds, months ended by it) from the valid rows as written: the latest ledger
    or wallet recorded_at, snapshot as_of or order updated_at (docs/operations.md#as-of). A month
    has ended when the as-of is at or after 23:59:59 on its last day, so the number of ended
    months is the month index of the second after the as-of."""
    moments = [
        frames["ledger_events"]["recorded_at"],
        frames["wallet_transactions"]["recorded_at"],
        frames["balance_snapshots"]["as_of"],
        frames["orders"]["updated_at"],
    ]
    as_of = max(int(np.max(values)) for values in moments if len(values))
    ended = int(calendar.month_of(as_of + 1))
    if not 0 < ended <= calendar.months or ended != calendar.ended:
        raise TruthError(f"the data's as-of {iso(as_of)} ends {ended} months, the generator planned {calendar.ended}")
    return as_of, ended


def as_of_summary(calendar: Calendar, as_of: int, ended: int) -> dict[str, str]:
    """The as-of the warehouse should publish (marts.rpt_warehouse_as_of), for summary.json."""
    return {
        "as_of": iso(as_of),
        "as_of_source": "data",
        "as_of_month": calendar.label(int(calendar.month_of(as_of))) + "-01",
        "last_ended_month": calendar.label(ended - 1) + "-01",
    }


def lapsed_summary(calendar: Calendar, members: Members, accruals: Accruals, ended: int) -> dict:
    """The lapsed members (no activity from their lapse month on) and those of them downgraded
    at a month end after their lapse, up to the as-of."""
    lapsed = np.flatnonzero(members.lapsed < calendar.months)
    tier = accruals.tier[: ended + 1].astype(np.int64)
    downgraded = [int(a) for a in lapsed.tolist() if (np.diff(tier[int(members.lapsed[a]) :, a]) < 0).any()]
    return {
        "members": [members.ids[a] for a in lapsed.tolist()],
        "downgraded_after_lapse": [members.ids[a] for a in downgraded],
    }


# --- store eligibility -------------------------------------------------------------------------
@dataclass(frozen=True)
class StoreResult:
    store: int
    month: int
    eligible: bool
    reason: str


def store_results(
    calendar: Calendar, stores: Stores, orders: Orders, ops: StoreOps, targets: StoreTargets
) -> list[StoreResult]:
    months = calendar.months
    cells = stores.count * months
    sales = completed_sales(orders, stores, months)
    flat = orders.store * months + orders.month
    completed = np.bincount(flat[orders.final == COMPLETED], minlength=cells).reshape(stores.count, months)
    returned = np.bincount(flat[orders.final == RETURNED], minlength=cells).reshape(stores.count, months)
    ops_month = calendar.month_of(ops.day * DAY)
    on_time_values: dict[tuple[int, int], list[int]] = {}
    audits: dict[tuple[int, int], list[int]] = {}
    for store, month, metric, value in zip(
        ops.store.tolist(), ops_month.tolist(), ops.metric.tolist(), ops.value.tolist(), strict=True
    ):
        if metric == 0:
            on_time_values.setdefault((store, month), []).append(value // 100)
        elif metric == 2:
            audits.setdefault((store, month), []).append(value)
    columns = (targets.store.tolist(), targets.month.tolist(), targets.target.tolist())
    target = {(s, m): t for s, m, t in zip(*columns, strict=True)}
    results = []
    for store in range(stores.count):
        opened, closed = int(stores.opened_day[store]), int(stores.closed_day[store])
        series: list[StoreMonth | None] = []
        for month in range(months):
            first, next_first = calendar.first_day(month), calendar.first_day(month + 1)
            open_any = opened < next_first and (closed == NULL or closed > first)
            if not open_any:
                series.append(None)
                continue
            whole = opened <= first and (closed == NULL or closed >= next_first)
            series.append(
                StoreMonth(
                    whole,
                    int(sales[store, month]),
                    target.get((store, month)),
                    tuple(audits.get((store, month), ())),
                    tuple(on_time_values.get((store, month), ())),
                    int(completed[store, month]),
                    int(returned[store, month]),
                )
            )
        for month, outcome in enumerate(store_eligibility(series)):
            if outcome is not None:
                results.append(StoreResult(store, month, outcome[0], outcome[1]))
    return results


# --- dimensions that change -------------------------------------------------------------------
def write_dimensions(
    truth_dir: Path,
    calendar: Calendar,
    members: Members,
    stores: Stores,
    changes: DimensionChanges,
    changed: list[list],
) -> None:
    """The current state of every member, store and store target (the latest delivery), how
    many versions each has, and where each change was delivered (dimension_changes.csv)."""
    versions: Counter = Counter()
    for change in changes.changes:
        key = {
            "members": lambda v: v["account_id"],
            "stores": lambda v: v["store_id"],
            "store_targets": lambda v: (v["store_id"], v["period_month"], v["metric"]),
        }[change.source](change.values)
        versions[(change.source, key)] += 1
    write_csv(
        truth_dir / "members.csv",
        ["account_id", "expected_status", "expected_versions"],
        (
            [account_id, "closed" if closed else "active", 1 + versions[("members", account_id)]]
            for account_id, closed in zip(members.ids, members.closed.tolist(), strict=True)
        ),
    )
    write_csv(
        truth_dir / "stores.csv",
        ["store_id", "expected_closed_on", "expected_versions"],
        (
            [store_id, "" if closed == NULL else iso_date(closed), 1 + versions[("stores", store_id)]]
            for store_id, closed in zip(stores.ids, stores.closed_day.tolist(), strict=True)
        ),
    )
    targets = changes.targets
    rows = []
    for store, month, target in zip(
        targets.store.tolist(), targets.month.tolist(), targets.target.tolist(), strict=True
    ):
        key = (stores.ids[store], calendar.first_day(month), "net_sales")
        rows.append(
            [stores.ids[store], iso_date(key[1]), "net_sales", cents_text(target), 1 + versions[("store_targets", key)]]
        )
    write_csv(
        truth_dir / "store_targets.csv",
        ["store_id", "period_month", "metric", "expected_target", "expected_versions"],
        sorted(rows),
    )
    write_csv(truth_dir / "dimension_changes.csv", ["source", "file", "row_number", "row_key", "kind"], changed)


def eligibility_summary(results: list[StoreResult]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for result in results:
        if result.reason.startswith("failed:"):
            for rule in result.reason[len("failed:") :].split("+"):
                counts[f"failed_{rule}"] = counts.get(f"failed_{rule}", 0) + 1
            key = "failed_rules"
        else:
            key = result.reason
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
