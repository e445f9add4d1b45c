"""Stores, members, orders and store operations: the commerce side of the simulation.

Everything is vectorised with numpy; indexes into these arrays are the simulation's keys
(account index i is account_id ``A{i+1:06d}``, order index k is ``O{k+1:07d}``, and so on).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tools.sample_data.config import DAY, HOUR, NULL, Calendar, Config, avoid_expiry_second, stream

CITIES = (
    "Lyon",
    "Lille",
    "Nantes",
    "Bordeaux",
    "Toulouse",
    "Rennes",
    "Dijon",
    "Metz",
    "Nice",
    "Brest",
    "Reims",
    "Tours",
    "Angers",
    "Caen",
    "Rouen",
    "Nancy",
    "Amiens",
    "Pau",
    "Nimes",
    "Limoges",
)
REGIONS = ("North", "South", "East", "West", "Central")

# order status codes
PLACED, COMPLETED, CANCELLED, RETURNED = 0, 1, 2, 3
ORDER_STATUSES = ("placed", "completed", "cancelled", "returned")
CHANNELS = ("store", "online")

# Calibrated so that the 1M-event size runs in time and tiers spread across all four levels.
ORDERS_PER_MEMBER_MONTH = 1.45
GUEST_SHARE = 0.15


def id_width(count: int, minimum: int) -> int:
    return max(minimum, len(str(count)))


@dataclass
class Stores:
    ids: list[str]
    names: list[str]
    regions: list[str]
    opened_day: np.ndarray  # epoch day
    closed_day: np.ndarray  # epoch day of the first day closed, or NULL

    @property
    def count(self) -> int:
        return len(self.ids)

    def is_open(self, store: np.ndarray, day: np.ndarray) -> np.ndarray:
        closed = self.closed_day[store]
        return (self.opened_day[store] <= day) & ((closed == NULL) | (day < closed))

    def random_open(self, rng: np.random.Generator, day: np.ndarray) -> np.ndarray:
        """A random store open on each day (rejection sampling; some store is always open)."""
        store = rng.integers(0, self.count, size=day.shape)
        bad = ~self.is_open(store, day)
        while bad.any():
            store[bad] = rng.integers(0, self.count, size=int(bad.sum()))
            bad = ~self.is_open(store, day)
        return store


def make_stores(config: Config, calendar: Calendar) -> Stores:
    rng = stream(config.seed, "stores")
    count = max(8, config.accounts // 100)
    width = id_width(count, 3)
    begin_day = calendar.first_day(0)
    opened = begin_day - rng.integers(30, 5 * 365, size=count)
    closed = np.full(count, NULL, dtype=np.int64)
    order = rng.permutation(np.arange(1, count))  # store 0 always opens before the start
    mid = order[: max(1, round(count * 0.08))]
    rest = order[len(mid) :]
    months = calendar.months
    for store in mid:
        month = int(rng.integers(2, months - 2))
        opened[store] = calendar.first_day(month) + int(rng.integers(4, 25))
    for store in rest[: 1 if count < 15 else 2]:
        month = int(rng.integers(months // 2, months - 1))
        closed[store] = calendar.first_day(month) + int(rng.integers(4, 25))
    ids = [f"S{i + 1:0{width}d}" for i in range(count)]
    names = [
        f"{CITIES[i % len(CITIES)]} {('Centre', 'Gare', 'Parc', 'Nord', 'Sud')[(i // len(CITIES)) % 5]}"
        + (f" {i // (5 * len(CITIES)) + 1}" if i >= 5 * len(CITIES) else "")
        for i in range(count)
    ]
    regions = [REGIONS[int(r)] for r in rng.integers(0, len(REGIONS), size=count)]
    return Stores(ids, names, regions, opened.astype(np.int64), closed)


@dataclass
class Members:
    ids: list[str]
    emails: list[str]
    enrolled: np.ndarray  # seconds
    home_store: np.ndarray  # store index or -1
    closed: np.ndarray  # bool: status 'closed'
    inactive: np.ndarray  # bool: never buys, never tops up (used for no-movement snapshots)
    rate: np.ndarray  # orders per active month
    basket: np.ndarray  # median order value in cents
    lapsed: np.ndarray  # month index from which the member does nothing more (months: never lapses)

    @property
    def count(self) -> int:
        return len(self.ids)


FIRST_NAMES = ("anna", "ben", "chloe", "david", "emma", "felix", "grace", "hugo", "ines", "jules", "lena", "marc")
DOMAINS = ("example.com", "example.net", "example.org")


def make_members(config: Config, calendar: Calendar, stores: Stores) -> Members:
    rng = stream(config.seed, "members")
    n = config.accounts
    span = calendar.end - calendar.begin
    before = rng.random(n) < 0.7
    enrolled = np.where(
        before,
        calendar.begin - rng.integers(HOUR, 3 * 365 * DAY, size=n),
        calendar.begin + (rng.random(n) * 0.85 * span).astype(np.int64),
    )
    enrolled = np.sort(avoid_expiry_second(enrolled))  # account ids follow enrolment order
    inactive = np.zeros(n, dtype=bool)
    inactive[rng.choice(n, size=max(4, n // 50), replace=False)] = True
    vip = (rng.random(n) < 0.04) & ~inactive
    rate = np.exp(rng.normal(0.0, 0.6, size=n)) * ORDERS_PER_MEMBER_MONTH * np.where(vip, 2.5, 1.0)
    basket = np.exp(rng.normal(np.log(4_000), 0.6, size=n)) * np.where(vip, 4.0, 1.0)
    day = np.maximum(enrolled, calendar.begin) // DAY
    home = stores.random_open(rng, day)
    home[rng.random(n) < 0.08] = -1
    closed = rng.random(n) < 0.04
    width = id_width(n, 6)
    ids = [f"A{i + 1:0{width}d}" for i in range(n)]
    first = rng.integers(0, len(FIRST_NAMES), size=n)
    domain = rng.integers(0, len(DOMAINS), size=n)
    pairs = zip(first.tolist(), domain.tolist(), strict=True)
    emails = [f"{FIRST_NAMES[f]}.{i + 1}@{DOMAINS[d]}" for i, (f, d) in enumerate(pairs)]
    lapsed = lapse_months(config, calendar, enrolled, inactive, rate, basket)
    return Members(ids, emails, enrolled, home.astype(np.int64), closed, inactive, rate, basket, lapsed)


# A lapsed member stops buying, redeeming and topping up at least this many months before the
# last month of the data: their qualifying points leave the 365-day window and they must be
# downgraded at the month ends after their last event, up to the data's as-of.
LAPSE_QUIET_MONTHS = 14


def lapse_months(
    config: Config,
    calendar: Calendar,
    enrolled: np.ndarray,
    inactive: np.ndarray,
    rate: np.ndarray,
    basket: np.ndarray,
) -> np.ndarray:
    """Per member, the month index from which they do nothing more (calendar.months: never).

    About one member in 30 (at least 4), drawn from the tenth who spend the most so that most
    had earned a tier, lapses in a month between the second and LAPSE_QUIET_MONTHS before the
    last; none when the data is too short for a downgrade after the lapse."""
    n, months = len(enrolled), calendar.months
    lapsed = np.full(n, months, dtype=np.int64)
    latest = months - LAPSE_QUIET_MONTHS
    if latest < 2:
        return lapsed
    rng = stream(config.seed, "lapsed")
    spend = rate * basket
    busiest = np.flatnonzero(~inactive & (spend >= np.quantile(spend, 0.9)) & (enrolled < calendar.starts[1]))
    chosen = rng.permutation(busiest)[: max(4, n // 30)]
    lapsed[chosen] = rng.integers(2, latest + 1, size=len(chosen))
    return lapsed


@dataclass
class Orders:
    """One entry per order, sorted by ordered_at (index k is order_id O{k+1})."""

    account: np.ndarray  # -1 = guest
    store: np.ndarray
    channel: np.ndarray  # 0 store, 1 online
    net: np.ndarray  # cents
    ordered: np.ndarray
    completed: np.ndarray  # NULL when never completed within the data
    ended: np.ndarray  # time of the cancel/return row, NULL if none
    end_status: np.ndarray  # CANCELLED / RETURNED / PLACED(=none)
    final: np.ndarray  # latest status code
    month: np.ndarray  # month index of ordered_at

    @property
    def count(self) -> int:
        return len(self.account)

    def ids(self) -> list[str]:
        if getattr(self, "_ids", None) is None:
            width = id_width(self.count + 1000, 7)
            self._ids = [f"O{k + 1:0{width}d}" for k in range(self.count)]
        return self._ids


def make_orders(config: Config, calendar: Calendar, stores: Stores, members: Members) -> Orders:
    rng = stream(config.seed, "orders")
    n, months = members.count, calendar.months
    starts = calendar.starts[: months + 1]
    # activity regimes: members drift between busy and quiet spells, which moves tiers both ways
    busy = np.empty((n, months), dtype=bool)
    state = rng.random(n) < 0.75
    for month in range(months):
        flip = rng.random(n)
        state = np.where(state, flip >= 0.07, flip < 0.16)
        busy[:, month] = state
    month_start, month_end = starts[:-1][None, :], starts[1:][None, :]
    active_from = np.maximum(members.enrolled[:, None], month_start)
    exposure = np.clip((month_end - active_from) / (month_end - month_start), 0.0, 1.0)
    expected = members.rate[:, None] * np.where(busy, 1.0, 0.12) * exposure
    expected[members.inactive] = 0.0
    expected[np.arange(months)[None, :] >= members.lapsed[:, None]] = 0.0
    counts = rng.poisson(expected)
    account = np.repeat(np.repeat(np.arange(n), months), counts.ravel())
    month = np.repeat(np.tile(np.arange(months), n), counts.ravel())
    lo = np.maximum(members.enrolled[account], starts[month])
    hi = starts[month + 1]
    ordered = lo + (rng.random(len(account)) * (hi - lo - 1)).astype(np.int64)
    net = np.maximum(100, np.round(np.exp(rng.normal(np.log(members.basket[account]), 0.45)))).astype(np.int64)

    guests = round(len(account) * GUEST_SHARE) + 20
    g_ordered = calendar.begin + (rng.random(guests) * (calendar.end - calendar.begin - 1)).astype(np.int64)
    g_net = np.round(np.exp(rng.normal(np.log(3_500), 0.7, size=guests))).astype(np.int64)
    g_net[rng.random(guests) < 0.01] = 0  # fully discounted orders exist (net_amount >= 0)

    account = np.concatenate([account, np.full(guests, -1)])
    ordered = avoid_expiry_second(np.concatenate([ordered, g_ordered]))
    net = np.concatenate([net, g_net])
    total = len(account)
    order = np.lexsort((rng.random(total), ordered))
    account, ordered, net = account[order], ordered[order], net[order]
    month = calendar.month_of(ordered)

    channel = (rng.random(total) < 0.3).astype(np.int8)
    day = ordered // DAY
    store = stores.random_open(rng, day)
    member = account >= 0
    home = np.where(member, members.home_store[np.maximum(account, 0)], -1)
    use_home = member & (home >= 0) & ((channel == 1) | (rng.random(total) < 0.8))
    home_open = use_home & stores.is_open(np.maximum(home, 0), day)
    store = np.where(home_open, home, store)

    # status history
    cancel_early = rng.random(total) < np.where(channel == 1, 0.05, 0.01)
    delay = np.where(channel == 1, rng.integers(DAY, 5 * DAY, size=total), rng.integers(HOUR, 6 * HOUR, size=total))
    completed = avoid_expiry_second(ordered + delay)
    cancel_time = avoid_expiry_second(ordered + rng.integers(HOUR, 30 * HOUR, size=total))
    store_return = rng.uniform(0.005, 0.035, size=stores.count)
    spikes = rng.random((stores.count, months)) < 0.1
    return_rate = store_return[:, None] + np.where(spikes, rng.uniform(0.05, 0.12, size=spikes.shape), 0.0)
    returned = rng.random(total) < return_rate[store, month]
    cancel_late = ~returned & (rng.random(total) < 0.004)
    return_time = avoid_expiry_second(completed + rng.integers(2 * DAY, 28 * DAY, size=total))
    late_cancel_time = avoid_expiry_second(completed + rng.integers(2 * HOUR, 3 * DAY, size=total))

    end = calendar.end
    completes = ~cancel_early & (completed < end)
    completed = np.where(completes, completed, NULL)
    end_status = np.full(total, PLACED, dtype=np.int8)
    ended = np.full(total, NULL, dtype=np.int64)
    early = cancel_early & (cancel_time < end)
    end_status[early], ended[early] = CANCELLED, cancel_time[early]
    ret = completes & returned & (return_time < end)
    end_status[ret], ended[ret] = RETURNED, return_time[ret]
    late = completes & cancel_late & (late_cancel_time < end)
    end_status[late], ended[late] = CANCELLED, late_cancel_time[late]
    final = np.where(end_status != PLACED, end_status, np.where(completes, COMPLETED, PLACED)).astype(np.int8)
    return Orders(
        account.astype(np.int64),
        store.astype(np.int64),
        channel,
        net,
        ordered,
        completed,
        ended,
        end_status,
        final,
        month.astype(np.int64),
    )


# --- store operations and targets ---------------------------------------------------------
@dataclass
class StoreOps:
    """Long-format store operations; value in hundredths (decimal with 2 places)."""

    store: np.ndarray
    day: np.ndarray
    metric: np.ndarray  # index into OPS_METRICS
    value: np.ndarray


OPS_METRICS = ("on_time_open", "staffed_hours_ratio", "audit_score")


@dataclass
class StoreTargets:
    store: np.ndarray
    month: np.ndarray  # month index
    target: np.ndarray  # cents


def open_days(stores: Stores, calendar: Calendar) -> tuple[np.ndarray, np.ndarray]:
    """(store, day) of every day a store was open within the data."""
    days = np.arange(calendar.first_day(0), calendar.end // DAY)
    store = np.repeat(np.arange(stores.count), len(days))
    day = np.tile(days, stores.count)
    keep = stores.is_open(store, day)
    return store[keep], day[keep]


def make_store_ops(config: Config, calendar: Calendar, stores: Stores) -> StoreOps:
    rng = stream(config.seed, "store_operations")
    store, day = open_days(stores, calendar)
    month = calendar.month_of(day * DAY)
    bad_month = rng.random((stores.count, calendar.months)) < 0.05
    late_p = np.where(bad_month[store, month], 0.12, 0.0015)
    on_time = (rng.random(len(day)) >= late_p).astype(np.int64) * 100
    staffed = np.clip(np.round(rng.normal(100, 8, size=len(day))), 75, 125).astype(np.int64)
    # audits: about one audit day per store-month, some months none, a few re-audits
    audit_store, audit_day, audit_value = [], [], []
    first = np.searchsorted(store * 10**6 + day, np.arange(stores.count) * 10**6)  # store blocks
    for s in range(stores.count):
        lo = first[s]
        hi = first[s + 1] if s + 1 < stores.count else len(store)
        s_days, s_months = day[lo:hi], month[lo:hi]
        for m in np.unique(s_months):
            if rng.random() < 0.12:
                continue  # no audit this month
            candidates = s_days[s_months == m]
            audits = 2 if rng.random() < 0.08 else 1
            poor = rng.random() < 0.08
            for d in rng.choice(candidates, size=min(audits, len(candidates)), replace=False):
                score = rng.uniform(60, 84.5) if poor else min(100.0, rng.normal(92, 4))
                audit_store.append(s)
                audit_day.append(int(d))
                audit_value.append(round(max(60.0, score) * 2) * 50)  # on a 0.5 grid
    ops = StoreOps(
        store=np.concatenate([store, store, np.array(audit_store, dtype=np.int64)]),
        day=np.concatenate([day, day, np.array(audit_day, dtype=np.int64)]),
        metric=np.concatenate(
            [np.zeros(len(day), np.int64), np.ones(len(day), np.int64), np.full(len(audit_day), 2, np.int64)]
        ),
        value=np.concatenate([on_time, staffed, np.array(audit_value, dtype=np.int64)]),
    )
    order = np.lexsort((ops.metric, ops.store, ops.day))
    return StoreOps(ops.store[order], ops.day[order], ops.metric[order], ops.value[order])


def completed_sales(orders: Orders, stores: Stores, months: int) -> np.ndarray:
    """Σ net_amount (cents) of orders whose latest state is completed, per store × ordered month."""
    done = orders.final == COMPLETED
    flat = orders.store[done] * months + orders.month[done]
    return (
        np.bincount(flat, weights=orders.net[done], minlength=stores.count * months)
        .reshape(stores.count, months)
        .round()
        .astype(np.int64)
    )


def make_store_targets(config: Config, calendar: Calendar, stores: Stores, orders: Orders) -> StoreTargets:
    rng = stream(config.seed, "store_targets")
    months = calendar.months
    sales = completed_sales(orders, stores, months)
    store_list, month_list, target_list = [], [], []
    for s in range(stores.count):
        for m in range(months):
            first, last = calendar.first_day(m), calendar.first_day(m + 1) - 1
            opened, closed = int(stores.opened_day[s]), int(stores.closed_day[s])
            if opened > last or (closed != NULL and closed <= first):
                continue  # not open at all that month
            if opened > first:
                continue  # a store opening mid-month has no target for its first month
            if rng.random() < 0.04:
                continue  # the planning team forgot one
            factor = rng.uniform(1.04, 1.3) if rng.random() < 0.08 else rng.uniform(0.8, 0.97)
            base = sales[s, m] if sales[s, m] > 0 else 500_000
            store_list.append(s)
            month_list.append(m)
            target_list.append(round(base * factor / 100) * 100)  # whole euros
    return StoreTargets(np.array(store_list, np.int64), np.array(month_list, np.int64), np.array(target_list, np.int64))
