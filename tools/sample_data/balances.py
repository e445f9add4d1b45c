"""Run every account's points ledger and wallets, inject the balance faults, take the snapshots.

A balance fault is planned as (cause, size) and placed on an account that can carry it: the
account is re-run with the fault's own movements (a double-posted redemption, a correction the
snapshot never got, the last redemptions a stale snapshot missed), then its latest snapshot is
set, and the label is re-derived with :func:`program.reconcile` from the account's movements.
A ``rejected_movement`` fault adds no ledger movement: it is a row the quarantine rejects
(recorded before it occurred, or the wrong sign) that the operational snapshot nevertheless
includes; the row itself is written by :mod:`generate` among the landing faults.
An account whose label does not come back exactly as planned (or that comes close to another
cause, within the tolerance) is not used; a planned fault that no account can carry is an error.
Expiry faults (:mod:`expiry`) then go on points accounts with no other fault, before the
snapshots of the clean accounts are taken from the ledger as written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from tools.sample_data import expiry
from tools.sample_data.config import DAY, HOUR, Calendar, Config, GenerationError, avoid_expiry_second, stream
from tools.sample_data.expiry import ExpiryFault
from tools.sample_data.ledger import (
    ACC_NORMAL,
    CURRENCIES,
    EVENT_TYPES,
    K_CLAWBACK,
    K_FAULT_CORRECT,
    K_REDEEM,
    K_STALE,
    K_STRADDLE,
    K_TWIN,
    REVERSE,
    TXN_TYPES,
    W_FAULT_ADJUST,
    W_STALE,
    W_STRADDLE,
    W_TWIN,
    AccountRun,
    Accruals,
    Infeasible,
    points_items,
    run_points_account,
    run_wallet_account,
    wallet_holders,
    wallet_items,
)
from tools.sample_data.program import (
    CORRECTION_TYPE,
    TOLERANCE,
    Movement,
    reconcile,
    running_balances,
    twin_amounts,
    visible,
)
from tools.sample_data.simulate import Members, Orders

CAUSE_SIZES = {
    # (low, high) of |drift| for each size; boundaries are only hit on purpose (see BOUNDARY)
    "points": {"minor": (6, 49), "material": (60, 600)},
    "wallet": {"minor": (2, 999), "material": (1_500, 9_000)},
}
# The first fault of a few classes sits exactly on a tolerance boundary, on purpose.
BOUNDARY = {
    "points": {
        ("tiny", "in_balance"): 5,
        ("missing_ledger_event", "minor"): 50,
        ("missing_ledger_event", "material"): 51,
    },
    "wallet": {
        ("tiny", "in_balance"): 1,
        ("missing_ledger_event", "minor"): 1_000,
        ("missing_ledger_event", "material"): 1_001,
    },
}
NO_MOVEMENT_SNAPSHOT = {"points": 250, "wallet": 2_500}  # the positive one: material missing_ledger_event
CAUSES_INJECTED = (
    "double_posted_event",
    "missing_correction",
    "rejected_movement",
    "stale_snapshot",
    "missing_ledger_event",
    "unexplained",
)
STATUS_OF_SIZE = {"minor": "minor_drift", "material": "material_mismatch", "in_balance": "in_balance"}


@dataclass(frozen=True)
class Slot:
    cause: str  # a likely_cause, or 'tiny' (in balance, small drift), 'missing_snapshot', 'no_movements'
    size: str  # 'minor', 'material' or 'in_balance'
    boundary: int | None = None  # exact |drift| when this slot sits on a tolerance boundary


@dataclass(frozen=True)
class QuarantinedRow:
    """A movement the operational system applied and the warehouse's quarantine rejects."""

    account: int
    currency: int  # -1 for points
    movement_type: str  # event_type or txn_type as delivered
    amount: int  # points or cents, as delivered (the wrong sign included)
    occurred: int
    recorded: int
    reason: str  # recorded_before_occurred or wrong_sign

    def movement(self) -> Movement:
        quarantined_id = f"quarantined:{self.recorded}"
        return Movement(quarantined_id, self.movement_type, self.amount, self.occurred, self.recorded, None)


