"""The points ledger and the wallet, simulated chronologically.

1. :func:`post_accruals` walks the months in order: the tier in effect in month m comes from the
   earn and reverse events already posted (occurred before month m), then month m's orders earn
   at that tier. Accrual faults (missing, duplicate, wrong, unreversed earns, earns on open
   orders) are decided here, so the tiers see the ledger as it is actually written.
2. :func:`run_points_account` replays one account's timeline: accruals, redemptions,
   corrections and the FIFO expiry at each month end, deciding amounts from the balance.
3. :func:`run_wallet_account` does the same for one wallet (account × currency).

Both runners are pure: same items in, same events out. Balance faults add a few items of
their own (see :mod:`faults`) and re-run the account.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tools.sample_data.config import DAY, HOUR, NULL, Calendar, Config, avoid_expiry_second, stream
from tools.sample_data.program import (
    EXPIRY_AFTER_MONTHS,
    QUALIFYING_WINDOW_DAYS,
    FifoLots,
    earn_points,
    tier_codes,
)
from tools.sample_data.simulate import CANCELLED, COMPLETED, PLACED, RETURNED, Members, Orders

EVENT_TYPES = ("earn", "redeem", "expire", "correct", "reverse")
EARN, REDEEM, EXPIRE, CORRECT, REVERSE = range(5)
SOURCES = ("pos", "web", "app", "backoffice", "expiry_job")
SRC_POS, SRC_WEB, SRC_APP, SRC_BACKOFFICE, SRC_EXPIRY = range(5)

# order accrual plans
ACC_NORMAL, ACC_MISSING, ACC_DUPLICATE, ACC_MISMATCH, ACC_NO_REVERSE, ACC_PARTIAL_REVERSE, ACC_OPEN_EARN = range(7)
LATE_SHARE = 0.03


def record_lag(rng: np.random.Generator, size: int, end: int, occurred: np.ndarray) -> np.ndarray:
    """recorded_at: a few seconds to minutes after occurred_at, about 3% one to five days late."""
    lag = rng.integers(2, 600, size=size)
    late = rng.random(size) < LATE_SHARE
    lag = np.where(late, rng.integers(DAY, 5 * DAY, size=size), lag)
    return np.minimum(occurred + lag, end - 1)


@dataclass
class Accruals:
    """Earn and reverse events (the 'base' events), tiers by month, and the accrual plan."""

    account: np.ndarray
    occurred: np.ndarray
    recorded: np.ndarray
    points: np.ndarray
    kind: np.ndarray  # EARN or REVERSE
    order: np.ndarray
    reverses: np.ndarray  # base index of the earn a reverse reverses, -1 otherwise
    source: np.ndarray
    tier: np.ndarray  # (months + 1, accounts): tier code in effect in month m
    qualifying: np.ndarray  # (months + 1, accounts): the points that decided it
    plan: np.ndarray  # per order: ACC_*
    expected: np.ndarray  # per order: expected_points (0 unless latest state completed)


def choose_accrual_faults(config: Config, orders: Orders, end: int) -> np.ndarray:
    """Pick the orders that get each accrual fault, at most one fault per account."""
    rng = stream(config.seed, "accrual_faults")
    plan = np.zeros(orders.count, dtype=np.int8)
    member = orders.account >= 0
    completed_final = member & (orders.final == COMPLETED)
    # completed (so earned), then returned or cancelled
    earned_then_ended = member & (orders.completed != NULL) & np.isin(orders.final, (RETURNED, CANCELLED))
    open_final = member & (orders.final == PLACED) & (orders.ordered + 6 * HOUR < end)
    per_class = max(3, config.accounts // 400)
    used_accounts: set[int] = set()
    for code, pool in (
        (ACC_MISSING, completed_final),
        (ACC_DUPLICATE, completed_final),
        (ACC_MISMATCH, completed_final),
        (ACC_NO_REVERSE, earned_then_ended),
        (ACC_PARTIAL_REVERSE, earned_then_ended),
        (ACC_OPEN_EARN, open_final),
    ):
        candidates = np.flatnonzero(pool & (plan == ACC_NORMAL))
        picked = 0
        for k in rng.permutation(candidates).tolist():
            account = int(orders.account[k])
            if account in used_accounts:
                continue
            if code == ACC_PARTIAL_REVERSE and orders.net[k] < 400:
                continue  # a partial reverse needs at least 2 points to split
            plan[k] = code
            used_accounts.add(account)
            picked += 1
            if picked == per_class:
                break
    return plan


def post_accruals(config: Config, calendar: Calendar, members: Members, orders: Orders) -> Accruals:
    rng = stream(config.seed, "accruals")
    n, months, end = members.count, calendar.months, calendar.cutoff
    plan = choose_accrual_faults(config, orders, end)
    tier = np.zeros((months + 1, n), dtype=np.int8)
    qualifying = np.zeros((months + 1, n), dtype=np.int64)
    expected = np.zeros(orders.count, dtype=np.int64)

    capacity = orders.count * 2 + 16
    acc = np.empty(capacity, np.int64)
    occ = np.empty(capacity, np.int64)
    rec = np.empty(capacity, np.int64)
    pts = np.empty(capacity, np.int64)
    kind = np.empty(capacity, np.int8)
    ordr = np.empty(capacity, np.int64)
    revs = np.empty(capacity, np.int64)
    filled = 0

    def evaluate(month: int) -> None:
        """Tier effective in ``month``: qualifying points in the 365 days before its first day."""
        hi = calendar.starts[month]
        lo = hi - QUALIFYING_WINDOW_DAYS * DAY
        window = (occ[:filled] >= lo) & (occ[:filled] < hi)
        q = np.bincount(acc[:filled][window], weights=pts[:filled][window], minlength=n)
        qualifying[month] = np.round(q).astype(np.int64)
        tier[month] = tier_codes(qualifying[month])

    month_bounds = np.searchsorted(orders.month, np.arange(months + 1))
    member = orders.account >= 0
    for month in range(months):
        if month > 0:
            evaluate(month)
        lo, hi = month_bounds[month], month_bounds[month + 1]
        k = np.arange(lo, hi)[member[lo:hi]]
        account = orders.account[k]
        points = earn_points(orders.net[k], tier[month][account])
        expected[k] = np.where(orders.final[k] == COMPLETED, points, 0)
        p = plan[k]
        earns = ((orders.completed[k] != NULL) & (p != ACC_MISSING)) | (p == ACC_OPEN_EARN)
        ke, pe = k[earns], points[earns]
        pl = p[earns]
        delta = rng.integers(1, 31, size=len(ke)) * np.where(rng.random(len(ke)) < 0.5, -1, 1)
        wrong = np.where(pe + delta >= 1, pe + delta, pe + np.abs(delta))
        pe = np.where(pl == ACC_MISMATCH, wrong, pe)
        open_at = avoid_expiry_second(
            np.minimum(orders.ordered[ke] + rng.integers(HOUR, 5 * HOUR, size=len(ke)), end - 2)
        )
        e_occ = np.where(pl == ACC_OPEN_EARN, open_at, orders.completed[ke])
        e_rec = record_lag(rng, len(ke), end, e_occ)
        # the retried duplicate earn, a few minutes after the first
        dup = pl == ACC_DUPLICATE
        d_occ = avoid_expiry_second(np.minimum(e_occ[dup] + rng.integers(120, 900, size=int(dup.sum())), end - 2))
        d_rec = record_lag(rng, len(d_occ), end, d_occ)
        # reversals of earned orders that were cancelled or returned later
        ended = (orders.end_status[ke] != PLACED) & (orders.ended[ke] != NULL) & (pl != ACC_NO_REVERSE)
        r_occ = orders.ended[ke][ended]
        r_pts = np.where(pl[ended] == ACC_PARTIAL_REVERSE, -(pe[ended] // 2), -pe[ended])
        # a reversal is never recorded before the earn it reverses (no dip below zero while it is late)
        r_rec = np.minimum(np.maximum(record_lag(rng, len(r_occ), end, r_occ), e_rec[ended] + 1), end - 1)
        earn_base = filled + np.arange(len(ke))

        blocks = (
            (ke, e_occ, e_rec, pe, EARN, np.full(len(ke), -1)),
            (ke[dup], d_occ, d_rec, pe[dup], EARN, np.full(len(d_occ), -1)),
            (ke[ended], r_occ, r_rec, r_pts, REVERSE, earn_base[ended]),
        )
        for b_order, b_occ, b_rec, b_pts, b_kind, b_rev in blocks:
            size = len(b_order)
            sl = slice(filled, filled + size)
            acc[sl], occ[sl], rec[sl], pts[sl] = orders.account[b_order], b_occ, b_rec, b_pts
            kind[sl], ordr[sl], revs[sl] = b_kind, b_order, b_rev
            filled += size
    evaluate(months)

    sl = slice(0, filled)
    source = np.where(orders.channel[ordr[sl]] == 1, SRC_WEB, SRC_POS).astype(np.int8)
    return Accruals(
        acc[sl].copy(),
        occ[sl].copy(),
        rec[sl].copy(),
        pts[sl].copy(),
        kind[sl].copy(),
        ordr[sl].copy(),
        revs[sl].copy(),
        source,
        tier,
        qualifying,
        plan,
        expected,
    )


# --- the points timeline of one account ---------------------------------------------------
# item kinds, in the order they are processed when two items share (occurred_at, recorded_at)
K_BASE, K_REDEEM, K_CORRECT, K_CLAWBACK, K_STRADDLE, K_TWIN, K_FAULT_CORRECT, K_STALE, K_EXPIRE = range(9)
REDEEM_CATALOG = (100, 200, 300, 500, 750, 1000, 1500, 2000, 2500, 5000)
CORRECT_SIZES = (10, 20, 25, 50, 100, 150, 250, 500)


class Infeasible(Exception):
    """A fault could not be placed on this account (its balance cannot carry it)."""


@dataclass
class AccountRun:
    events: list[tuple]  # (occurred, recorded, type, amount, order, base index, source)
    available_before_faults: int = 0
    went_negative: bool = False
    info: dict = field(default_factory=dict)


def largest_catalog(amount: float, catalog: tuple[int, ...]) -> int:
    best = 0
    for value in catalog:
        if value <= amount:
            best = value
    return best


def run_points_account(
    items: list[tuple],
    base_points: list[int],
    base_kind: list[int],
    base_order: list[int],
    base_source: list[int],
    fault_window: int,
) -> AccountRun:
    """Replay one account's points timeline.

    ``items`` are (occurred, recorded, kind, a, b, month) sorted by (occurred, recorded, kind, a):
    K_BASE a=base index; K_REDEEM a=order or -1, b=uniform in millionths; K_CORRECT a=signed size;
    K_EXPIRE a=lot month to expire; K_CLAWBACK a=points kept back; K_STRADDLE a=points;
    K_TWIN a=points, b=seconds between the two copies; K_FAULT_CORRECT a=signed points;
    K_STALE a=points redeemed. Base reverses are netted off "available" until they happen, so
    ordinary redemptions never push the balance below zero; only K_CLAWBACK does, on purpose.
    """
    lots = FifoLots()
    events: list[tuple] = []
    pending_reversals = -sum(
        base_points[a] for _, _, kind, a, _, _ in items if kind == K_BASE and base_kind[a] == REVERSE
    )
    late: list[tuple[int, int]] = []  # positive points recorded later than they occurred
    run = AccountRun(events)
    window_seen = False

    def available(at: int) -> int:
        unrecorded = 0
        if late:
            late[:] = [(r, p) for r, p in late if r > at]
            unrecorded = sum(p for _, p in late)
        return lots.balance - pending_reversals - unrecorded

    for occurred, recorded, kind, a, b, month in items:
        if not window_seen and occurred >= fault_window:
            window_seen = True
            run.available_before_faults = available(occurred)
        if kind == K_BASE:
            points = base_points[a]
            if points > 0:
                lots.add(month, points)
                if recorded - occurred > 3600:
                    late.append((recorded, points))
            else:
                lots.consume(-points)
                pending_reversals += points
                if lots.balance < 0:
                    run.went_negative = True
            events.append((occurred, recorded, base_kind[a], points, base_order[a], a, base_source[a]))
        elif kind == K_EXPIRE:
            remaining = lots.expire(a)
            if remaining > 0:
                events.append((occurred, recorded, EXPIRE, -remaining, -1, -1, SRC_EXPIRY))
        elif kind == K_REDEEM:
            room = available(occurred)
            points = largest_catalog(room * (0.3 + 0.7 * b / 1e6), REDEEM_CATALOG)
            if points:
                lots.consume(points)
                source = SRC_POS if a >= 0 else SRC_APP
                events.append((occurred, recorded, REDEEM, -points, a, -1, source))
        elif kind == K_CORRECT:
            if a < 0 and available(occurred) + a < 0:
                continue
            if a > 0:
                lots.add(month, a)
            else:
                lots.consume(-a)
            events.append((occurred, recorded, CORRECT, a, -1, -1, SRC_BACKOFFICE))
        elif kind == K_CLAWBACK:
            points = lots.balance - a
            if points > 0:
                lots.consume(points)
                events.append((occurred, recorded, REDEEM, -points, -1, -1, SRC_APP))
                run.info["clawback"] = points
        elif kind == K_STRADDLE:
            lots.add(month, a)
            events.append((occurred, recorded, CORRECT, a, -1, -1, SRC_BACKOFFICE))
        elif kind == K_TWIN:
            order, gap = b // 1_000_000 - 1, b % 1_000_000
            if available(occurred) < 2 * a:
                raise Infeasible("balance too small for a double-posted redemption")
            lots.consume(2 * a)
            source = SRC_POS if order >= 0 else SRC_APP
            events.append((occurred, recorded, REDEEM, -a, order, -1, source))
            events.append((occurred, recorded + gap, REDEEM, -a, order, -1, source))
            run.info["twin"] = -a
        elif kind == K_FAULT_CORRECT:
            if a < 0:
                if available(occurred) + a < 0:
                    raise Infeasible("balance too small for a negative correction")
                lots.consume(-a)
            else:
                lots.add(month, a)
            events.append((occurred, recorded, CORRECT, a, -1, -1, SRC_BACKOFFICE))
            run.info["correction"] = a
        elif kind == K_STALE:
            if available(occurred) < a:
                raise Infeasible("balance too small for the last redemptions")
            lots.consume(a)
            events.append((occurred, recorded, REDEEM, -a, -1, -1, SRC_APP))
    if not window_seen:
        run.available_before_faults = available(fault_window)
    return run


@dataclass
class PointsItems:
    """Every account's timeline items, sorted by account then time (numpy columns)."""

    account: np.ndarray
    occurred: np.ndarray
    recorded: np.ndarray
    kind: np.ndarray
    a: np.ndarray
    b: np.ndarray
    month: np.ndarray
    bounds: np.ndarray  # bounds[i]:bounds[i+1] are account i's items


