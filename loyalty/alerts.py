"""Alerts for failed checks and failed runs (docs/operations.md#alerts: findings raise an alert even when
the run itself succeeded).

An alert is appended once (keyed by run and check) to ``<warehouse>.alerts.jsonl`` in the
state folder — a durable queue that survives a refresh that publishes nothing — logged, and
POSTed as JSON to ``LOYALTY_ALERT_WEBHOOK`` when it is set. Each refresh loads the queue into
``audit.alerts`` of the warehouse it publishes. The refresh job records its own alerts (so a
`make refresh` without a Dagster daemon alerts too); the run sensors record those of runs that
failed before they could.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.request
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from loyalty.settings import Settings
from loyalty.warehouse import execute

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Alert:
    alert_key: str
    raised_at: str
    run_id: str
    asset: str
    check_name: str
    severity: str  # error / warn
    kind: str  # integrity / finding / run_failure
    failing_rows: int
    failing_rows_at: str  # where to look: the table dbt stored the failing rows in, or the run's results
    message: str


def alerts_from_outcome(outcome: dict[str, Any], run_id: str, raised_at: str | None = None) -> list[Alert]:
    """One alert per failed or warned check of a refresh outcome (loyalty/outcome.py). Where to look
    is where dbt stored the check's failing rows (its ``store_failures`` table, from the manifest),
    or the run's results when it stores none: an alert never names a table that is not there."""
    when = raised_at or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    alerts = []
    groups = (
        ("integrity_failures", "integrity", "error"),
        ("node_errors", "integrity", "error"),
        ("failed_findings", "finding", "error"),
        ("warnings", "finding", "warn"),
    )
    for key, kind, severity in groups:
        for check in outcome.get(key, []):
            name = check["name"]
            stored = check.get("failing_rows_at") or f"dbt run_results ({check['unique_id']})"
            rows = int(check.get("failures") or 0)
            alerts.append(
                Alert(
                    alert_key=f"{run_id}:{name}",
                    raised_at=when,
                    run_id=run_id,
                    asset=check.get("model") or name,
                    check_name=name,
                    severity=severity,
                    kind=kind,
                    failing_rows=rows,
                    failing_rows_at=stored,
                    message=f"{kind} {severity}: {name} on {check.get('model') or '-'}: {rows} failing row(s)"
                    + (f" ({(check.get('message') or '').strip()[:200]})" if check.get("status") == "error" else ""),
                )
            )
    return alerts


def run_failure_alert(run_id: str, error: str, raised_at: str | None = None) -> Alert:
    when = raised_at or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Alert(
        alert_key=f"{run_id}:run",
        raised_at=when,
        run_id=run_id,
        asset="refresh",
        check_name="run",
        severity="error",
        kind="run_failure",
        failing_rows=0,
        failing_rows_at=f"Dagster run {run_id}",
        message=f"refresh run failed: {error[:500]}",
    )


def queue_path(settings: Settings) -> Path:
    return settings.alert_queue


def recorded_keys(settings: Settings) -> set[str]:
    path = queue_path(settings)
    if not path.exists():
        return set()
    return {row["alert_key"] for row in queued(settings)}


def queued(settings: Settings) -> list[dict[str, Any]]:
    """Every alert in the queue, oldest first. A line that is not JSON — an append torn by a
    killed process (docs/reliability.md#crash-safety) — is skipped with a warning instead of
    blocking every later publish."""
    path = queue_path(settings)
    if not path.exists():
        return []
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            log.warning("%s line %d is not an alert (a torn append?): skipped", path, number)
    return rows


def post(url: str, alerts: list[Alert]) -> None:
    body = json.dumps({"alerts": [asdict(alert) for alert in alerts]}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def record(settings: Settings, alerts: list[Alert]) -> list[Alert]:
    """Append the alerts not recorded yet, log them, POST them; returns the new ones."""
    known = recorded_keys(settings)
    new = [alert for alert in alerts if alert.alert_key not in known]
    if not new:
        return []
    path = queue_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(asdict(alert)) + "\n" for alert in new)
    # one write on an O_APPEND descriptor: a kill leaves the batch whole or absent, never a
    # line cut in two; a line torn otherwise (a full disk) is closed off first
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        if os.fstat(descriptor).st_size and not path.read_bytes().endswith(b"\n"):
            text = "\n" + text
        os.write(descriptor, text.encode("utf-8"))
    finally:
        os.close(descriptor)
    for alert in new:
        level = logging.ERROR if alert.severity == "error" else logging.WARNING
        log.log(level, "ALERT %s", alert.message)
    url = settings.alert_webhook
    if url:
        try:
            post(url, new)
        except OSError as error:  # an unreachable webhook must not lose the alert: it is queued
            log.error("could not POST %d alert(s) to %s: %s", len(new), url, error)
    return new


def load_into(connection, settings: Settings) -> int:
    """Append to audit.alerts of a warehouse being built (DuckDB) or just published (PostgreSQL)
    the queued alerts it does not hold yet (the table keeps every alert ever published, even if
    the queue file is lost)."""
    execute(connection, "create schema if not exists audit")
    execute(
        connection,
        """
        create table if not exists audit.alerts (
            alert_key varchar primary key, raised_at timestamp, run_id varchar, asset varchar,
            check_name varchar, severity varchar, kind varchar, failing_rows bigint,
            failing_rows_at varchar, message varchar
        )
        """,
    )
    rows = queued(settings)
    if not rows:
        return 0
    known = {key for (key,) in execute(connection, "select alert_key from audit.alerts")}
    new = [row for row in rows if row["alert_key"] not in known]
    for row in new:
        execute(
            connection,
            "insert into audit.alerts values (?, cast(? as timestamp), ?, ?, ?, ?, ?, ?, ?, ?)",
            [row[field] for field in Alert.__dataclass_fields__],
        )
    return len(new)