@dataclass
class BalanceTruth:
    account: int
    balance_type: str
    currency: int  # -1 for points
    status: str
    cause: str
    drift: int | None  # points or cents; None for a missing snapshot
    snapshot: int | None  # latest snapshot balance (None = no snapshot)
    as_of: int | None
    fault: str  # the slot that produced it ('' when none)


@dataclass
class BalanceBook:
    """Movements of one balance type, per holder, plus truth and snapshots."""

    balance_type: str
    holders: list[tuple[int, int]]  # (account, currency)
    runs: list[AccountRun]
    truth: list[BalanceTruth] = field(default_factory=list)
    specials: dict[str, list[int]] = field(default_factory=dict)
    expiry_faults: list[ExpiryFault] = field(default_factory=list)  # points only
    quarantined: list[QuarantinedRow] = field(default_factory=list)  # rejected_movement faults


def slots_for(balance_type: str, accounts: int) -> list[Slot]:
    per = max(1, round(accounts / 1000))
    boundary = BOUNDARY[balance_type]
    slots: list[Slot] = []
    for cause in CAUSES_INJECTED:
        for size in ("material", "minor"):
            for i in range(per + (1 if (cause, size) in boundary else 0)):
                slots.append(Slot(cause, size, boundary.get((cause, size)) if i == 0 else None))
    for i in range(per + 1):
        slots.append(Slot("tiny", "in_balance", boundary[("tiny", "in_balance")] if i == 0 else None))
    for _ in range(per + 1):
        slots.append(Slot("missing_snapshot", "in_balance"))
    return slots


def movements_of(run: AccountRun, type_names: tuple[str, ...]) -> list[Movement]:
    return [
        Movement(seq, type_names[kind], amount, occurred, recorded, order if order >= 0 else None)
        for seq, (occurred, recorded, kind, amount, order, _, _) in enumerate(run.events)
    ]


def size_of(rng: np.random.Generator, balance_type: str, size: str, room: int | None = None) -> int:
    """A drift size for ``size``; at most ``room`` (what the balance can give) when that is set."""
    low, high = CAUSE_SIZES[balance_type][size]
    value = int(rng.integers(low, high + 1))
    if room is not None:
        if room < low:
            raise Infeasible("the balance is too small for this fault")
        value = min(value, room)
    return value


# How much balance a fault takes out before as_of: (factor, whether only a negative amount needs it)
FAULT_NEEDS = {"double_posted_event": 2, "missing_correction": 1, "rejected_movement": 1, "stale_snapshot": 1}


def fault_need(balance_type: str, slot: Slot) -> int:
    """The least balance an account needs, shortly before as_of, to carry ``slot``."""
    low = CAUSE_SIZES[balance_type].get(slot.size, (0, 0))[0]
    return FAULT_NEEDS.get(slot.cause, 0) * low


def quarantined_of(run: AccountRun) -> list[Movement]:
    """The quarantined movements a fault planned on this run (rejected_movement), as movements."""
    return [row.movement() for row in run.info.get("quarantined", ())]


def close_to_another_cause(
    snapshot: int,
    movements: list[Movement],
    as_of: int,
    balance_type: str,
    cause: str,
    quarantined: list[Movement] | None = None,
) -> bool:
    """True when a cause ranked before ``cause`` nearly fits (within the in-balance tolerance).

    The contract says "equals"; staying a tolerance away makes the label hold even for a
    reader that matches causes with the tolerance.
    """
    tolerance = TOLERANCE[balance_type][0]
    seen = visible(movements, as_of)
    balances = running_balances(seen)
    drift = snapshot - balances[-1]
    rank = CAUSES_INJECTED.index(cause) if cause in CAUSES_INJECTED else len(CAUSES_INJECTED)
    if rank > 0 and any(abs(drift + amount) <= tolerance for amount in twin_amounts(seen)):
        return True
    correction = CORRECTION_TYPE[balance_type]
    if rank > 1 and any(abs(drift + m.amount) <= tolerance for m in seen if m.movement_type == correction):
        return True
    if rank > 2 and any(abs(drift - q.amount) <= tolerance for q in quarantined or () if q.recorded_at <= as_of):
        return True
    return bool(rank > 3 and any(abs(snapshot - b) <= tolerance for b in balances[:-1]))