def points_items(
    config: Config, calendar: Calendar, members: Members, orders: Orders, accruals: Accruals, extra: list[tuple]
) -> PointsItems:
    """The timeline of every account: accruals, candidate redemptions/corrections, month ends.

    ``extra`` holds (account, occurred, recorded, kind, a, b) items of the planned specials
    (clawbacks, late-recorded corrections).
    """
    rng = stream(config.seed, "points_items")
    n, months, end = members.count, calendar.months, calendar.cutoff
    starts = calendar.starts[: months + 1]
    active = ~members.inactive
    # standalone redemptions: each member has a propensity, tried at a random time in the month
    propensity = np.where(active, rng.beta(1.2, 6.0, size=n), 0.0)
    before_lapse = np.arange(months)[None, :] < members.lapsed[:, None]
    tries = (rng.random((n, months)) < propensity[:, None]) & before_lapse
    r_acc, r_month = np.nonzero(tries)
    lo = np.maximum(starts[r_month], members.enrolled[r_acc])
    keep = lo < starts[r_month + 1]
    r_acc, r_month, lo = r_acc[keep], r_month[keep], lo[keep]
    r_occ = avoid_expiry_second(lo + (rng.random(len(lo)) * (starts[r_month + 1] - lo - 1)).astype(np.int64))
    r_order = np.full(len(r_occ), -1)
    # redemptions at checkout, tied to an order
    member_orders = np.flatnonzero((orders.account >= 0) & (rng.random(orders.count) < 0.04))
    c_acc = orders.account[member_orders]
    c_occ = avoid_expiry_second(np.minimum(orders.ordered[member_orders] + 60, end - 2))
    # corrections of either sign
    corr = (rng.random((n, months)) < np.where(active, 0.012, 0.0)[:, None]) & before_lapse
    k_acc, k_month = np.nonzero(corr)
    k_lo = np.maximum(starts[k_month], members.enrolled[k_acc])
    keep = k_lo < starts[k_month + 1]
    k_acc, k_month, k_lo = k_acc[keep], k_month[keep], k_lo[keep]
    k_occ = avoid_expiry_second(k_lo + (rng.random(len(k_lo)) * (starts[k_month + 1] - k_lo - 1)).astype(np.int64))
    k_size = np.array(CORRECT_SIZES)[rng.integers(0, len(CORRECT_SIZES), size=len(k_occ))]
    k_size = np.where(rng.random(len(k_occ)) < 0.6, k_size, -k_size)

    redeem_occ = np.concatenate([r_occ, c_occ])
    redeem_acc = np.concatenate([r_acc, c_acc])
    redeem_order = np.concatenate([r_order, member_orders])
    redeem_rec = record_lag(rng, len(redeem_occ), end, redeem_occ)
    redeem_u = rng.integers(0, 1_000_000, size=len(redeem_occ))
    k_rec = np.minimum(k_occ + rng.integers(5, 900, size=len(k_occ)), end - 1)

    # month ends: expire the lots of month X - 18 at the end of month X
    first_month = np.full(n, months, dtype=np.int64)
    np.minimum.at(first_month, accruals.account, calendar.month_of(accruals.occurred))
    np.minimum.at(first_month, redeem_acc, calendar.month_of(redeem_occ))
    np.minimum.at(first_month, k_acc, calendar.month_of(k_occ))
    x_acc, x_month = [], []
    for x in range(EXPIRY_AFTER_MONTHS, calendar.ended):  # the job runs at the end of each ended month
        who = np.flatnonzero(first_month <= x - EXPIRY_AFTER_MONTHS)
        x_acc.append(who)
        x_month.append(np.full(len(who), x))
    x_acc = np.concatenate(x_acc) if x_acc else np.zeros(0, np.int64)
    x_month = np.concatenate(x_month) if x_month else np.zeros(0, np.int64)
    x_occ = calendar.starts[x_month + 1] - 1

    extra_arr = np.array(extra, dtype=np.int64).reshape(-1, 6)
    nb = len(accruals.account)
    account = np.concatenate([accruals.account, redeem_acc, k_acc, x_acc, extra_arr[:, 0]])
    occurred = np.concatenate([accruals.occurred, redeem_occ, k_occ, x_occ, extra_arr[:, 1]])
    recorded = np.concatenate([accruals.recorded, redeem_rec, k_rec, x_occ, extra_arr[:, 2]])
    kind = np.concatenate(
        [
            np.full(nb, K_BASE),
            np.full(len(redeem_occ), K_REDEEM),
            np.full(len(k_occ), K_CORRECT),
            np.full(len(x_occ), K_EXPIRE),
            extra_arr[:, 3],
        ]
    )
    a = np.concatenate([np.arange(nb), redeem_order, k_size, x_month - EXPIRY_AFTER_MONTHS, extra_arr[:, 4]])
    b = np.concatenate([np.zeros(nb, np.int64), redeem_u, np.zeros(len(k_occ) + len(x_occ), np.int64), extra_arr[:, 5]])
    order = np.lexsort((a, kind, recorded, occurred, account))
    account, occurred, recorded = account[order], occurred[order], recorded[order]
    kind, a, b = kind[order], a[order], b[order]
    month = calendar.month_of(occurred)
    bounds = np.searchsorted(account, np.arange(n + 1))
    return PointsItems(account, occurred, recorded, kind, a, b, month, bounds)


