"""Alerts for runs the daemon sees: failed checks even in successful runs, and failed runs
(loyalty/alerts.py keeps, publishes and posts them)."""

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import dagster as dg

from loyalty import alerts
from loyalty.outcome import INTEGRITY_FAILURE, runbook_section, stored_failures_at
from loyalty.settings import Settings
from orchestration.defs.jobs import refresh_job
from orchestration.defs.landing.assets import FRESHNESS_CHECK


@dataclass(frozen=True)
class CheckAlerting:
    """How a dbt test's failure alerts: where its failing rows are stored (None: the run's
    results) and its docs/runbook.md section."""

    failing_rows_at: str | None
    runbook: str


def alerting_of_tests(settings: Settings) -> dict[str, CheckAlerting]:
    """Test name -> how it alerts, from the code location's manifest ({} before a parse)."""
    path = settings.manifest_dir / "manifest.json"
    if not path.exists():
        return {}
    nodes = json.loads(path.read_text(encoding="utf-8")).get("nodes", {}).values()
    return {
        node["name"]: CheckAlerting(stored_failures_at(node), runbook_section(node))
        for node in nodes
        if node.get("resource_type") == "test"
    }


def check_alerts_of_run(
    instance: dg.DagsterInstance, run_id: str, tests: dict[str, CheckAlerting] | None = None
) -> list[alerts.Alert]:
    """One alert per failed check of a run, from its event log. Skipped: the checks whose alerts the
    run raises itself in finer grain, source freshness (per source, by the load step) and the feed
    anomaly tests (per source and day, orchestration/defs/dbt/assets.py)."""
    records = instance.get_records_for_run(
        run_id=run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION, limit=100_000
    ).records
    found = []
    for record in records:
        event = record.event_log_entry.dagster_event
        evaluation = event.event_specific_data if event else None
        if evaluation is None or evaluation.passed:
            continue
        severity = "error" if evaluation.severity == dg.AssetCheckSeverity.ERROR else "warn"
        failing = evaluation.metadata.get("dagster_dbt/failed_row_count")
        rows = int(failing.value) if failing is not None and failing.value is not None else 0
        asset = evaluation.asset_key.to_user_string()
        test = (tests or {}).get(evaluation.check_name)
        section = test.runbook if test is not None else INTEGRITY_FAILURE
        if evaluation.check_name == FRESHNESS_CHECK or section in alerts.ROW_ALERT_SECTIONS:
            continue  # raised by the run itself, per source (or per source and day)
        found.append(
            alerts.Alert(
                alert_key=f"{run_id}:{evaluation.check_name}",
                raised_at=datetime.fromtimestamp(record.event_log_entry.timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                run_id=run_id,
                asset=asset,
                check_name=evaluation.check_name,
                severity=severity,
                kind="check",
                failing_rows=rows,
                failing_rows_at=(test.failing_rows_at if test is not None else None) or f"Dagster run {run_id}",
                message=f"check {severity}: {evaluation.check_name} on {asset}: {rows} failing row(s)",
                runbook=alerts.runbook_link(section),
            )
        )
    return found


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[refresh_job],
    name="alert_on_failed_checks",
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def alert_on_failed_checks(context: dg.RunStatusSensorContext, settings: dg.ResourceParam[Settings]):
    new = alerts.record(
        settings, check_alerts_of_run(context.instance, context.dagster_run.run_id, alerting_of_tests(settings))
    )
    for alert in new:
        context.log.warning(f"ALERT {alert.message}")


@dg.run_failure_sensor(
    monitored_jobs=[refresh_job],
    name="alert_on_failed_refresh",
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def alert_on_failed_refresh(context: dg.RunFailureSensorContext, settings: dg.ResourceParam[Settings]):
    found = check_alerts_of_run(context.instance, context.dagster_run.run_id, alerting_of_tests(settings))
    found.append(alerts.run_failure_alert(context.dagster_run.run_id, context.failure_event.message or "run failed"))
    for alert in alerts.record(settings, found):
        context.log.error(f"ALERT {alert.message}")