def label_snapshot(
    slot: Slot, run: AccountRun, movements: list[Movement], as_of: int, balance_type: str, rng: np.random.Generator
) -> int:
    """The latest snapshot balance that realises ``slot`` on this account, verified."""
    seen = visible(movements, as_of)
    balances = running_balances(seen)
    computed = balances[-1]
    expected_status = STATUS_OF_SIZE[slot.size]
    tolerance = TOLERANCE[balance_type][0]
    quarantined = quarantined_of(run)

    def check(snapshot: int) -> bool:
        status, cause, _ = reconcile(snapshot, movements, as_of, balance_type, quarantined)
        wanted = "none" if slot.cause == "tiny" else slot.cause
        if (status, cause) != (expected_status, wanted):
            return False
        return slot.cause == "tiny" or not close_to_another_cause(
            snapshot, movements, as_of, balance_type, slot.cause, quarantined
        )

    if slot.cause == "double_posted_event":
        candidates = [computed - run.info["twin"]]
    elif slot.cause == "missing_correction":
        candidates = [computed - run.info["correction"]]
    elif slot.cause == "rejected_movement":
        candidates = [computed + quarantined[0].amount]  # the snapshot applied what the warehouse rejects
    elif slot.cause == "stale_snapshot":
        first = min(run.info["stale"])
        positions = [i for i, m in enumerate(seen) if m.movement_id == first]
        if not positions:
            raise Infeasible("the stale movements were recorded after as_of")
        cut = positions[0]
        if len(seen) - cut > 3 or (cut > 0 and seen[cut - 1].recorded_at == seen[cut].recorded_at):
            raise Infeasible("other movements came between the stale ones and as_of")
        candidates = [balances[cut]]
    elif slot.cause in ("missing_ledger_event", "unexplained", "tiny"):
        sign = -1 if slot.cause == "unexplained" else 1
        candidates = []
        for attempt in range(40):
            if slot.boundary is not None and attempt == 0:
                size = slot.boundary
            elif slot.cause == "tiny":
                size = int(rng.integers(1, tolerance + 1))
            else:
                size = size_of(rng, balance_type, slot.size)
            direction = sign if slot.cause != "tiny" else (1 if rng.random() < 0.5 else -1)
            candidates.append(computed + direction * size)
    else:
        raise ValueError(f"no snapshot rule for {slot}")
    for snapshot in candidates:
        if check(snapshot):
            return snapshot
    raise Infeasible(f"{slot.cause}: the snapshot would read as another cause")


# Quarantined movements: (reason, drift sign) -> the movement type as delivered, per balance type.
# recorded_before_occurred rows carry the right sign; wrong_sign rows the opposite one.
QUARANTINED_TYPES = {
    "points": {
        ("recorded_before_occurred", 1): "earn",
        ("recorded_before_occurred", -1): "redeem",
        ("wrong_sign", 1): "redeem",
        ("wrong_sign", -1): "earn",
    },
    "wallet": {
        ("recorded_before_occurred", 1): "top_up",
        ("recorded_before_occurred", -1): "spend",
        ("wrong_sign", 1): "spend",
        ("wrong_sign", -1): "top_up",
    },
}


