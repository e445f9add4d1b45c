"""Feed volume anomalies (``--feed-anomalies``): a quiet day and a flood day, and their truth.

The warehouse counts the rows each daily landing feed delivered per business day and judges
the complete days of the last week before its as-of day against a trailing baseline
(models/audit/feed_daily_volumes.sql, dbt var ``feed_anomaly``; docs/runbook.md#feed-volume-anomaly).
With the option the generator injects two anomalies inside that window:

* a quiet day: on the as-of day - 4, most stores report no store operations (a partial
  export). The rows are suppressed in the simulation itself, so store eligibility and every
  other truth see the same world as the landing files;
* a flood day: the ledger events recorded on the as-of day - 2 are replayed several times, as
  exact duplicates, in an extra file ``<YYYY-MM>_replay-<date>.csv`` that loads after the
  month's file. Exact duplicates are skipped by the warehouse, so no other truth moves; the
  replay file is in duplicates.csv.

Every row of every file is then counted here the way the warehouse counts it and judged with
the same band; ``feed_anomalies.csv`` holds every day the warehouse should flag (the injected
ones must be among them: the generator stops otherwise).
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from dataclasses import dataclass

import numpy as np

from tools.sample_data.config import DAY, NULL, Calendar, iso_date
from tools.sample_data.simulate import StoreOps
from tools.sample_data.writer import FilePlan, Raw

# The dbt var feed_anomaly (dbt_project.yml); tests_py/test_sample_data.py checks they agree.
WINDOW_DAYS = 7
BASELINE_DAYS = 28
MIN_BASELINE_DAYS = 14
SPREAD_MULTIPLIER = 5
MIN_BAND_SHARE = 0.2
MIN_BAND_ROWS = 10
# The feeds judged and the column that dates a row (macros/sql/model_lists.sql
# feed_volume_sources()); ledger expiries are not counted.
FEEDS = {
    "ledger_events": "recorded_at",
    "wallet_transactions": "recorded_at",
    "orders": "updated_at",
    "store_operations": "business_date",
}
TIMESTAMP_FEEDS = ("ledger_events", "wallet_transactions", "orders")

QUIET_SOURCE, QUIET_DAYS_BEFORE_AS_OF = "store_operations", 4
FLOOD_SOURCE, FLOOD_DAYS_BEFORE_AS_OF = "ledger_events", 2
QUIET_STORES_KEPT = 0.1  # share of the stores open that day whose operations still arrive
MIN_REPLAYS = 3  # the flood day's rows are replayed at least this many times


class FeedAnomalyError(RuntimeError):
    """The data is too small to carry a flagged quiet or flood day."""


@dataclass(frozen=True)
class Band:
    """A judged day: its rows and the range its baseline expects (None without enough baseline)."""

    rows: int
    low: int | None
    high: int | None

    @property
    def status(self) -> str:
        if self.low is None or self.high is None:
            return "no_baseline"
        return "quiet" if self.rows < self.low else "flood" if self.rows > self.high else "ok"


def as_of_day(calendar: Calendar) -> int:
    """The as-of's day (epoch days): the data's last day, when every account's final snapshot
    is taken (balances.final_as_of), so the latest moment of the data is on it."""
    return calendar.end // DAY - 1


def quiet_day(calendar: Calendar) -> int:
    return as_of_day(calendar) - QUIET_DAYS_BEFORE_AS_OF


def flood_day(calendar: Calendar) -> int:
    return as_of_day(calendar) - FLOOD_DAYS_BEFORE_AS_OF


def suppress_store_operations(ops: StoreOps, day: int) -> StoreOps:
    """The store operations without those of most stores on ``day``: only the lowest-numbered
    ``QUIET_STORES_KEPT`` of the stores reporting that day still report."""
    on_day = ops.day == day
    reporting = np.unique(ops.store[on_day])
    kept = reporting[: int(len(reporting) * QUIET_STORES_KEPT)]
    keep = ~on_day | np.isin(ops.store, kept)
    return StoreOps(ops.store[keep], ops.day[keep], ops.metric[keep], ops.value[keep])


def daily_rows(plans: dict[str, list[FilePlan]], frames: dict[str, dict[str, np.ndarray]]) -> dict[str, Counter]:
    """Rows delivered per feed and day (epoch days), as the warehouse counts them: every row of
    every file (valid, bad, repeated) but those of a byte-identical copy, dated by the feed's
    column; a row whose date is missing or unparseable, and a ledger expiry, is not counted."""
    out: dict[str, Counter] = {}
    for source, column in FEEDS.items():
        frame = frames[source]
        counts: Counter = Counter()
        for plan in plans[source]:
            if plan.copy_of is not None:
                continue
            values = frame[column][plan.rows]
            keep = values != NULL
            if source == "ledger_events":
                keep &= frame["event_type"][plan.rows] != "expire"
            days = values[keep] // DAY if source in TIMESTAMP_FEEDS else values[keep]
            counts.update(days.tolist())
            for bad in plan.bad:
                value = bad.values.get(column)
                if value is None or isinstance(value, Raw):
                    continue
                if source == "ledger_events" and bad.values.get("event_type") == "expire":
                    continue
                counts[int(value) // DAY if source in TIMESTAMP_FEEDS else int(value)] += 1
        out[source] = counts
    return out


def band(counts: Counter, day: int, last_day: int) -> Band:
    """The day's rows and expected range against the complete days of its trailing baseline
    (from the feed's first day on; a day without rows has 0), like feed_daily_volumes."""
    first = min(counts)
    baseline = [counts.get(d, 0) for d in range(max(first, day - BASELINE_DAYS), min(day, last_day + 1))]
    if len(baseline) < MIN_BASELINE_DAYS:
        return Band(counts.get(day, 0), None, None)
    median = statistics.median(baseline)
    spread = statistics.median(abs(rows - median) for rows in baseline)
    width = max(SPREAD_MULTIPLIER * 1.4826 * spread, MIN_BAND_SHARE * median, MIN_BAND_ROWS)
    return Band(counts.get(day, 0), max(math.ceil(median - width), 0), math.floor(median + width))


def flagged(counts: dict[str, Counter], last_day: int) -> list[tuple[str, int, str]]:
    """(feed, day, quiet|flood) of every complete day of the alert window (the WINDOW_DAYS days
    before the as-of day ``last_day``) outside its band, by feed then day."""
    out = []
    for source in sorted(counts):
        if not counts[source]:
            continue
        for day in range(last_day - WINDOW_DAYS, last_day):
            status = band(counts[source], day, last_day).status
            if status in ("quiet", "flood"):
                out.append((source, day, status))
    return out


def replay_file(
    plans: dict[str, list[FilePlan]], frames: dict[str, dict[str, np.ndarray]], day: int, last_day: int
) -> FilePlan:
    """The flood: the valid ledger events recorded on ``day``, replayed as exact duplicates in a
    file that sorts right after the file that first delivered them (inserted into ``plans``).
    Replayed enough times to exceed the day's band, and at least MIN_REPLAYS times. Ledger events
    are recorded by the month they are delivered in, so one file holds the day's events."""
    files = plans[FLOOD_SOURCE]
    recorded = frames[FLOOD_SOURCE]["recorded_at"]
    holding = [p for p in files if p.copy_of is None and (recorded[p.rows] // DAY == day).any()]
    if len(holding) != 1:
        raise FeedAnomalyError(f"{FLOOD_SOURCE}: no single file holds the rows recorded on {iso_date(day)}")
    original = holding[0]
    rows = original.rows[recorded[original.rows] // DAY == day]
    if not len(rows):
        raise FeedAnomalyError(f"{FLOOD_SOURCE}: no event is recorded on {iso_date(day)} to replay")
    expected = band(daily_rows(plans, frames)[FLOOD_SOURCE], day, last_day)
    if expected.high is None:
        raise FeedAnomalyError(f"{FLOOD_SOURCE}: {iso_date(day)} has too few days of baseline to be judged")
    replays = max(MIN_REPLAYS, math.ceil((expected.high + 1 - expected.rows) / len(rows)))
    stem = original.name.rsplit(".", 1)[0]
    replay = FilePlan(FLOOD_SOURCE, f"{stem}_replay-{iso_date(day)}.csv", np.tile(rows, replays))
    files.insert(files.index(original) + 1, replay)
    names = [plan.name.rsplit(".", 1)[0] for plan in files]
    assert names == sorted(names), f"{FLOOD_SOURCE}: the replay file does not load after {original.name}"
    return replay


def judge(
    plans: dict[str, list[FilePlan]], frames: dict[str, dict[str, np.ndarray]], calendar: Calendar
) -> tuple[list[tuple[str, int, str]], list[tuple[str, int, str]]]:
    """(every flagged day, the injected ones); raises FeedAnomalyError when an injected day is not
    flagged as injected (the data is too small for it)."""
    last_day = as_of_day(calendar)
    counts = daily_rows(plans, frames)
    found = flagged(counts, last_day)
    injected = sorted([(QUIET_SOURCE, quiet_day(calendar), "quiet"), (FLOOD_SOURCE, flood_day(calendar), "flood")])
    for source, day, status in injected:
        if (source, day, status) not in found:
            got = band(counts[source], day, last_day)
            raise FeedAnomalyError(
                f"the {status} day of {source} on {iso_date(day)} is not flagged ({got.rows} rows, expected "
                f"{got.low}-{got.high}): the data is too small for --feed-anomalies; use more --accounts"
            )
    return found, injected
