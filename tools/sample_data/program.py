"""The default loyalty program (docs/program.md) and the reconciliation rules (docs/marts.md), in plain Python.

The generator uses these functions to post the ledger and, independently of how it injected a
fault, to re-derive every label of the ground truth from the rows it wrote. They are the
project's executable reading of the contract, so each is small, pure and unit-tested.
Money is handled in integer cents and points in integers: no float ever decides an outcome.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

# --- earn and tiers -----------------------------------------------------------------------
TIERS = ("member", "silver", "gold", "platinum")
TIER_MIN_POINTS = (0, 1_000, 5_000, 15_000)
TIER_MULTIPLIER_PERCENT = (100, 125, 150, 200)
QUALIFYING_WINDOW_DAYS = 365
QUALIFYING_EVENT_TYPES = ("earn", "reverse")


def tier_code(qualifying_points: int) -> int:
    code = 0
    for index, minimum in enumerate(TIER_MIN_POINTS):
        if qualifying_points >= minimum:
            code = index
    return code


def tier_codes(qualifying_points: np.ndarray) -> np.ndarray:
    codes = np.searchsorted(np.array(TIER_MIN_POINTS), qualifying_points, side="right") - 1
    return np.clip(codes, 0, len(TIERS) - 1).astype(np.int8)


def earn_points(net_amount_cents, tier):
    """floor(floor(net_amount) * multiplier), exactly, for ints or arrays of ints."""
    if isinstance(tier, np.ndarray):
        percent = np.array(TIER_MULTIPLIER_PERCENT, dtype=np.int64)[tier]
    else:
        percent = TIER_MULTIPLIER_PERCENT[tier]
    return (net_amount_cents // 100) * percent // 100


# --- expiry (FIFO lots) -------------------------------------------------------------------
EXPIRY_AFTER_MONTHS = 18


class FifoLots:
    """Points lots by month, consumed oldest first; a shortfall is debt that later lots pay.

    ``add`` a positive event, ``consume`` a negative one that is not an expiry, and at the end of
    month X call ``expire(X - EXPIRY_AFTER_MONTHS)`` to take what is left of that month's lots.
    Events must be fed in (occurred_at, event_id) order.
    """

    __slots__ = ("debt", "lots", "total")

    def __init__(self) -> None:
        self.lots: deque[list[int]] = deque()  # [lot month, remaining points]
        self.debt = 0
        self.total = 0  # sum of remaining lots

    @property
    def balance(self) -> int:
        return self.total - self.debt

    def add(self, month: int, points: int) -> None:
        if self.debt:
            paid = min(self.debt, points)
            self.debt -= paid
            points -= paid
        if points:
            if self.lots and self.lots[-1][0] == month:
                self.lots[-1][1] += points
            else:
                self.lots.append([month, points])
            self.total += points

    def consume(self, points: int) -> None:
        """Take ``points`` (> 0) from the oldest lots."""
        lots = self.lots
        while points and lots:
            lot = lots[0]
            if lot[1] > points:
                lot[1] -= points
                self.total -= points
                return
            points -= lot[1]
            self.total -= lot[1]
            lots.popleft()
        self.debt += points

    def expire(self, lot_month: int) -> int:
        """Remove and return what remains of ``lot_month``'s lots (0 when nothing is left)."""
        lots = self.lots
        if lots and lots[0][0] < lot_month:
            raise ValueError(f"lots of month {lots[0][0]} were never expired (a month end was skipped)")
        if lots and lots[0][0] == lot_month:
            remaining = lots.popleft()[1]
            self.total -= remaining
            return remaining
        return 0


