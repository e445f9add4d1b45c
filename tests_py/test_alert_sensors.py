"""The daemon's alert sensors: a refresh run that succeeded with failed checks, seen by
`alert_on_failed_checks`, raises alerts (once, whoever records them first)."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest

from loyalty import alerts
from loyalty.settings import load_settings
from tools.peer_sandbox import convert

SANDBOX = Path(__file__).resolve().parent / "fixtures" / "ledger-reconciliation-sandbox"

pytestmark = pytest.mark.e2e


def test_alert_sensor_records_failed_checks_of_a_successful_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    landing, warehouse = tmp_path / "landing", tmp_path / "loyalty.duckdb"
    convert(SANDBOX, landing)
    monkeypatch.setenv("LOYALTY_LANDING_DIR", str(landing))
    monkeypatch.setenv("LOYALTY_WAREHOUSE", str(warehouse))
    monkeypatch.delenv("LOYALTY_ALERT_WEBHOOK", raising=False)
    from orchestration.definitions import build_defs
    from orchestration.defs.alerts.sensors import alert_on_failed_checks

    settings = load_settings()
    defs = build_defs(settings)

    instance = dg.DagsterInstance.ephemeral()
    result = defs.resolve_job_def("refresh").execute_in_process(instance=instance, raise_on_error=False)
    assert result.success  # findings fail checks, not the run
    alerts.queue_path(settings).unlink()  # forget what the run recorded itself: the sensor must find them
    run = instance.get_run_by_id(result.run_id)
    success = next(event for event in result.all_events if event.event_type == dg.DagsterEventType.RUN_SUCCESS)
    context = dg.build_run_status_sensor_context(
        sensor_name="alert_on_failed_checks",
        dagster_instance=instance,
        dagster_run=run,
        dagster_event=success,
        resources={"settings": settings},
    )
    alert_on_failed_checks(context)
    recorded = alerts.recorded_keys(settings)
    assert f"{result.run_id}:points_balances_within_minor_tolerance" in recorded
    queued = [json.loads(line) for line in alerts.queue_path(settings).read_text().splitlines()]
    where = {alert["check_name"]: alert["failing_rows_at"] for alert in queued}
    assert where["points_balances_within_minor_tolerance"] == "findings.points_balances_within_minor_tolerance"
    alert_on_failed_checks(context)  # a second evaluation adds nothing
    assert alerts.recorded_keys(settings) == recorded