def quarantined_fault(
    rng: np.random.Generator, balance_type: str, slot: Slot, account: int, currency: int, end_at: int, room: int
) -> QuarantinedRow:
    """A movement the snapshot applied and the quarantine rejects: material ones are recorded
    before they occurred, minor ones have the wrong sign (either direction of drift)."""
    reason = "recorded_before_occurred" if slot.size == "material" else "wrong_sign"
    sign = -1 if rng.random() < 0.5 else 1
    amount = size_of(rng, balance_type, slot.size, room if sign < 0 else None) * sign
    occurred = end_at - int(rng.integers(3 * HOUR, 40 * HOUR))
    if reason == "recorded_before_occurred":
        recorded = occurred - int(rng.integers(60, 2 * HOUR))
    else:
        recorded = occurred + int(rng.integers(2, 60))
    movement_type = QUARANTINED_TYPES[balance_type][(reason, sign)]
    return QuarantinedRow(account, currency, movement_type, amount, occurred, recorded, reason)


# --- points ----------------------------------------------------------------------------------
def member_orders_by_account(orders: Orders, accounts: int) -> tuple[np.ndarray, np.ndarray]:
    member = np.flatnonzero(orders.account >= 0)
    sort = np.argsort(orders.account[member], kind="stable")
    member = member[sort]
    cuts = np.searchsorted(orders.account[member], np.arange(accounts + 1))
    return member, cuts


