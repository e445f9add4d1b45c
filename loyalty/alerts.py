"""Alerts for failed checks and failed runs (docs/operations.md#alerts: findings raise an alert even when
the run itself succeeded).

Every alert names the section of docs/runbook.md that says what it means and what to do
(``runbook``): a dbt test's own ``meta.runbook``, else ``integrity-failure`` (loyalty/outcome.py),
and the sections of the alerts raised outside dbt below. tests_py/test_runbook.py checks that
every check and alert that can be raised has its section, and every section an alert.

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

from loyalty.outcome import INTEGRITY_FAILURE
from loyalty.settings import Settings
from loyalty.warehouse import execute

log = logging.getLogger(__name__)

RUNBOOK = "docs/runbook.md"
# runbook sections of the alerts raised outside dbt's tests
RUN_FAILURE = "run-failure"
REFUSED_LOCK = "refused-lock"
STALE_SOURCE = "stale-source"
# tests whose failing rows each raise their own alert (a landing source and day), keyed by
# what the row says rather than by run: a day's anomaly alerts once, not at every refresh
FEED_VOLUME = "feed-volume-anomaly"
QUARANTINE_SPIKE = "quarantine-spike"
ROW_ALERT_SECTIONS = (FEED_VOLUME, QUARANTINE_SPIKE)
# the start of WarehouseBusy's message (loyalty/lock.py)
REFUSED_LOCK_TEXT = "another refresh is writing"


def runbook_link(section: str) -> str:
    """``docs/runbook.md#<section>``: where an alert's reader finds what to do."""
    return f"{RUNBOOK}#{section}"


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
    runbook: str = ""  # docs/runbook.md#<section>: what the alert means and what to do


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
            if check.get("runbook") in ROW_ALERT_SECTIONS and check.get("status") == "warn":
                continue  # raised row by row (feed_anomaly_alerts)
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
                    runbook=runbook_link(check.get("runbook") or INTEGRITY_FAILURE),
                )
            )
    return alerts


def feed_anomaly_alerts(
    check_name: str,
    section: str,
    rows: list[dict[str, Any]],
    run_id: str,
    failing_rows_at: str,
    raised_at: str | None = None,
) -> list[Alert]:
    """One warn alert per failing row of a feed anomaly test (tests/audit/warn_feed_*.sql; rows as
    dicts of its columns): ``ledger_events: 12,410 rows on 2026-03-02, expected 40,000–52,000``
    (section ``feed-volume-anomaly``) or ``orders: 31 of 180 rows rejected (17.2 %) on
    2026-03-02, more than 5.0 %`` (``quarantine-spike``). Keyed by source, day and section,
    so a day alerts once however many refreshes still see it; ``failing_rows`` is 1 (the day's
    row in ``failing_rows_at``), the counts are in the message. Raises ``KeyError`` when a row
    lacks a column the message needs, ``ValueError`` for an unknown section."""
    when = raised_at or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    found = []
    for row in rows:
        source, day = row["landing_source"], str(row["business_date"])[:10]
        if section == FEED_VOLUME:
            message = (
                f"{source}: {int(row['rows_delivered']):,} rows on {day}, expected "
                f"{int(row['expected_rows_low']):,}–{int(row['expected_rows_high']):,} ({row['volume_status']})"
            )
        elif section == QUARANTINE_SPIKE:
            message = (
                f"{source}: {int(row['rows_rejected']):,} of {int(row['rows_delivered']):,} rows rejected "
                f"({float(row['rejected_share']):.1%}) on {day}, more than {float(row['rejected_share_limit']):.1%}"
            )
        else:
            raise ValueError(f"{section!r} is not a row-alert section ({', '.join(ROW_ALERT_SECTIONS)})")
        found.append(
            Alert(
                alert_key=f"{section}:{source}:{day}",
                raised_at=when,
                run_id=run_id,
                asset=f"raw/{source}",
                check_name=check_name,
                severity="warn",
                kind="anomaly",
                failing_rows=1,  # the day's row of failing_rows_at
                failing_rows_at=failing_rows_at,
                message=message,
                runbook=runbook_link(section),
            )
        )
    return found