# --- wallets -------------------------------------------------------------------------------
TXN_TYPES = ("top_up", "spend", "refund", "cashback", "adjust")
TOP_UP, SPEND, REFUND, CASHBACK, ADJUST = range(5)
CURRENCIES = ("EUR", "GBP")
W_TOP_UP, W_SPEND_ORDER, W_SPEND, W_REFUND, W_CASHBACK, W_ADJUST, W_STRADDLE, W_TWIN, W_FAULT_ADJUST, W_STALE = range(
    10
)
TOP_UP_SIZES = (2_000, 2_500, 5_000, 10_000, 15_000, 20_000)


@dataclass
class Wallets:
    """Which accounts hold which wallet, and every wallet's timeline items."""

    holders: list[tuple[int, int]]  # (account, currency) in wallet order
    items: list[list[tuple]]  # per wallet: (occurred, recorded, kind, a, b)


def wallet_holders(config: Config, members: Members) -> list[tuple[int, int]]:
    rng = stream(config.seed, "wallet_holders")
    n = members.count
    active = ~members.inactive
    gbp_share = max(0.12, 60 / n)  # small runs still need enough wallets per currency for every fault
    eur = active & (rng.random(n) < max(0.35, 60 / n))
    gbp = active & (rng.random(n) < gbp_share)
    holders = [(int(i), 0) for i in np.flatnonzero(eur)] + [(int(i), 1) for i in np.flatnonzero(gbp)]
    return sorted(holders)