def points_book(
    config: Config, calendar: Calendar, members: Members, orders: Orders, accruals: Accruals, as_of: np.ndarray
) -> BalanceBook:
    rng = stream(config.seed, "points_faults")
    n = members.count
    faulted_accounts = np.zeros(n, dtype=bool)
    faulted_accounts[orders.account[(accruals.plan != ACC_NORMAL)]] = True
    # balance faults and specials happen near the snapshot: not on a member who lapsed long before
    eligible = ~members.inactive & ~faulted_accounts & (members.lapsed >= calendar.months)

    # specials: clawbacks (a reverse after the points were spent) and corrections recorded after as_of
    extra: list[tuple] = []
    clawbacks: list[int] = []
    months = calendar.months
    rev = np.flatnonzero((accruals.kind == REVERSE) & (accruals.points <= -40))
    rev_month = calendar.month_of(accruals.occurred[rev])
    rev = rev[(rev_month >= 3) & (rev_month <= months - 2)]
    rev = rev[accruals.points[rev] == -accruals.points[accruals.reverses[rev]]]  # full reversals only
    for r in rng.permutation(rev).tolist():
        account = int(accruals.account[r])
        if not eligible[account] or account in clawbacks:
            continue
        at = int(accruals.occurred[r]) - int(rng.integers(60, HOUR))
        at = int(avoid_expiry_second(np.array([at]))[0])
        extra.append((account, at, at + 5, K_CLAWBACK, -int(accruals.points[r]) // 2, 0))
        clawbacks.append(account)
        if len(clawbacks) == max(2, n // 1000):
            break
    straddles: list[int] = []
    pool = [int(a) for a in rng.permutation(np.flatnonzero(eligible)) if a not in clawbacks]
    for account in pool[: max(3, n // 300)]:
        at = int(as_of[account]) - int(rng.integers(HOUR, 5 * HOUR))
        recorded = int(as_of[account]) + int(rng.integers(300, HOUR))
        extra.append((account, at, recorded, K_STRADDLE, int(rng.integers(10, 100)), 0))
        straddles.append(account)
    items = points_items(config, calendar, members, orders, accruals, extra)

    base = (accruals.points.tolist(), accruals.kind.tolist(), accruals.order.tolist(), accruals.source.tolist())
    windows = (as_of - 2 * DAY).tolist()
    columns = (
        items.occurred.tolist(),
        items.recorded.tolist(),
        items.kind.tolist(),
        items.a.tolist(),
        items.b.tolist(),
        items.month.tolist(),
    )
    bounds = items.bounds.tolist()
    item_lists: list[list[tuple]] = []
    runs: list[AccountRun] = []
    for account in range(n):
        lo, hi = bounds[account], bounds[account + 1]
        account_items = list(zip(*(column[lo:hi] for column in columns), strict=True))
        item_lists.append(account_items)
        runs.append(run_points_account(account_items, *base, windows[account]))

    book = BalanceBook("points", [(a, -1) for a in range(n)], runs)
    book.specials = {"clawback": [a for a in clawbacks if runs[a].went_negative], "straddle": straddles}
    member_orders, cuts = member_orders_by_account(orders, n)

    def latest_order(account: int, before: int) -> int:
        mine = member_orders[cuts[account] : cuts[account + 1]]
        mine = mine[orders.ordered[mine] < before]
        return int(mine[-1]) if len(mine) else -1

    def fault_items(account: int, slot: Slot) -> list[tuple]:
        end_at = int(as_of[account])
        month = int(calendar.month_of(end_at))
        room = runs[account].available_before_faults
        if slot.cause == "double_posted_event":
            points = size_of(rng, "points", slot.size, room // 2)
            at = end_at - int(rng.integers(3 * HOUR, 40 * HOUR))
            order = latest_order(account, at) if rng.random() < 0.5 else -1
            gap = int(rng.integers(2, 30))
            return [(at, at + int(rng.integers(2, 60)), K_TWIN, points, (order + 1) * 1_000_000 + gap, month)]
        if slot.cause == "missing_correction":
            negative = rng.random() < 0.5
            points = size_of(rng, "points", slot.size, room if negative else None) * (-1 if negative else 1)
            at = end_at - int(rng.integers(3 * HOUR, 40 * HOUR))
            return [(at, at + int(rng.integers(5, 300)), K_FAULT_CORRECT, points, 0, month)]
        if slot.cause == "stale_snapshot":
            total = size_of(rng, "points", slot.size, room)
            parts = [total] if total < 12 or rng.random() < 0.5 else [total // 2, total - total // 2]
            at = end_at - int(rng.integers(40 * 60, 90 * 60))
            out = []
            for part in parts:
                out.append((at, at + int(rng.integers(2, 30)), K_STALE, part, 0, month))
                at += int(rng.integers(120, 600))
            return out
        return []

    def need(slot: Slot) -> int:
        return fault_need("points", slot)

    def attempt(account: int, slot: Slot) -> tuple[AccountRun, int | None]:
        extra_items = fault_items(account, slot)
        run = runs[account]
        if slot.cause == "rejected_movement":
            row = quarantined_fault(rng, "points", slot, account, -1, int(as_of[account]), run.available_before_faults)
            run = replace(run, info={**run.info, "quarantined": [row]})
        if extra_items:
            run = run_points_account(sorted(item_lists[account] + extra_items), *base, windows[account])
            run.info["stale"] = [
                i
                for i, e in enumerate(run.events)
                if (e[0], e[1]) in {(x[0], x[1]) for x in extra_items if x[2] == K_STALE}
            ]
        if slot.cause == "missing_snapshot":
            return run, None
        movements = movements_of(run, EVENT_TYPES)
        return run, label_snapshot(slot, run, movements, int(as_of[account]), "points", rng)

    candidates = [
        a
        for a in rng.permutation(np.flatnonzero(eligible)).tolist()
        if a not in clawbacks and a not in straddles and runs[a].events
    ]
    place_faults(book, slots_for("points", n), candidates, attempt, need, as_of)
    add_no_movement_snapshots(book, members, as_of, rng)
    # expiry faults go on accounts with no other fault; their snapshots follow the ledger as written
    taken = {t.account for t in book.truth} | set(clawbacks) | set(straddles)
    clean = [a for a in np.flatnonzero(eligible).tolist() if a not in taken and runs[a].events]

    def without_redemptions(account: int) -> AccountRun:
        """The account's run had the member never redeemed: more of its points are left to expire."""
        items = [item for item in item_lists[account] if item[2] != K_REDEEM]
        return run_points_account(items, *base, windows[account])

    book.expiry_faults = expiry.inject(config, calendar, book.runs, clean, without_redemptions)
    fill_clean_truth(book, as_of)
    return book


def place_faults(
    book: BalanceBook,
    slots: list[Slot],
    candidates: list[int],
    attempt: Callable[[int, Slot], tuple[AccountRun, int | None]],
    need: Callable[[Slot], int],
    as_of: np.ndarray,
) -> None:
    """Give each slot the first candidate (in a seeded order) that carries it exactly."""
    remaining = list(candidates)
    slots = sorted(slots, key=lambda slot: -need(slot))
    for slot in slots:
        for position, holder in enumerate(remaining):
            if book.runs[holder].available_before_faults < need(slot):
                continue
            account = book.holders[holder][0]
            try:
                run, snapshot = attempt(holder, slot)
            except Infeasible:
                continue
            book.runs[holder] = run
            currency = book.holders[holder][1]
            if snapshot is None:
                status, cause, drift = "missing_snapshot", "none", None
            else:
                movements = movements_of(run, EVENT_TYPES if book.balance_type == "points" else TXN_TYPES)
                status, cause, drift = reconcile(
                    snapshot, movements, int(as_of[account]), book.balance_type, quarantined_of(run)
                )
            book.quarantined.extend(run.info.get("quarantined", ()))
            book.truth.append(
                BalanceTruth(
                    account,
                    book.balance_type,
                    currency,
                    status,
                    cause,
                    drift,
                    snapshot,
                    int(as_of[account]) if snapshot is not None else None,
                    f"{slot.cause}/{slot.size}",
                )
            )
            del remaining[position]
            break
        else:
            raise GenerationError(
                f"no {book.balance_type} account can carry the fault {slot.cause}/{slot.size}: "
                "use more --accounts or more --months"
            )


def add_no_movement_snapshots(book: BalanceBook, members: Members, as_of: np.ndarray, rng: np.random.Generator) -> None:
    """Two known members with no movements get a snapshot: one of 0, one of a positive balance."""
    quiet = np.flatnonzero(members.inactive)
    currencies = sorted({currency for _, currency in book.holders})
    for index, currency in enumerate(currencies):
        zero, positive = int(quiet[2 * index % len(quiet)]), int(quiet[(2 * index + 1) % len(quiet)])
        amount = NO_MOVEMENT_SNAPSHOT[book.balance_type] * (index + 1)
        for account, snapshot in ((zero, 0), (positive, amount)):
            status, cause, drift = reconcile(snapshot, [], int(as_of[account]), book.balance_type)
            expected = ("in_balance", "none") if snapshot == 0 else ("material_mismatch", "missing_ledger_event")
            assert (status, cause) == expected
            book.truth.append(
                BalanceTruth(
                    account,
                    book.balance_type,
                    currency,
                    status,
                    cause,
                    drift,
                    snapshot,
                    int(as_of[account]),
                    "no_movements",
                )
            )


def fill_clean_truth(book: BalanceBook, as_of: np.ndarray) -> None:
    """Every other holder with movements: snapshot = computed, in balance."""
    done = {(t.account, t.currency) for t in book.truth}
    for holder, (account, currency) in enumerate(book.holders):
        run = book.runs[holder]
        if not run.events or (account, currency) in done:
            continue
        at = int(as_of[account])
        computed = sum(amount for _, recorded, _, amount, _, _, _ in run.events if recorded <= at)
        book.truth.append(BalanceTruth(account, book.balance_type, currency, "in_balance", "none", 0, computed, at, ""))
    book.truth.sort(key=lambda t: (t.account, t.currency))


# --- wallets ---------------------------------------------------------------------------------
def wallet_book(config: Config, calendar: Calendar, members: Members, orders: Orders, as_of: np.ndarray) -> BalanceBook:
    rng = stream(config.seed, "wallet_faults")
    holders = wallet_holders(config, members)
    items = wallet_items(config, calendar, members, orders, holders)
    n = members.count
    # a few cashbacks recorded after the snapshot they occurred before (late, not drift)
    straddles: list[int] = []
    for holder in rng.permutation(len(holders))[: max(3, n // 300)].tolist():
        account = holders[holder][0]
        at = int(as_of[account]) - int(rng.integers(HOUR, 5 * HOUR))
        items[holder] = sorted(
            items[holder]
            + [(at, int(as_of[account]) + int(rng.integers(300, HOUR)), W_STRADDLE, int(rng.integers(50, 500)), 0)]
        )
        straddles.append(holder)
    runs = [
        run_wallet_account(wallet, orders.net, int(as_of[holders[h][0]]) - 2 * DAY) for h, wallet in enumerate(items)
    ]
    book = BalanceBook("wallet", holders, runs)
    book.specials = {"straddle": [holders[h][0] for h in straddles]}

    def fault_items(holder: int, slot: Slot) -> list[tuple]:
        end_at = int(as_of[holders[holder][0]])
        room = runs[holder].available_before_faults
        if slot.cause == "double_posted_event":
            cents = size_of(rng, "wallet", slot.size, room // 2)
            at = end_at - int(rng.integers(3 * HOUR, 40 * HOUR))
            return [(at, at + int(rng.integers(2, 60)), W_TWIN, cents, int(rng.integers(2, 30)))]
        if slot.cause == "missing_correction":
            negative = rng.random() < 0.5
            cents = size_of(rng, "wallet", slot.size, room if negative else None) * (-1 if negative else 1)
            at = end_at - int(rng.integers(3 * HOUR, 40 * HOUR))
            return [(at, at + int(rng.integers(5, 300)), W_FAULT_ADJUST, cents, 0)]
        if slot.cause == "stale_snapshot":
            negative = rng.random() < 0.5
            cents = size_of(rng, "wallet", slot.size, room if negative else None) * (-1 if negative else 1)
            at = end_at - int(rng.integers(40 * 60, 90 * 60))
            return [(at, at + int(rng.integers(2, 30)), W_STALE, cents, 0)]
        return []

    def need(slot: Slot) -> int:
        return fault_need("wallet", slot)

    def attempt(holder: int, slot: Slot) -> tuple[AccountRun, int | None]:
        account = holders[holder][0]
        extra_items = fault_items(holder, slot)
        run = runs[holder]
        if slot.cause == "rejected_movement":
            row = quarantined_fault(
                rng, "wallet", slot, account, holders[holder][1], int(as_of[account]), run.available_before_faults
            )
            run = replace(run, info={**run.info, "quarantined": [row]})
        if extra_items:
            run = run_wallet_account(sorted(items[holder] + extra_items), orders.net, int(as_of[account]) - 2 * DAY)
            run.info["stale"] = [
                i
                for i, e in enumerate(run.events)
                if (e[0], e[1]) in {(x[0], x[1]) for x in extra_items if x[2] == W_STALE}
            ]
        if slot.cause == "missing_snapshot":
            return run, None
        movements = movements_of(run, TXN_TYPES)
        return run, label_snapshot(slot, run, movements, int(as_of[account]), "wallet", rng)

    order = rng.permutation(len(holders)).tolist()
    for currency in range(len(CURRENCIES)):
        candidates = [h for h in order if holders[h][1] == currency and h not in straddles and runs[h].events]
        place_faults(book, slots_for("wallet", n), candidates, attempt, need, as_of)
    add_no_movement_snapshots(book, members, as_of, rng)
    fill_clean_truth(book, as_of)
    return book


def final_as_of(config: Config, calendar: Calendar, accounts: int) -> np.ndarray:
    """The latest snapshot of each account: on the last day of the data, at its own hour."""
    rng = stream(config.seed, "as_of")
    last_day = calendar.end - DAY
    return last_day + rng.integers(8 * HOUR, 22 * HOUR, size=accounts)