def expected_expiries(lots: Sequence[int], consumed: Sequence[int]) -> list[int]:
    """Points that should expire at the end of each month, computed set-based (no lot tracking).

    ``lots[m]`` are the points of the lots earned in month m, ``consumed[m]`` the points removed
    in month m by anything but an expiry. With L(k) the lots of months <= k and C(k) the points
    consumed up to the end of k's due month k + 18, the points expired up to that due month are
    S(k) = max(0, max over j <= k of L(j) - C(j)); month d's expiry is S(d - 18) - S(d - 19).
    It equals :class:`FifoLots` (the debt included): FIFO only moves the line of used points.
    """
    months = len(lots)
    out = [0] * months
    lots_so_far = peak = 0
    consumed_so_far = sum(consumed[:EXPIRY_AFTER_MONTHS])
    for due in range(EXPIRY_AFTER_MONTHS, months):
        lots_so_far += lots[due - EXPIRY_AFTER_MONTHS]
        consumed_so_far += consumed[due]
        expired = max(peak, lots_so_far - consumed_so_far)
        out[due] = expired - peak
        peak = expired
    return out


EXPIRY_STATUSES = ("ok", "under_expired", "over_expired", "expired_but_spent", "expired_early")


def expiry_status(expected: int, posted: int, lot_points: int) -> str:
    """Status of one (account, due month): FIFO's expected points against the posted expiry;
    ``lot_points`` are the points earned in the lot month due then (due month - 18)."""
    if posted == expected:
        return "ok"
    if posted < expected:
        return "under_expired"
    if expected > 0:
        return "over_expired"
    return "expired_but_spent" if lot_points > 0 else "expired_early"


# --- reconciliation -----------------------------------------------------------------------
# Tolerances in the unit of the balance: points, or cents for the wallet.
TOLERANCE = {"points": (5, 50), "wallet": (1, 1_000)}
CORRECTION_TYPE = {"points": "correct", "wallet": "adjust"}
CAUSES = (
    "double_posted_event",
    "missing_correction",
    "rejected_movement",
    "stale_snapshot",
    "missing_ledger_event",
    "unexplained",
)
STATUSES = ("in_balance", "minor_drift", "material_mismatch", "missing_snapshot")


def drift_status(drift: int, balance_type: str) -> str:
    in_balance, minor = TOLERANCE[balance_type]
    size = abs(drift)
    if size <= in_balance:
        return "in_balance"
    if size <= minor:
        return "minor_drift"
    return "material_mismatch"


@dataclass(frozen=True)
class Movement:
    """One points event or wallet transaction, amounts in points or cents."""

    movement_id: str | int  # sorts in creation order (the ledger's id, or a sequence number)
    movement_type: str
    amount: int
    occurred_at: int
    recorded_at: int
    order_id: str | None


def running_balances(movements: Sequence[Movement]) -> list[int]:
    """Balance before the first movement (0) and after each one, by recorded_at then id."""
    balances = [0]
    for movement in movements:
        balances.append(balances[-1] + movement.amount)
    return balances


def visible(movements: Iterable[Movement], as_of: int) -> list[Movement]:
    """Movements recorded at or before ``as_of``, in (recorded_at, movement_id) order."""
    return sorted((m for m in movements if m.recorded_at <= as_of), key=lambda m: (m.recorded_at, m.movement_id))


def twin_amounts(movements: Iterable[Movement]) -> set[int]:
    """Amounts of business events present more than once (same type, amount and order or time)."""
    seen: dict[tuple, int] = {}
    for movement in movements:
        anchor = ("order", movement.order_id) if movement.order_id else ("at", movement.occurred_at)
        key = (movement.movement_type, movement.amount, anchor)
        seen[key] = seen.get(key, 0) + 1
    return {key[1] for key, count in seen.items() if count > 1}


def reconcile(
    snapshot: int | None,
    movements: Iterable[Movement],
    as_of: int | None,
    balance_type: str,
    quarantined: Iterable[Movement] = (),
) -> tuple[str, str, int | None]:
    """(drift_status, likely_cause, drift) of one account balance, by the contract's precedence.

    ``quarantined`` are the balance's rows the warehouse rejects whose amount parses and whose key
    the ledger does not hold (a conflicting re-delivery of a held movement is not one of them).
    """
    if snapshot is None:
        return "missing_snapshot", "none", None
    seen = visible(movements, as_of)
    balances = running_balances(seen)
    drift = snapshot - balances[-1]
    status = drift_status(drift, balance_type)
    if status == "in_balance":
        return status, "none", drift
    if -drift in twin_amounts(seen):
        return status, "double_posted_event", drift
    correction = CORRECTION_TYPE[balance_type]
    if any(m.movement_type == correction and m.amount == -drift for m in seen):
        return status, "missing_correction", drift
    if any(q.recorded_at <= as_of and q.amount == drift for q in quarantined):
        return status, "rejected_movement", drift
    if snapshot in balances[:-1]:
        return status, "stale_snapshot", drift
    if drift > 0:
        return status, "missing_ledger_event", drift
    return status, "unexplained", drift


