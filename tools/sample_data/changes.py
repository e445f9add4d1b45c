"""Dimensions that change: later deliveries of members, stores and store targets with a new
state (docs/landing.md#same-key-different-payload). Each is a valid row: the warehouse stages it
as a new version and the latest delivery is the current state, which is what the truth holds.

* A store that closes is first delivered open (closed_on empty) and re-delivered with closed_on
  set in a later file, named after its closing month (``stores/<YYYY-MM>_changes.parquet``): it
  is not eligible from that month (store_eligibility.csv).
* A member who closes the account is first delivered active and re-delivered with status
  ``closed`` in a later file (``members/<YYYY-MM>_changes.csv``); members.csv holds every
  account's current status.
* A few store targets of months that ended by the data's as-of are corrected by a later file
  (``store_targets/<YYYY-MM>_corrections.csv``), each correction flipping the month's net_sales
  rule; one is corrected twice in that file (the later row wins). The truth judges the corrected
  target.
* One store is renamed and one member's email changes: versions that change no rule.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from tools.sample_data.config import DAY, NULL, Calendar, Config, stream
from tools.sample_data.simulate import Members, Stores, StoreTargets
from tools.sample_data.writer import BadRow, FilePlan, row_key

# what a change does, per source (the truth file dimension_changes.csv names it)
KINDS = ("store_closed", "store_renamed", "member_closed", "member_email_changed", "target_corrected")


@dataclass(frozen=True)
class Change:
    source: str
    file: str  # file name inside the source folder
    values: dict  # the whole re-delivered row, typed as the frames are
    kind: str  # one of KINDS


@dataclass
class DimensionChanges:
    changes: list[Change]
    targets: StoreTargets  # the current targets, corrections applied: what the truth judges
    first_delivery: dict[str, dict[str, np.ndarray]]  # frames of members, stores: the first state


def month_file(calendar: Calendar, month: int, suffix: str) -> str:
    return f"{calendar.label(int(np.clip(month, 0, calendar.months - 1)))}{suffix}"


def delivery_quarter(calendar: Calendar, seconds: int) -> int:
    """The month the first delivery's file is named after (generate.delivery_month, quarter=True)."""
    month = int(np.clip(calendar.month_of(seconds), 0, calendar.months - 1))
    return max(month - (month + calendar.month0 - 1) % 3, 0)


def plan(
    config: Config,
    calendar: Calendar,
    stores: Stores,
    members: Members,
    targets: StoreTargets,
    sales: np.ndarray,
    frames: dict[str, dict[str, np.ndarray]],
    ended: int,
) -> DimensionChanges:
    """The changes, the current targets and the members / stores frames as first delivered.
    Targets are corrected only in months that ended by the data's as-of (months 0 .. ended - 1),
    so that every correction flips a month the warehouse evaluates."""
    rng = stream(config.seed, "dimension_changes")
    changes: list[Change] = []
    store_frame = {name: values.copy() for name, values in frames["stores"].items()}
    member_frame = {name: values.copy() for name, values in frames["members"].items()}

    def row(frame: dict[str, np.ndarray], index: int) -> dict:
        values = {}
        for name, column in frame.items():
            value = column[index]
            values[name] = value if column.dtype == object else (None if int(value) == NULL else int(value))
        return values

    closing = np.flatnonzero(stores.closed_day != NULL)
    if not len(closing):
        raise ValueError("the stores simulation closes no store")
    for store in closing.tolist():
        closed_on = int(stores.closed_day[store])
        store_frame["closed_on"][store] = NULL  # first delivered open
        month = int(calendar.month_of(closed_on * DAY))
        changes.append(
            Change(
                "stores", month_file(calendar, month, "_changes.parquet"), row(frames["stores"], store), "store_closed"
            )
        )
    renamed = row(frames["stores"], 0)
    renamed["store_name"] = renamed["store_name"] + " (renamed)"
    changes.append(Change("stores", changes[0].file, renamed, "store_renamed"))

    closed = np.flatnonzero(members.closed)
    member_frame["status"][closed] = "active"  # first delivered active
    for account in closed.tolist():
        first = delivery_quarter(calendar, int(members.enrolled[account]))
        month = int(rng.integers(first, calendar.months))
        changes.append(
            Change(
                "members", month_file(calendar, month, "_changes.csv"), row(frames["members"], account), "member_closed"
            )
        )
    still_active = np.flatnonzero(~members.closed)
    account = int(still_active[int(rng.integers(0, len(still_active)))])
    emailed = row(frames["members"], account)
    emailed["email"] = "new." + emailed["email"]
    first = delivery_quarter(calendar, int(members.enrolled[account]))
    changes.append(Change("members", month_file(calendar, first, "_changes.csv"), emailed, "member_email_changed"))

    current = targets.target.copy()
    evaluated = np.flatnonzero(targets.month < ended)
    count = max(2, round(len(evaluated) * 0.03))
    picked = np.sort(rng.choice(evaluated, size=min(count, len(evaluated)), replace=False))
    first_days = [calendar.first_day(m) for m in range(calendar.months)]
    for rank, index in enumerate(picked.tolist()):
        store, month = int(targets.store[index]), int(targets.month[index])
        actual = int(sales[store, month])
        # flip the net_sales rule: a met target becomes one whole euro amount above the sales, a
        # missed one the sales rounded down to whole euros
        corrected = (actual // 100 + 100) * 100 if actual >= current[index] else (actual // 100) * 100
        base = {
            "store_id": stores.ids[store],
            "period_month": first_days[month],
            "metric": "net_sales",
        }
        file = month_file(calendar, month + 1, "_corrections.csv")
        if rank == 0:  # corrected twice in one file: the later row is the current target
            changes.append(Change("store_targets", file, {**base, "target": corrected + 50_000}, "target_corrected"))
        changes.append(Change("store_targets", file, {**base, "target": corrected}, "target_corrected"))
        current[index] = corrected
    return DimensionChanges(
        changes,
        StoreTargets(targets.store.copy(), targets.month.copy(), current),
        {"stores": store_frame, "members": member_frame},
    )


def add_files(plans: dict[str, list[FilePlan]], changes: list[Change]) -> list[tuple[FilePlan, BadRow, str]]:
    """One file per (source, name) holding its changes in order; files stay in name (= load)
    order. Returns each change's file, row and kind (row numbers are known once laid out)."""
    by_file: dict[tuple[str, str], FilePlan] = {}
    placed = []
    for change in changes:
        key = (change.source, change.file)
        if key not in by_file:
            if any(p.name == change.file for p in plans[change.source]):
                raise ValueError(f"{change.source}/{change.file}: a change file would replace a delivery file")
            by_file[key] = FilePlan(change.source, change.file, np.zeros(0, dtype=np.int64))
            plans[change.source].append(by_file[key])
        target = by_file[key]
        row = BadRow(copy.copy(change.values), None, len(target.bad))
        target.bad.append(row)
        placed.append((target, row, change.kind))
    for source_plans in plans.values():
        source_plans.sort(key=lambda p: p.name)
    return placed


def change_rows(placed: list[tuple[FilePlan, BadRow, str]]) -> list[list]:
    """(source, file, row_number, row_key, kind) of every change row, once the files are laid out."""
    return sorted(
        [plan.source, plan.relative, row.row_number, row_key(plan.source, row.values), kind]
        for plan, row, kind in placed
    )
