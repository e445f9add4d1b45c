"""Generator arguments, their validation, the calendar and the seeded random streams.

Times are whole seconds since the Unix epoch (UTC) held in int64 numpy arrays; dates are whole
days since the epoch. Every random draw comes from :func:`stream`, one PCG64 generator per named
part of the simulation, so changing how one part draws never shifts another part's numbers.
"""

from __future__ import annotations

import datetime as dt
import re
import zlib
from dataclasses import dataclass

import numpy as np

DAY = 86_400
HOUR = 3_600
UTC = dt.UTC
NULL = np.iinfo(np.int64).min  # "no value" in an int64 column (a null when written)

MIN_ACCOUNTS = 100
MAX_ACCOUNTS = 500_000
MIN_MONTHS = 6
MAX_MONTHS = 120
# When the data is extracted (docs/operations.md#as-of): after the last month's expiry run at
# 23:59:59 on its last day (the last month has ended by the data's as-of), or before it (every
# timestamp is at most 23:59:58: the last month has not ended and is never evaluated).
AS_OF_MODES = ("before-month-end", "month-end")


class ConfigError(ValueError):
    """A bad generator argument; ``argument`` is the command-line option at fault."""

    def __init__(self, argument: str, message: str) -> None:
        self.argument = argument
        super().__init__(f"argument {argument}: {message}")


class GenerationError(RuntimeError):
    """The data cannot be generated as asked (e.g. too little of it to carry every planned fault)."""


@dataclass(frozen=True)
class Config:
    accounts: int = 2000
    months: int = 30
    seed: int = 42
    start: str = "2024-01"
    as_of: str = "before-month-end"
    feed_anomalies: bool = False  # inject a quiet and a flood day (tools/sample_data/feeds.py)

    def validate(self) -> None:
        if not MIN_ACCOUNTS <= self.accounts <= MAX_ACCOUNTS:
            raise ConfigError(
                "--accounts",
                f"must be between {MIN_ACCOUNTS} and {MAX_ACCOUNTS} (got {self.accounts}); "
                "fewer accounts cannot carry every injected fault class",
            )
        if not MIN_MONTHS <= self.months <= MAX_MONTHS:
            raise ConfigError("--months", f"must be between {MIN_MONTHS} and {MAX_MONTHS} (got {self.months})")
        if not 0 <= self.seed < 2**63:
            raise ConfigError("--seed", f"must be a non-negative integer (got {self.seed})")
        parse_start(self.start)
        if self.as_of not in AS_OF_MODES:
            raise ConfigError("--as-of", f"must be one of {', '.join(AS_OF_MODES)} (got {self.as_of!r})")

    @property
    def start_year_month(self) -> tuple[int, int]:
        return parse_start(self.start)


def parse_start(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d{4})-(\d{2})", text or "")
    if not match or not 1 <= int(match.group(2)) <= 12 or not 1990 <= int(match.group(1)) <= 2090:
        raise ConfigError("--start", f"must be a month written YYYY-MM between 1990 and 2090 (got {text!r})")
    return int(match.group(1)), int(match.group(2))


def stream(seed: int, name: str) -> np.random.Generator:
    """The random stream of one named part of the simulation."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, zlib.crc32(name.encode())])))


def add_months(year: int, month: int, count: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + count
    return index // 12, index % 12 + 1


def epoch_seconds(year: int, month: int, day: int = 1) -> int:
    return int(dt.datetime(year, month, day, tzinfo=UTC).timestamp())


class Calendar:
    """Month boundaries of the simulated period: month index 0 is the start month.

    ``starts[i]`` is the first second of month i; the data covers ``[starts[0], end)``.
    A few months past the end are kept so that keys "after the data" can be made.
    Every timestamp written is before ``cutoff``: ``end`` when the data is extracted after the
    last month's end (23:59:59 on its last day, when the expiry job runs), ``end - 1`` when
    before it; ``ended`` months (0 .. ended - 1) have ended within the data, and only they are
    evaluated at their end (tiers, expiry due dates, store incentives).
    """

    EXTRA_MONTHS = 36

    def __init__(self, start: tuple[int, int], months: int, last_month_ended: bool = True) -> None:
        self.year0, self.month0 = start
        self.months = months
        self.starts = np.array(
            [epoch_seconds(*add_months(self.year0, self.month0, i)) for i in range(months + 1 + self.EXTRA_MONTHS)],
            dtype=np.int64,
        )
        self.begin = int(self.starts[0])
        self.end = int(self.starts[months])
        self.cutoff = self.end if last_month_ended else self.end - 1
        self.ended = months if last_month_ended else months - 1

    def month_of(self, seconds: np.ndarray | int) -> np.ndarray | int:
        """Month index of each time (negative before the start month)."""
        index = np.searchsorted(self.starts, seconds, side="right") - 1
        return index

    def label(self, index: int) -> str:
        year, month = add_months(self.year0, self.month0, index)
        return f"{year:04d}-{month:02d}"

    def first_day(self, index: int) -> int:
        """Epoch day of the first day of month ``index``."""
        return int(self.starts[index] // DAY)

    def last_second(self, index: int) -> int:
        """23:59:59 UTC on the last day of month ``index``: when expiries are posted."""
        return int(self.starts[index + 1] - 1)

    def quarter_ends(self) -> list[int]:
        """Indexes of the months that end a calendar quarter."""
        return [i for i in range(self.months) if add_months(self.year0, self.month0, i)[1] % 3 == 0]


def avoid_expiry_second(seconds: np.ndarray) -> np.ndarray:
    """Move any time at 23:59:59 one second earlier.

    Expiries are posted at 23:59:59 on a month's last day; keeping every other event off that
    second makes "remaining at the end of the month" unambiguous whatever the tie-break.
    """
    seconds = np.asarray(seconds, dtype=np.int64)
    return np.where(seconds % DAY == DAY - 1, seconds - 1, seconds)


def iso(seconds: int) -> str:
    return dt.datetime.fromtimestamp(int(seconds), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_date(days: int) -> str:
    return (dt.date(1970, 1, 1) + dt.timedelta(days=int(days))).isoformat()