# --- order accruals -----------------------------------------------------------------------
ACCRUAL_STATUSES = (
    "ok",
    "missing_earn",
    "duplicate_earn",
    "amount_mismatch",
    "unreversed_cancellation",
    "earn_on_open_order",
)


def accrual_status(order_status: str, earns: Sequence[int], reverses: Sequence[int], expected: int) -> str:
    """Status of a member order from its latest state and the earn/reverse points posted for it."""
    posted = sum(earns) + sum(reverses)
    if order_status == "placed":
        return "earn_on_open_order" if earns else "ok"
    if order_status in ("cancelled", "returned"):
        return "unreversed_cancellation" if posted != 0 else "ok"
    if not earns:
        return "missing_earn"
    if len(earns) > 1:
        return "duplicate_earn"
    if posted != expected:
        return "amount_mismatch"
    return "ok"


# --- store incentives ---------------------------------------------------------------------
AUDIT_MIN = Fraction(85)
ON_TIME_MIN = Fraction(98, 100)
RETURN_RATE_MAX = Fraction(5, 100)
STORE_RULES = ("net_sales", "audit_score", "on_time_open", "return_rate")
CONSISTENCY_MONTHS = 3
CONSISTENCY_MIN_PASSED = 2


@dataclass(frozen=True)
class StoreMonth:
    """What the rules of one store-month look at (money in cents, scores in hundredths)."""

    open_whole_month: bool
    net_sales_cents: int
    target_cents: int | None
    audit_scores_hundredths: tuple[int, ...]
    on_time_values: tuple[int, ...]  # 1/0 per open day
    completed_orders: int
    returned_orders: int


def store_rule_results(month: StoreMonth) -> dict[str, bool]:
    results = {"net_sales": month.target_cents is not None and month.net_sales_cents >= month.target_cents}
    if month.audit_scores_hundredths:
        average = Fraction(sum(month.audit_scores_hundredths), 100 * len(month.audit_scores_hundredths))
        results["audit_score"] = average >= AUDIT_MIN
    else:
        results["audit_score"] = True  # no audit that month: not applicable, passes
    days = len(month.on_time_values)
    results["on_time_open"] = days == 0 or Fraction(sum(month.on_time_values), days) >= ON_TIME_MIN
    denominator = month.completed_orders + month.returned_orders
    rate = Fraction(month.returned_orders, denominator) if denominator else Fraction(0)
    results["return_rate"] = rate <= RETURN_RATE_MAX
    return results


def store_eligibility(months: Sequence[StoreMonth | None]) -> list[tuple[bool, str] | None]:
    """Eligibility of one store for consecutive months (None = not open that month).

    Returns (eligible, reason) per month; a month before the data or before the store opened
    counts as a month whose rules did not all pass.
    """
    passed_all: list[bool] = []
    out: list[tuple[bool, str] | None] = []
    for month in months:
        if month is None:
            passed_all.append(False)
            out.append(None)
            continue
        results = store_rule_results(month)
        all_passed = all(results.values())
        previous = passed_all[-CONSISTENCY_MONTHS:]
        consistent = sum(previous) >= CONSISTENCY_MIN_PASSED
        passed_all.append(all_passed)
        if not month.open_whole_month:
            out.append((False, "not_open_whole_month"))
        elif not all_passed:
            failed = [rule for rule in STORE_RULES if not results[rule]]
            out.append((False, "failed:" + "+".join(failed)))
        elif not consistent:
            out.append((False, "failed_consistency"))
        else:
            out.append((True, "eligible"))
    return out
