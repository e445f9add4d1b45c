"""Expiry faults: wrong expire postings at known (account, due month) keys.

The expiry job posts, at 23:59:59 on the last day of each month, what the program's FIFO says
is left of the lots earned 18 months before (:func:`ledger.run_points_account`). A fault here
changes only what the job *posted* for one account and due month, after the account has run:

* ``over_expired``: more than was due (expected > 0);
* ``under_expired``: less than was due, or nothing at all (``/nothing_posted``);
* ``expired_but_spent``: an expiry where nothing was due because the lot month's points were
  spent (the job expired the lot month's points as if none had been used);
* ``expired_early``: an expiry a month before anything is due (the next lot month's points,
  in the month before they are due; no lots in the lot month the expiry would belong to).

The program's own FIFO, and with it the expiry expected in every later month, does not see the
wrong posting (the expected expiry ignores posted expiries by definition). The balance does:
the snapshots follow the ledger as written, so the account stays in balance, and a posting that
takes points out never takes more than the account holds from then on (in occurred_at and in
recorded_at order), so no balance goes negative. Faults go only on accounts with no other fault.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tools.sample_data.config import Calendar, Config, GenerationError, stream
from tools.sample_data.ledger import EXPIRE, SRC_EXPIRY, AccountRun
from tools.sample_data.program import EXPIRY_AFTER_MONTHS, expected_expiries

# Two due months: one for the lots of the first month, and one before it for an early expiry.
FAULT_MIN_MONTHS = EXPIRY_AFTER_MONTHS + 2
SLOTS = (
    "over_expired",
    "under_expired/nothing_posted",
    "under_expired/partial",
    "expired_but_spent",
    "expired_early",
)
OVER_MAX = 200  # the most an over-expiry adds to what was due


@dataclass(frozen=True)
class ExpiryFault:
    account: int
    month: int  # due month index (the month whose end the expiry is posted at)
    slot: str  # one of SLOTS
    expected: int  # what the FIFO says should expire then
    posted: int  # what the ledger now holds for that month

    @property
    def status(self) -> str:
        return self.slot.split("/")[0]


def skipped_reason(months: int) -> str | None:
    """Why no expiry fault is injected (None when they are)."""
    if months >= FAULT_MIN_MONTHS:
        return None
    return (
        f"--months {months} < {FAULT_MIN_MONTHS}: points expire {EXPIRY_AFTER_MONTHS} months after the "
        f"month they are earned in, so expiry faults need at least {FAULT_MIN_MONTHS} months of data; "
        "none were injected (every expiry is posted as due)"
    )


def slots_for(accounts: int) -> list[str]:
    per = max(2, accounts // 500)
    nothing = max(1, per // 2)
    return (
        ["over_expired"] * per
        + ["under_expired/nothing_posted"] * nothing
        + ["under_expired/partial"] * (per - nothing)
        + ["expired_but_spent"] * per
        + ["expired_early"] * per
    )


@dataclass
class AccountMonths:
    """One account's points per month (index = month of occurred_at), from its events."""

    lots: list[int]  # positive events
    consumed: list[int]  # negative events other than expiries, as positive points
    posted: list[int]  # expiries, as positive points
    expected: list[int]  # the set-based FIFO expiry (program.expected_expiries)


def account_months(calendar: Calendar, events: list[tuple]) -> AccountMonths:
    months = calendar.months
    lots, consumed, posted = [0] * months, [0] * months, [0] * months
    if events:
        month_of = calendar.month_of(np.array([e[0] for e in events], dtype=np.int64)).tolist()
        for month, event in zip(month_of, events, strict=True):
            kind, amount = event[2], event[3]
            if kind == EXPIRE:
                posted[month] -= amount
            elif amount > 0:
                lots[month] += amount
            else:
                consumed[month] -= amount
    return AccountMonths(lots, consumed, posted, expected_expiries(lots, consumed))


def headroom(events: list[tuple], index: int) -> int:
    """The least balance from ``events[index]`` on (after it), in (occurred_at, event_id) and in
    (recorded_at, event_id) order; event ids follow (recorded_at, position in the account)."""
    least: int | None = None
    keys = (lambda i: (events[i][0], events[i][1], i), lambda i: (events[i][1], i))
    for key in keys:
        balance, seen = 0, False
        for i in sorted(range(len(events)), key=key):
            balance += events[i][3]
            seen = seen or i == index
            if seen:
                least = balance if least is None else min(least, balance)
    return 0 if least is None else least