def wallet_items(
    config: Config, calendar: Calendar, members: Members, orders: Orders, holders: list[tuple[int, int]]
) -> list[list[tuple]]:
    """Each wallet's candidate transactions (occurred, recorded, kind, a, b), sorted by time.

    Amounts of spends are decided when the wallet is replayed, from its balance then.
    """
    rng = stream(config.seed, "wallet_items")
    months, end = calendar.months, calendar.cutoff
    starts = calendar.starts[: months + 1]
    count = len(holders)
    holder_account = np.array([a for a, _ in holders], dtype=np.int64).reshape(-1)
    holder_currency = np.array([c for _, c in holders], dtype=np.int64).reshape(-1)
    enrolled = members.enrolled[holder_account]
    first = np.maximum(0, calendar.month_of(np.maximum(enrolled, calendar.begin)))
    first = first + (rng.random(count) * np.clip(np.minimum(6, months - first - 2), 1, None)).astype(np.int64)
    month_grid = np.arange(months)[None, :]
    live = (month_grid >= first[:, None]) & (month_grid < members.lapsed[holder_account][:, None])

    def cells(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        holder, month = np.nonzero(mask)
        lo = np.maximum(starts[month], enrolled[holder] + 60)
        occurred = lo + (rng.random(len(lo)) * np.maximum(starts[month + 1] - lo - 1, 1)).astype(np.int64)
        return holder, month, occurred

    parts = []
    top_up = live & ((month_grid == first[:, None]) | (rng.random((count, months)) < 0.3))
    h, _, t = cells(top_up)
    sizes = np.array(TOP_UP_SIZES)[rng.integers(0, len(TOP_UP_SIZES), size=len(h))]
    parts.append((h, t, t + rng.integers(2, 120, size=len(h)), W_TOP_UP, sizes, 0))
    spends = rng.poisson(np.where(holder_currency == 0, 0.25, 0.9)[:, None] * live)
    h, m = np.nonzero(spends)
    reps = spends[h, m]
    h, m = np.repeat(h, reps), np.repeat(m, reps)
    lo = np.maximum(starts[m], enrolled[h] + 60)
    t = lo + (rng.random(len(lo)) * np.maximum(starts[m + 1] - lo - 1, 1)).astype(np.int64)
    parts.append((h, t, _wallet_recorded(rng, t, end), W_SPEND, -1, rng.integers(0, 1_000_000, size=len(h))))
    h, _, t = cells(live & (rng.random((count, months)) < 0.12))
    parts.append((h, t, t + rng.integers(2, 120, size=len(h)), W_CASHBACK, rng.integers(50, 500, size=len(h)), 0))
    h, _, t = cells(live & (rng.random((count, months)) < 0.012))
    sizes = rng.integers(100, 2_000, size=len(h)) * np.where(rng.random(len(h)) < 0.5, 1, -1)
    parts.append((h, t, t + rng.integers(5, 900, size=len(h)), W_ADJUST, sizes, 0))
    # spends at checkout (EUR wallets pay part or all of an order) and their refunds
    eur_holder = np.full(members.count, -1, dtype=np.int64)
    eur = holder_currency == 0
    eur_holder[holder_account[eur]] = np.flatnonzero(eur)
    k = np.flatnonzero(orders.account >= 0)
    h = eur_holder[orders.account[k]]
    paid = (h >= 0) & (rng.random(len(k)) < 0.4)
    k, h = k[paid], h[paid]
    keep = orders.ordered[k] >= starts[first[h]]
    k, h = k[keep], h[keep]
    t = orders.ordered[k] + 30
    parts.append((h, t, _wallet_recorded(rng, t, end), W_SPEND_ORDER, k, rng.integers(0, 1_000_000, size=len(k))))
    refunded = orders.ended[k] != NULL
    k, h = k[refunded], h[refunded]
    t = orders.ended[k]
    parts.append((h, t, t + rng.integers(2, 120, size=len(k)), W_REFUND, k, 0))

    def column(part: tuple, i: int) -> np.ndarray:
        value = part[i]
        return np.broadcast_to(np.asarray(value, dtype=np.int64), part[0].shape)

    holder = np.concatenate([column(p, 0) for p in parts])
    occurred = avoid_expiry_second(np.concatenate([column(p, 1) for p in parts]))
    recorded = np.concatenate([column(p, 2) for p in parts])
    kind = np.concatenate([column(p, 3) for p in parts])
    a = np.concatenate([column(p, 4) for p in parts])
    b = np.concatenate([column(p, 5) for p in parts])
    keep = occurred < end - 1
    holder, occurred, recorded, kind, a, b = (x[keep] for x in (holder, occurred, recorded, kind, a, b))
    recorded = np.minimum(np.maximum(recorded, occurred), end - 1)
    order = np.lexsort((b, a, kind, recorded, occurred, holder))
    holder, occurred, recorded, kind, a, b = (x[order] for x in (holder, occurred, recorded, kind, a, b))
    bounds = np.searchsorted(holder, np.arange(count + 1)).tolist()
    rows = list(zip(occurred.tolist(), recorded.tolist(), kind.tolist(), a.tolist(), b.tolist(), strict=True))
    return [rows[bounds[i] : bounds[i + 1]] for i in range(count)]


def _wallet_recorded(rng: np.random.Generator, occurred: np.ndarray, end: int) -> np.ndarray:
    """Spends: recorded seconds after they occur, about 3% one to five days late."""
    lag = np.where(
        rng.random(len(occurred)) < LATE_SHARE,
        rng.integers(DAY, 5 * DAY, size=len(occurred)),
        rng.integers(2, 120, size=len(occurred)),
    )
    return np.minimum(occurred + lag, end - 1)


def run_wallet_account(items: list[tuple], order_net: np.ndarray, fault_window: int) -> AccountRun:
    """Replay one wallet: spends and negative adjustments never exceed the balance.

    Item kinds: W_TOP_UP/W_CASHBACK a=cents; W_SPEND b=uniform millionths; W_SPEND_ORDER a=order,
    b=uniform; W_REFUND a=order (refunds that order's spend, if any); W_ADJUST a=signed cents;
    faults: W_TWIN a=cents, b=seconds between copies; W_FAULT_ADJUST a=signed cents;
    W_STALE a=signed cents (top-up when positive, spend when negative); W_STRADDLE a=cents.
    Events are (occurred, recorded, txn type, cents, order, -1, 0).
    """
    balance = 0
    events: list[tuple] = []
    spent: dict[int, int] = {}
    held: list[tuple[int, int]] = []  # (recorded, cents) credited but not yet recorded: not spendable
    run = AccountRun(events)
    window_seen = False

    def spendable(at: int) -> int:
        if held:
            held[:] = [(r, c) for r, c in held if r > at]
        return balance - sum(c for _, c in held)

    for occurred, recorded, kind, a, b in items:
        if not window_seen and occurred >= fault_window:
            window_seen = True
            run.available_before_faults = balance
        if kind == W_TOP_UP:
            balance += a
            events.append((occurred, recorded, TOP_UP, a, -1, -1, 0))
        elif kind in (W_CASHBACK, W_STRADDLE):
            balance += a
            if recorded > occurred + 600:
                held.append((recorded, a))
            events.append((occurred, recorded, CASHBACK, a, -1, -1, 0))
        elif kind == W_SPEND:
            cents = int(spendable(occurred) * (0.1 + 0.6 * b / 1e6))
            if cents >= 100:
                balance -= cents
                events.append((occurred, recorded, SPEND, -cents, -1, -1, 0))
        elif kind == W_SPEND_ORDER:
            share = 1.0 if b < 500_000 else 0.2 + 1.6 * (b - 500_000) / 1e6
            cents = min(spendable(occurred), int(int(order_net[a]) * share))
            if cents >= 50:
                balance -= cents
                spent[a] = cents
                events.append((occurred, recorded, SPEND, -cents, a, -1, 0))
        elif kind == W_REFUND:
            cents = spent.pop(a, 0)
            if cents:
                balance += cents
                events.append((occurred, recorded, REFUND, cents, a, -1, 0))
        elif kind == W_ADJUST:
            if spendable(occurred) + a >= 0:
                balance += a
                events.append((occurred, recorded, ADJUST, a, -1, -1, 0))
        elif kind == W_TWIN:
            if spendable(occurred) < 2 * a:
                raise Infeasible("wallet balance too small for a double-posted spend")
            balance -= 2 * a
            events.append((occurred, recorded, SPEND, -a, -1, -1, 0))
            events.append((occurred, recorded + b, SPEND, -a, -1, -1, 0))
            run.info["twin"] = -a
        elif kind == W_FAULT_ADJUST:
            if spendable(occurred) + a < 0:
                raise Infeasible("wallet balance too small for a negative adjustment")
            balance += a
            events.append((occurred, recorded, ADJUST, a, -1, -1, 0))
            run.info["correction"] = a
        elif kind == W_STALE:
            if spendable(occurred) + a < 0:
                raise Infeasible("wallet balance too small for the last spends")
            balance += a
            events.append((occurred, recorded, TOP_UP if a > 0 else SPEND, a, -1, -1, 0))
    if not window_seen:
        run.available_before_faults = balance
    return run
