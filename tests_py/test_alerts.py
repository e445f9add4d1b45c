"""Alerts: failed checks raise one even when the run succeeds, for `make refresh` too, logged,
queued beside the warehouse, loaded into audit.alerts and POSTed to the webhook."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from test_drift_cause_registry import parse_manifest

from loyalty import alerts
from loyalty.outcome import FINDING_TAG, stored_failures_at
from loyalty.settings import load_settings

from conftest import PROJECT_DIR, AlertReceiver, Refresh

OUTCOME = {
    "integrity_failures": [],
    "node_errors": [],
    "failed_findings": [
        {
            "unique_id": "test.loyalty.points_material",
            "name": "points_material",
            "model": "fct_balance_reconciliation",
            "status": "fail",
            "failures": 7,
            "message": None,
            "failing_rows_at": "findings.points_material",
        }
    ],
    "warnings": [
        {
            "unique_id": "test.loyalty.points_minor",
            "name": "points_minor",
            "model": "fct_balance_reconciliation",
            "status": "warn",
            "failures": 13,
            "message": None,
        }
    ],
}


def test_alerts_name_check_severity_rows_and_where_to_look() -> None:
    found = alerts.alerts_from_outcome(OUTCOME, "run-1", raised_at="2026-01-01T00:00:00Z")
    assert [(a.check_name, a.severity, a.kind, a.failing_rows) for a in found] == [
        ("points_material", "error", "finding", 7),
        ("points_minor", "warn", "finding", 13),
    ]
    assert found[0].failing_rows_at == "findings.points_material"
    # a check that stores no failing rows points at the run's results, never at a missing table
    assert found[1].failing_rows_at == "dbt run_results (test.loyalty.points_minor)"


def test_record_is_idempotent_and_posts_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    receiver = AlertReceiver()
    try:
        settings = load_settings(
            {"LOYALTY_WAREHOUSE": str(tmp_path / "w.duckdb"), "LOYALTY_ALERT_WEBHOOK": receiver.url}
        )
        found = alerts.alerts_from_outcome(OUTCOME, "run-1")
        assert len(alerts.record(settings, found)) == 2
        assert alerts.record(settings, found) == []
        assert len(receiver.received) == 1 and len(receiver.received[0]["alerts"]) == 2
    finally:
        receiver.server.shutdown()


def test_an_unreachable_webhook_keeps_the_alert_queued(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(
        {"LOYALTY_WAREHOUSE": str(tmp_path / "w.duckdb"), "LOYALTY_ALERT_WEBHOOK": "http://127.0.0.1:9/nowhere"}
    )
    assert len(alerts.record(settings, alerts.alerts_from_outcome(OUTCOME, "run-2"))) == 2
    assert len(alerts.recorded_keys(settings)) == 2


@pytest.mark.e2e
def test_a_refresh_with_findings_alerts_although_it_succeeds(
    refreshed: tuple[Path, Refresh], alert_receiver: AlertReceiver
) -> None:
    warehouse, result = refreshed
    assert result.returncode == 1 and "(published)" in result.stdout
    posted = [alert for body in alert_receiver.received for alert in body["alerts"]]
    names = {alert["check_name"] for alert in posted}
    assert {"points_balances_within_minor_tolerance", "member_orders_accrue_correctly"} <= names
    assert {alert["severity"] for alert in posted} == {"error", "warn"}
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        stored = connection.execute("select check_name, severity, failing_rows from audit.alerts").fetchall()
    assert {name for name, _, _ in stored} == names
    assert all(rows > 0 for _, _, rows in stored)


def test_every_check_that_can_warn_or_find_stores_its_failing_rows_in_findings(tmp_path: Path) -> None:
    """A finding or a warn-severity check raises an alert without stopping the publish; the alert
    points at the rows dbt stored, so each such test stores them in schema findings."""
    manifest = parse_manifest(PROJECT_DIR, tmp_path)
    tests = [node for node in manifest["nodes"].values() if node["resource_type"] == "test"]
    alerting = [
        node
        for node in tests
        if FINDING_TAG in node["tags"] or str(node["config"].get("severity", "")).lower() == "warn"
    ]
    assert len(alerting) >= 9
    wrong = [node["name"] for node in alerting if stored_failures_at(node) != f"findings.{node['alias']}"]
    assert not wrong, f"store_failures with schema findings missing on: {wrong}"


@pytest.mark.e2e
def test_every_alert_points_at_a_table_holding_its_failing_rows(refreshed: tuple[Path, Refresh]) -> None:
    warehouse, _ = refreshed
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        stored = connection.execute(
            "select check_name, failing_rows_at, failing_rows from audit.alerts"
            " where failing_rows_at not like 'dbt run_results%' and failing_rows_at not like 'Dagster run%'"
        ).fetchall()
        tables = {
            f"{schema}.{name}"
            for schema, name in connection.execute(
                "select table_schema, table_name from information_schema.tables"
            ).fetchall()
        }
        assert stored, "the generated data raises findings"
        for check_name, location, failing_rows in stored:
            assert location in tables, f"{check_name}: alert points at {location}, which does not exist"
            rows = connection.execute(f"select count(*) from {location}").fetchone()[0]
            assert rows == failing_rows, f"{check_name}: {location} holds {rows} rows, the alert says {failing_rows}"
