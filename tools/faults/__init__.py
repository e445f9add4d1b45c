"""The fault campaign (docs/reliability.md): bad input, re-delivery and order, crashes,
determinism and personal data, each proving that nothing is lost, double-counted or leaked.

Every part is a module of this package with one entry point::

    def campaign(workdir: Path, *, full: bool) -> list[Result]

``full=False`` is the bounded run ``make test`` holds to (tests_py/test_faults_*.py);
``full=True`` is ``make faults`` (``python -m tools.faults``), which runs every part and prints
one table. A part never raises for a mismatch it finds: it reports it in ``Result.mismatches``
(the campaign fails when any part found one); it raises only when it cannot run at all.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")


@dataclass
class Result:
    """One line of the campaign table.

    part: the campaign part ("bad input", "property-based", "re-delivery", "crash",
      "determinism", "personal data"); what: what was tried (a kind, a crash point, ...);
    tried / survived: how many cases were run and how many held every invariant;
    delivered / staged / rejected / duplicates: landing rows, summed over the cases
      (delivered = staged + rejected + duplicates must hold);
    mismatches: one line per broken invariant (must be empty); seconds: wall time.
    """

    part: str
    what: str
    tried: int
    survived: int
    delivered: int = 0
    staged: int = 0
    rejected: int = 0
    duplicates: int = 0
    mismatches: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def conserved(self) -> bool:
        return self.delivered == self.staged + self.rejected + self.duplicates


def in_parallel(tasks: list[Callable[[], T]], workers: int | None = None) -> list[T]:
    """Run independent campaign cases (each a refresh subprocess in its own folder) ``workers``
    at a time (default: one per CPU core, as a refresh uses about one core of its own); results
    in the order of ``tasks``; the first exception raised by a task is raised here."""
    workers = workers or os.cpu_count() or 1
    if workers == 1 or len(tasks) <= 1:
        return [task() for task in tasks]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda task: task(), tasks))