def expire_event(calendar: Calendar, month: int, points: int) -> tuple:
    at = calendar.last_second(month)
    return (at, at, EXPIRE, -points, -1, -1, SRC_EXPIRY)


def place(
    calendar: Calendar, rng: np.random.Generator, run: AccountRun, data: AccountMonths, slot: str, account: int
) -> ExpiryFault | None:
    """Put ``slot`` on one due month of this account (changing ``run.events``), or None."""
    events = run.events
    months = calendar.ended  # only a due date within the data: a later one is not evaluated yet
    expected, posted, lots = data.expected, data.posted, data.lots
    status = slot.split("/")[0]
    first_due = EXPIRY_AFTER_MONTHS
    if status in ("over_expired", "under_expired"):
        least = 2 if slot == "under_expired/partial" else 1
        due = [d for d in range(months) if expected[d] >= least and posted[d] == expected[d]]
    elif status == "expired_but_spent":  # lots due this month, all of them spent
        due = [d for d in range(first_due, months) if lots[d - first_due] > 0 and expected[d] == posted[d] == 0]
    else:  # expired_early: the month before a lot month's points are due, with no lots due then
        due = [
            d
            for d in range(first_due - 1, months)
            if lots[d - first_due + 1] > 0 and (d < first_due or lots[d - first_due] == 0) and posted[d] == 0
        ]
    for d in rng.permutation(np.array(due, dtype=np.int64)).tolist():
        at = calendar.last_second(d)
        if status in ("over_expired", "under_expired"):
            index = [i for i, e in enumerate(events) if e[2] == EXPIRE and e[0] == at]
            if len(index) != 1 or -events[index[0]][3] != expected[d]:
                continue
            i = index[0]
            if slot == "under_expired/nothing_posted":
                del events[i]
                return ExpiryFault(account, d, slot, expected[d], 0)
            if slot == "under_expired/partial":
                points = int(rng.integers(1, expected[d]))
            else:
                room = headroom(events, i)
                if room < 1:
                    continue
                points = expected[d] + int(rng.integers(1, min(room, OVER_MAX) + 1))
            events[i] = expire_event(calendar, d, points)
            return ExpiryFault(account, d, slot, expected[d], points)
        # a posting where none was due: insert it at its place on the account's timeline
        i = bisect_right([e[0] for e in events], at)
        events.insert(i, expire_event(calendar, d, 0))
        room = headroom(events, i)
        lot_month = d - EXPIRY_AFTER_MONTHS + (0 if status == "expired_but_spent" else 1)
        points = min(lots[lot_month], room)
        if points < 1:
            del events[i]
            continue
        events[i] = expire_event(calendar, d, points)
        return ExpiryFault(account, d, slot, 0, points)
    return None


def inject(
    config: Config,
    calendar: Calendar,
    runs: list[AccountRun],
    candidates: list[int],
    without_redemptions: Callable[[int], AccountRun],
) -> list[ExpiryFault]:
    """Place every expiry slot on its own account among ``candidates`` (accounts with no other
    fault), in a seeded order, changing ``runs``; a slot that no account can carry is an error.

    Over- and under-expiries need points that are due; in a short history (two due months) few
    accounts have them, so when none is left such a slot goes on an account replayed as if its
    member had never redeemed (``without_redemptions``), whose first lots are then left to expire.
    """
    if skipped_reason(calendar.months):
        return []
    rng = stream(config.seed, "expiry_faults")
    remaining = [int(a) for a in rng.permutation(np.array(candidates, dtype=np.int64))]
    cache: dict[int, AccountMonths] = {}
    faults: list[ExpiryFault] = []
    for slot in slots_for(config.accounts):
        fault = None
        for account in remaining:
            if account not in cache:
                cache[account] = account_months(calendar, runs[account].events)
            fault = place(calendar, rng, runs[account], cache[account], slot, account)
            if fault is not None:
                break
        if fault is None and slot.startswith(("over_expired", "under_expired")):
            for account in remaining:
                run = without_redemptions(account)
                fault = place(calendar, rng, run, account_months(calendar, run.events), slot, account)
                if fault is not None:
                    runs[account] = run
                    break
        if fault is None:
            raise GenerationError(
                f"no account without another fault can carry the expiry fault {slot}: "
                "use more --accounts or more --months"
            )
        faults.append(fault)
        remaining.remove(fault.account)
    return sorted(faults, key=lambda f: (f.account, f.month))