def stale_source_alerts(
    run_id: str, stale: list[tuple[str, str, float | None]], raised_at: str | None = None
) -> list[Alert]:
    """One alert per landing source whose latest file is older than the freshness thresholds:
    ``stale`` holds (source, status ``warn``/``error``, hours since its last file or None)."""
    when = raised_at or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return [
        Alert(
            alert_key=f"{run_id}:source_freshness:{source}",
            raised_at=when,
            run_id=run_id,
            asset=f"raw/{source}",
            check_name="source_freshness",
            severity=status,
            kind="freshness",
            failing_rows=0,
            failing_rows_at="raw.load_log",
            message=f"stale source {source}: "
            + ("no file ever loaded" if hours is None else f"last file {hours:,.1f} h ago"),
            runbook=runbook_link(STALE_SOURCE),
        )
        for source, status, hours in stale
    ]


def run_failure_alert(run_id: str, error: str, raised_at: str | None = None) -> Alert:
    """The alert of a refresh that failed: ``refused-lock`` when another refresh held the
    warehouse (loyalty/lock.py), else ``run-failure`` (the error names the step and cause)."""
    when = raised_at or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    section = REFUSED_LOCK if REFUSED_LOCK_TEXT in error else RUN_FAILURE
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
        runbook=runbook_link(section),
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


class AlertError(ValueError):
    """A bad ``alerts`` command argument or an unreachable webhook; the message says which."""


def post(url: str, alerts: list[Alert] | list[dict[str, Any]]) -> None:
    """POST ``{"alerts": [...]}`` as JSON to ``url``; raises ``OSError`` when it cannot be delivered."""
    rows = [alert if isinstance(alert, dict) else asdict(alert) for alert in alerts]
    body = json.dumps({"alerts": rows}).encode()
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
            failing_rows_at varchar, message varchar, runbook varchar
        )
        """,
    )
    # audit.alerts of a warehouse published before alerts named their runbook section
    execute(connection, "alter table audit.alerts add column if not exists runbook varchar")
    rows = queued(settings)
    if not rows:
        return 0
    known = {key for (key,) in execute(connection, "select alert_key from audit.alerts")}
    new = [row for row in rows if row["alert_key"] not in known]
    for row in new:
        execute(
            connection,
            "insert into audit.alerts values (?, cast(? as timestamp), ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [row.get(field, "") for field in Alert.__dataclass_fields__],
        )
    return len(new)


def queued_since(settings: Settings, since: str | None) -> list[dict[str, Any]]:
    """The queued alerts raised at or after ``since`` (ISO 8601, UTC when it names no zone; all
    when None), oldest first. Raises ``AlertError`` naming ``--since`` when it does not parse."""
    if since is None:
        return queued(settings)
    try:
        moment = datetime.fromisoformat(since.replace("Z", "+00:00"))
    except ValueError as error:
        raise AlertError(f"--since {since!r} is not an ISO 8601 moment such as 2026-03-01T00:00:00Z") from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    rows = []
    for row in queued(settings):
        raised = datetime.fromisoformat(str(row.get("raised_at", "")).replace("Z", "+00:00"))
        if (raised if raised.tzinfo else raised.replace(tzinfo=UTC)) >= moment:
            rows.append(row)
    return rows


def resend(settings: Settings, since: str) -> int:
    """POST the queued alerts raised since ``since`` to ``LOYALTY_ALERT_WEBHOOK`` again (after a
    webhook was unreachable or rotated: docs/runbook.md#rotate-the-webhook); returns how many.
    Raises ``AlertError`` when no webhook is set, ``since`` does not parse, or the POST fails."""
    url = settings.alert_webhook
    if not url:
        raise AlertError("LOYALTY_ALERT_WEBHOOK is not set: there is no webhook to send the alerts to")
    rows = queued_since(settings, since)
    if rows:
        try:
            post(url, rows)
        except OSError as error:
            raise AlertError(f"could not POST {len(rows)} alert(s) to {url}: {error}") from error
    return len(rows)
