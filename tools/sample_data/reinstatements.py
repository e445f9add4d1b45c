"""Reversed redemptions: points reinstated into the lots the redemption consumed.

Each kind goes on accounts with no other fault: candidates are drawn account by account (in a
seeded order) and replayed, and the first that carry the kind are kept:

* ``reversal``: a redemption reversed in full one to six weeks later, half of them at checkout
  (the redemption and its reversal name an order, which must not count as the order's earn);
* ``partial``: a redemption reversed in part, newest lot first;
* ``past_due``: a redemption that takes what is left of the account's first lot month shortly
  before it is due, reversed after it was due: the reinstated points expire at the end of the
  reversal's month, and the expiry job posts them then;
* ``tier``: a redemption and its reversal in a month whose qualifying points are just below a
  tier threshold, by no more than the redemption: counting the reversal as qualifying (the old
  rule) would promote the member, the program (a reverse qualifies only when it reverses an
  earn) does not.

The expiry job (:func:`ledger.run_points_account`) posts the expiry of the lots as the program
keeps them, so every expiry of these accounts is as due; the truth re-derives it by replaying the
account (:func:`program.replayed_expiries`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tools.sample_data.config import DAY, HOUR, Calendar, Config, avoid_expiry_second, stream
from tools.sample_data.ledger import (
    EARN,
    K_REDEEM_R,
    K_UNREDEEM,
    R_FIXED,
    R_FRONT_LOT,
    R_SHARE,
    REDEEM_CATALOG,
    REVERSE,
    AccountRun,
    Accruals,
)
from tools.sample_data.program import EXPIRY_AFTER_MONTHS, QUALIFYING_WINDOW_DAYS, TIER_MIN_POINTS, tier_codes
from tools.sample_data.simulate import Members, Orders

KINDS = ("reversal", "partial", "past_due", "tier")
KEY_BASE = 900_000  # keys of K_REDEEM_R items, apart from other items' a values


@dataclass(frozen=True)
class Special:
    account: int
    kind: str
    items: tuple[tuple, ...]  # (account, occurred, recorded, item kind, a, b)


def wanted(kind: str, accounts: int, months: int) -> int:
    if kind == "past_due":
        return max(1, accounts // 300) if months >= EXPIRY_AFTER_MONTHS + 2 else 0
    if kind == "partial":
        return max(1, accounts // 300)
    if kind == "tier":
        return max(2, accounts // 150)
    return max(3, accounts // 100)


def _at(rng: np.random.Generator, lo: int, hi: int) -> int:
    return int(avoid_expiry_second(np.array([lo + int(rng.integers(0, max(1, hi - lo)))]))[0])


def _pair(account: int, kind: str, redeem_at: int, reverse_at: int, b: int, share: int) -> Special:
    key = KEY_BASE + account
    return Special(
        account,
        kind,
        (
            (account, redeem_at, redeem_at + 5, K_REDEEM_R, key, b),
            (account, reverse_at, reverse_at + 7, K_UNREDEEM, key, share),
        ),
    )


class Planner:
    """Draws one candidate of a kind for an account (or None when it cannot have one); the
    caller replays the account with it and keeps the first candidates that carry it."""

    def __init__(
        self,
        config: Config,
        calendar: Calendar,
        members: Members,
        orders: Orders,
        accruals: Accruals,
        as_of: np.ndarray,
    ) -> None:
        self.rng = stream(config.seed, "reinstatements")
        self.calendar, self.members, self.orders, self.accruals, self.as_of = calendar, members, orders, accruals, as_of
        self.member_orders = np.flatnonzero(orders.account >= 0)

    def special(self, kind: str, account: int) -> Special | None:
        make = {"past_due": self._past_due, "tier": self._tier}.get(kind, self._ordinary)
        return make(kind, account)

    def _latest_order(self, account: int, before: int) -> int:
        orders, member = self.orders, self.member_orders
        mine = member[(orders.account[member] == account) & (orders.ordered[member] < before)]
        return int(mine[-1]) if len(mine) else -1

    def _ordinary(self, kind: str, account: int) -> Special | None:
        rng, starts, months = self.rng, self.calendar.starts, self.calendar.months
        month = int(rng.integers(1, max(2, months - 2)))
        lo = max(int(starts[month]), int(self.members.enrolled[account]) + DAY)
        if lo >= int(starts[month + 1]) - DAY:
            return None
        redeem_at = _at(rng, lo, int(starts[month + 1]) - DAY)
        reverse_at = _at(rng, redeem_at + DAY, redeem_at + 42 * DAY)
        if reverse_at >= int(self.as_of[account]) - 3 * DAY:
            return None
        order = self._latest_order(account, redeem_at) if rng.random() < 0.5 else -1
        parameter = int(rng.integers(0, 1_000_000))
        b = ((order + 1) * 4 + R_SHARE) * 10**7 + parameter
        share = 1_000_000 if kind == "reversal" else int(rng.integers(200_000, 800_000))
        return _pair(account, kind, redeem_at, reverse_at, b, share)

    def _past_due(self, kind: str, account: int) -> Special | None:
        # reversed in the month after the lot was due, before the last month when there is room
        rng, starts, months = self.rng, self.calendar.starts, self.calendar.months
        lot_month = int(rng.integers(0, max(0, months - EXPIRY_AFTER_MONTHS - 3) + 1))
        due = lot_month + EXPIRY_AFTER_MONTHS
        reverse_month = due + 1
        if reverse_month >= months:
            return None
        redeem_month = due - int(rng.integers(0, 3))
        redeem_at = _at(rng, int(starts[redeem_month]), int(starts[redeem_month + 1]) - DAY)
        reverse_at = _at(rng, int(starts[reverse_month]), int(starts[reverse_month]) + 15 * DAY)
        if reverse_at >= int(self.as_of[account]) - 3 * DAY:
            return None
        b = (0 * 4 + R_FRONT_LOT) * 10**7 + lot_month
        return _pair(account, kind, redeem_at, reverse_at, b, 1_000_000)

    def _tier(self, kind: str, account: int) -> Special | None:
        # a month end whose qualifying points miss a threshold by at most a catalog redemption
        rng, starts, months = self.rng, self.calendar.starts, self.calendar.months
        options = []
        for month in range(1, months - 1):
            q = int(self.accruals.qualifying[month + 1, account])
            for threshold in TIER_MIN_POINTS[1:]:
                missing = threshold - q
                fits = [value for value in REDEEM_CATALOG if missing <= value <= 1_000]
                if missing > 0 and fits:
                    options.append((month, fits[0]))
        if not options:
            return None
        smallest = min(points for _, points in options)  # the likeliest to fit in the balance
        options = [option for option in options if option[1] == smallest]
        month, points = options[int(rng.integers(0, len(options)))]
        lo = max(int(starts[month]), int(self.members.enrolled[account]) + DAY)
        if lo >= int(starts[month + 1]) - 4 * DAY:
            return None
        redeem_at = _at(rng, lo, int(starts[month + 1]) - 3 * DAY)
        reverse_at = _at(rng, redeem_at + HOUR, int(starts[month + 1]) - DAY)
        b = (0 * 4 + R_FIXED) * 10**7 + points
        return _pair(account, kind, redeem_at, reverse_at, b, 1_000_000)


def realised(special: Special, run: AccountRun, calendar: Calendar, accruals: Accruals) -> bool:
    """The run carries the special as planned (and, for ``tier``, the old rule would differ)."""
    if not any(key == special.items[0][4] for key, _ in run.info.get("reinstated", [])):
        return False
    if special.kind != "tier":
        return True
    return old_rule_tiers_differ(run, calendar, accruals, special.account)


def old_rule_tiers_differ(run: AccountRun, calendar: Calendar, accruals: Accruals, account: int) -> bool:
    """Whether counting every reverse as qualifying gives another tier at some month end."""
    occurred = np.array([e[0] for e in run.events if e[2] in (EARN, REVERSE)], dtype=np.int64)
    points = np.array([e[3] for e in run.events if e[2] in (EARN, REVERSE)], dtype=np.int64)
    for month in range(1, calendar.months + 1):
        hi = int(calendar.starts[month])
        window = (occurred >= hi - QUALIFYING_WINDOW_DAYS * DAY) & (occurred < hi)
        old = int(points[window].sum())
        if int(tier_codes(np.array([old]))[0]) != int(accruals.tier[month, account]):
            return True
    return False
