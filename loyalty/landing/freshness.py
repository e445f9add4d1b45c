"""Source freshness from the load log, without a dbt process (docs/operations.md#checks).

How long since the loader last received a file of each landing source, judged against the
thresholds the dbt sources YAML declares (``config.freshness`` of each source, read from the
parsed manifest), as ``dbt source freshness`` would judge ``max(_loaded_at)`` of the raw table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from loyalty.warehouse import execute

PERIOD_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


@dataclass(frozen=True)
class Freshness:
    """One landing source: ``status`` pass / warn / error (error also when no file ever
    arrived), ``age_seconds`` since its latest file was loaded (None: never)."""

    source: str
    status: str
    age_seconds: float | None


def thresholds(manifest_path: Path) -> dict[str, tuple[float | None, float | None]]:
    """Landing source -> (warn after, error after) in seconds, for every source of the dbt
    project that declares a freshness; raises FileNotFoundError without a manifest."""
    if not manifest_path.exists():
        raise FileNotFoundError(f"no dbt manifest at {manifest_path}: the dbt project was not parsed")
    found = {}
    for source in json.loads(manifest_path.read_text())["sources"].values():
        freshness = source.get("freshness") or {}
        limits = []
        for name in ("warn_after", "error_after"):
            rule = freshness.get(name) or {}
            count, period = rule.get("count"), rule.get("period")
            limits.append(count * PERIOD_SECONDS[period] if count and period else None)
        if any(limit is not None for limit in limits):
            found[source["name"]] = (limits[0], limits[1])
    return found


def source_freshness(connection, manifest_path: Path, now: datetime | None = None) -> list[Freshness]:
    """Judge every source with a freshness threshold from ``raw.load_log`` (files loaded, as
    naive UTC ``loaded_at``) of a DuckDB or psycopg connection; sorted by source."""
    now = now or datetime.now(UTC).replace(tzinfo=None)
    latest = dict(
        execute(connection, "select source, max(loaded_at) from raw.load_log where outcome = 'loaded' group by source")
    )
    results = []
    for source, (warn_after, error_after) in sorted(thresholds(manifest_path).items()):
        loaded_at = latest.get(source)
        if loaded_at is None:
            results.append(Freshness(source, "error", None))
            continue
        age = (now - loaded_at).total_seconds()
        status = "pass"
        if error_after is not None and age > error_after:
            status = "error"
        elif warn_after is not None and age > warn_after:
            status = "warn"
        results.append(Freshness(source, status, age))
    return results
