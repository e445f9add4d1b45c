"""Split each source into delivery files and add the landing faults of docs/landing.md#quarantine.

Bad rows are extra rows with fresh keys, made from a copy of a valid row with one thing broken,
so each has exactly one reason. The exception is ``conflicting_duplicate``: a later file
repeats a key delivered earlier with another payload (the first delivery is the valid one). Only
facts and the orders change feed get it: a dimension (members, stores, store_targets) delivered
again with another payload is a new version, not a conflict (tools/sample_data/changes.py).
Unparseable values only go into CSV files (Parquet columns are typed). One wallet CSV file is
re-delivered (exact repeats of its rows plus a few rows held back from it) and the first stores
file arrives twice under two names.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tools.sample_data.config import DAY, HOUR, NULL, Calendar
from tools.sample_data.writer import SCHEMAS, BadRow, FilePlan, Raw, format_value, row_key

REASONS = (
    "missing_key",
    "unknown_enum",
    "wrong_sign",
    "unparseable_number",
    "unparseable_timestamp",
    "recorded_before_occurred",
    "unknown_account",
    "unknown_store",
    "conflicting_duplicate",
)
CSV_ONLY = ("unparseable_number", "unparseable_timestamp")
# which reasons each source gets (two rows each)
SOURCE_REASONS = {
    "members": ("missing_key", "unknown_enum", "unknown_store", "unparseable_timestamp"),
    "stores": ("missing_key",),
    "orders": (
        "missing_key",
        "unknown_enum",
        "wrong_sign",
        "unparseable_number",
        "unparseable_timestamp",
        "unknown_account",
        "unknown_store",
        "conflicting_duplicate",
    ),
    "ledger_events": (
        "missing_key",
        "unknown_enum",
        "wrong_sign",
        "unparseable_number",
        "unparseable_timestamp",
        "recorded_before_occurred",
        "unknown_account",
        "conflicting_duplicate",
    ),
    "wallet_transactions": (
        "missing_key",
        "unknown_enum",
        "wrong_sign",
        "unparseable_number",
        "unparseable_timestamp",
        "recorded_before_occurred",
        "unknown_account",
        "conflicting_duplicate",
    ),
    "balance_snapshots": (
        "missing_key",
        "unknown_enum",
        "unparseable_number",
        "unknown_account",
        "conflicting_duplicate",
    ),
    "store_operations": ("missing_key", "unknown_store", "unparseable_number", "conflicting_duplicate"),
    "store_targets": ("missing_key", "unknown_store", "unparseable_number"),
}
ROWS_PER_REASON = 2
UNPARSEABLE_NUMBERS = ("n/a", "12.3.4", "1O0", "--5", "twelve")
UNPARSEABLE_TIMESTAMPS = ("not-a-timestamp", "2024-13-45T25:61:00Z", "yesterday", "31/02/2024 10:00")


@dataclass(frozen=True)
class Rejected:
    source: str
    file: str
    row_number: int
    row_key: str
    reason: str


def csv_period(files: int) -> int:
    return 2 if files < 8 else 4 if files < 24 else 6


def split(source: str, keys: np.ndarray, name_of: Callable[[int], str]) -> list[FilePlan]:
    """One file per distinct delivery key (ascending; rows keep their order); some CSV, the rest Parquet.

    ``name_of(key)`` names the file; names must sort like the keys.
    """
    distinct, inverse = np.unique(keys, return_inverse=True)
    if len(distinct) < 2:
        raise ValueError(f"{source}: needs at least two delivery files")
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(len(distinct) + 1))
    period = csv_period(len(distinct))
    plans = []
    for k, key in enumerate(distinct.tolist()):
        suffix = ".csv" if k % period == 1 else ".parquet"
        plans.append(FilePlan(source, name_of(key) + suffix, order[bounds[k] : bounds[k + 1]]))
    names = [plan.name.rsplit(".", 1)[0] for plan in plans]
    assert names == sorted(names), f"{source}: file names do not sort in delivery order"
    return plans


class FreshKeys:
    """Keys no valid row uses, numbered after the real ones."""

    def __init__(
        self,
        accounts: int,
        stores: int,
        store_width: int,
        events: int,
        txns: int,
        orders: int,
        account_width: int,
        event_width: int,
        txn_width: int,
        order_width: int,
    ) -> None:
        self.counters: dict[str, int] = {}
        self.start = {
            "account": accounts,
            "event": events,
            "txn": txns,
            "order": orders,
            "unknown_account": accounts + 500,
        }
        self.widths = {
            "account": account_width,
            "event": event_width,
            "txn": txn_width,
            "order": order_width,
            "unknown_account": account_width,
        }
        self.prefix = {"account": "A", "event": "E", "txn": "T", "order": "O", "unknown_account": "A"}
        self.store_width = store_width

    def next(self, kind: str) -> str:
        if kind == "store":
            count = self.counters.get("store", 0) + 1
            self.counters["store"] = count
            return f"S9{count:0{self.store_width}d}"
        count = self.counters.get(kind, 0) + 1
        self.counters[kind] = count
        return f"{self.prefix[kind]}{self.start[kind] + count:0{self.widths[kind]}d}"


def row_values(frame: dict[str, np.ndarray], source: str, index: int) -> dict:
    values = {}
    for name, kind in SCHEMAS[source]:
        value = frame[name][index]
        if kind != "text":
            value = None if int(value) == NULL else int(value)
        values[name] = value
    return values


KEY_KIND = {"members": "account", "orders": "order", "ledger_events": "event", "wallet_transactions": "txn"}


def break_row(
    source: str,
    reason: str,
    template: dict,
    fresh: FreshKeys,
    calendar: Calendar,
    rng: np.random.Generator,
    serial: int,
) -> dict:
    """A copy of ``template`` with a fresh key and exactly one defect."""
    row = copy.copy(template)
    key_kind = KEY_KIND.get(source)
    if key_kind:
        row[SCHEMAS[source][0][0]] = fresh.next(key_kind)
    elif source == "balance_snapshots":
        row["as_of"] = row["as_of"] - HOUR - serial  # an earlier, unused moment
    elif source == "store_operations":
        row["business_date"] = calendar.end // DAY + 40 + serial  # after the data
    elif source == "store_targets":
        row["period_month"] = calendar.first_day(calendar.months + 2 + serial)
    elif source == "stores":
        row["store_id"] = fresh.next("store")
    number = UNPARSEABLE_NUMBERS[serial % len(UNPARSEABLE_NUMBERS)]
    stamp = UNPARSEABLE_TIMESTAMPS[serial % len(UNPARSEABLE_TIMESTAMPS)]
    if reason == "missing_key":
        row[SCHEMAS[source][0][0]] = None
    elif reason == "unknown_enum":
        field_name, value = {
            "members": ("status", "suspended"),
            "orders": ("status", "shipped"),
            "ledger_events": ("event_type", "bonus"),
            "wallet_transactions": ("txn_type", "gift"),
            "balance_snapshots": ("balance_type", "miles"),
        }[source]
        row[field_name] = value
    elif reason == "wrong_sign":
        if source == "orders":
            row["net_amount"] = -max(500, row["net_amount"])
        elif source == "ledger_events":
            row["points"] = -row["points"]  # template is an earn or a redeem
        else:
            row["amount"] = -row["amount"]  # template is a top_up or a spend
    elif reason == "unparseable_number":
        column = {
            "orders": "net_amount",
            "ledger_events": "points",
            "wallet_transactions": "amount",
            "balance_snapshots": "balance",
            "store_operations": "value",
            "store_targets": "target",
        }[source]
        row[column] = Raw(number)
    elif reason == "unparseable_timestamp":
        column = {
            "members": "enrolled_at",
            "orders": "ordered_at",
            "ledger_events": "occurred_at",
            "wallet_transactions": "occurred_at",
        }[source]
        row[column] = Raw(stamp)
    elif reason == "recorded_before_occurred":
        row["recorded_at"] = row["occurred_at"] - int(rng.integers(60, 2 * DAY))
    elif reason == "unknown_account":
        row["account_id"] = fresh.next("unknown_account")
    elif reason == "unknown_store":
        row["home_store_id" if source == "members" else "store_id"] = fresh.next("store")
    else:
        raise ValueError(reason)
    return row


def conflict_of(source: str, template: dict, rng: np.random.Generator) -> dict:
    """The same key with another payload."""
    row = copy.copy(template)
    if source == "orders":
        row["net_amount"] = row["net_amount"] + 1_000
    elif source == "ledger_events":
        row["points"] = row["points"] + (1 if row["points"] > 0 else -1)
    elif source == "wallet_transactions":
        row["amount"] = row["amount"] + (100 if row["amount"] > 0 else -100)
    elif source == "balance_snapshots":
        row["balance"] = row["balance"] + 100
    elif source == "store_operations":
        row["value"] = row["value"] + 7
    else:
        raise ValueError(f"{source} is a dimension: a changed payload is a new version, not a conflict")
    return row


def template_filter(source: str, reason: str) -> Callable[[dict], bool]:
    if source == "ledger_events":
        if reason == "wrong_sign" or reason == "conflicting_duplicate":
            return lambda row: row["event_type"] in ("earn", "redeem")
        return lambda row: row["event_type"] in ("earn", "redeem", "correct")
    if source == "wallet_transactions" and reason == "wrong_sign":
        return lambda row: row["txn_type"] in ("top_up", "spend")
    if source == "balance_snapshots":
        return lambda row: row["balance_type"] == "points" or reason != "unknown_enum"
    if source == "store_operations" and reason == "conflicting_duplicate":
        return lambda row: row["metric"] == "staffed_hours_ratio"
    if source == "orders" and reason == "wrong_sign":
        return lambda row: row["net_amount"] is not None
    return lambda row: True


def add_bad_rows(
    plans: dict[str, list[FilePlan]],
    frames: dict[str, dict[str, np.ndarray]],
    fresh: FreshKeys,
    calendar: Calendar,
    rng: np.random.Generator,
    protected: set[str],
    forbidden: Callable[[str, dict, str], bool] = lambda source, values, reason: False,
) -> None:
    """Insert the bad rows into the planned files (never into ``protected`` files); a row
    ``forbidden(source, values, reason)`` refuses (it would explain a balance's drift) is made again."""
    for source, reasons in SOURCE_REASONS.items():
        delivered = [p for p in plans[source] if p.copy_of is None]  # in name (= load) order
        files = [p for p in delivered if p.relative not in protected]
        frame = frames[source]
        serial = 0
        seen: set[tuple] = set()
        for reason in reasons:
            accept = template_filter(source, reason)
            for _ in range(ROWS_PER_REASON):
                for _attempt in range(50):
                    serial += 1
                    target, values = make_bad_row(
                        source, reason, delivered, files, frame, accept, fresh, calendar, rng, serial
                    )
                    text = tuple(format_value(kind, values.get(name)) for name, kind in SCHEMAS[source])
                    # never two identical bad rows (that would be an exact duplicate)
                    if text not in seen and not forbidden(source, values, reason):
                        seen.add(text)
                        break
                else:
                    raise RuntimeError(f"{source}: cannot make distinct {reason} rows")
                position = int(rng.integers(0, len(target.rows) + 1))
                target.bad.append(BadRow(values, reason, position))


def add_quarantined_movements(
    plans: dict[str, list[FilePlan]],
    rows: list[tuple[str, dict, str]],
    fresh: FreshKeys,
    rng: np.random.Generator,
    protected: set[str],
) -> None:
    """The rejected_movement faults: each (source, values without a key, reason) gets a fresh key and
    goes into the source's last delivered file (the month of its snapshot), at a random position."""
    for source, values, reason in rows:
        target = [p for p in plans[source] if p.copy_of is None and p.relative not in protected][-1]
        row = dict(values)
        row[SCHEMAS[source][0][0]] = fresh.next(KEY_KIND[source])
        position = int(rng.integers(0, len(target.rows) + 1))
        target.bad.append(BadRow(row, reason, position))


def make_bad_row(
    source: str,
    reason: str,
    delivered: list[FilePlan],
    files: list[FilePlan],
    frame: dict[str, np.ndarray],
    accept: Callable[[dict], bool],
    fresh: FreshKeys,
    calendar: Calendar,
    rng: np.random.Generator,
    serial: int,
) -> tuple[FilePlan, dict]:
    """One bad row of ``reason`` and the file it goes into."""
    if reason == "conflicting_duplicate":
        later = [p for p in files if any(len(q.rows) for q in delivered[: delivered.index(p)])]
        target = later[int(rng.integers(0, len(later)))]
        earlier = [q for q in delivered[: delivered.index(target)] if len(q.rows)]
        origin = earlier[int(rng.integers(0, len(earlier)))]
        template = pick(frame, source, origin.rows, accept, rng)
        values = conflict_of(source, template, rng)
    else:
        pool = [p for p in files if p.csv] if reason in CSV_ONLY else files
        target = pool[int(rng.integers(0, len(pool)))]
        with_rows = [p for p in delivered if len(p.rows)]
        source_file = (
            target if len(target.rows) and rng.random() < 0.7 else with_rows[int(rng.integers(0, len(with_rows)))]
        )
        template = pick(frame, source, source_file.rows, accept, rng)
        values = break_row(source, reason, template, fresh, calendar, rng, serial)
    return target, values


def pick(
    frame: dict[str, np.ndarray],
    source: str,
    rows: np.ndarray,
    accept: Callable[[dict], bool],
    rng: np.random.Generator,
) -> dict:
    for _ in range(200):
        index = int(rows[int(rng.integers(0, len(rows)))])
        values = row_values(frame, source, index)
        if accept(values):
            return values
    for index in rows.tolist():
        values = row_values(frame, source, int(index))
        if accept(values):
            return values
    raise RuntimeError(f"{source}: no row to make a bad row from")


def rejected_rows(plans: dict[str, list[FilePlan]]) -> list[Rejected]:
    out = []
    for source, files in plans.items():
        for plan in files:
            for bad in plan.bad:
                if bad.reason is None:  # a dimension change: staged, not rejected
                    continue
                out.append(Rejected(source, plan.relative, bad.row_number, row_key(source, bad.values), bad.reason))
    return sorted(out, key=lambda r: (r.source, r.file, r.row_number))


def redeliver(plans: list[FilePlan], rng: np.random.Generator) -> tuple[FilePlan, FilePlan, int]:
    """Hold back a few rows of the first CSV file and re-deliver them with repeats of its rows."""
    original = next(p for p in plans if p.csv and len(p.rows) >= 30)
    held = min(5, len(original.rows) // 10)
    keep, held_back = original.rows[:-held], original.rows[-held:]
    repeats = keep[np.sort(rng.choice(len(keep), size=min(20, len(keep) // 3), replace=False))]
    original.rows = keep
    stem = original.name[: -len(".csv")]
    again = FilePlan(original.source, f"{stem}_redelivery.csv", np.concatenate([repeats, held_back]))
    plans.insert(plans.index(original) + 1, again)
    return original, again, len(repeats)


def copy_file(plans: list[FilePlan]) -> FilePlan:
    """A byte-identical copy of the first file under a later name."""
    first = plans[0]
    stem, _dot, suffix = first.name.rpartition(".")
    copy_plan = FilePlan(first.source, f"{stem}_resent.{suffix}", first.rows, copy_of=first.name)
    plans.insert(1, copy_plan)
    return copy_plan
