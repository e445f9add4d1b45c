"""Alerts: failed checks raise one even when the run succeeds, for `make refresh` too, logged,
queued beside the warehouse, loaded into audit.alerts and POSTed to the webhook."""

from __future__ import annotations

import csv
import re
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
            "select check_name, failing_rows_at, failing_rows from audit.alerts where kind in ('integrity', 'finding')"
            " and failing_rows_at not like 'dbt run_results%'"
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
        # a feed anomaly alerts row by row: each alert is one row of its table, that source and day
        anomalies = connection.execute(
            "select failing_rows_at, alert_key from audit.alerts where kind = 'anomaly'"
        ).fetchall()
        assert anomalies, "the generated data has feed anomalies"
        for location, key in anomalies:
            _, source, day = key.split(":")
            held = connection.execute(
                f"select count(*) from {location} where landing_source = ? and business_date = cast(? as date)",
                [source, day],
            ).fetchone()[0]
            assert held == 1, f"{key}: {location} holds {held} rows of it"


VOLUME_ROW = {
    "landing_source": "ledger_events",
    "business_date": "2026-03-02",
    "rows_delivered": 12410,
    "expected_rows_low": 40000,
    "expected_rows_high": 52000,
    "volume_status": "quiet",
}
SPIKE_ROW = {
    "landing_source": "orders",
    "business_date": "2026-03-02",
    "rows_delivered": 180,
    "rows_rejected": 31,
    "rejected_share": 31 / 180,
    "rejected_share_limit": 0.05,
}


def test_a_feed_anomaly_alerts_once_per_source_and_day_with_its_band_and_runbook() -> None:
    first = alerts.feed_anomaly_alerts(
        "warn_feed_volume_anomalies", alerts.FEED_VOLUME, [VOLUME_ROW], "run-1", "findings.warn_feed_volume_anomalies"
    )
    assert [alert.message for alert in first] == [
        "ledger_events: 12,410 rows on 2026-03-02, expected 40,000–52,000 (quiet)"
    ]
    assert first[0].severity == "warn" and first[0].kind == "anomaly"
    assert first[0].runbook == "docs/runbook.md#feed-volume-anomaly"
    # the next refresh still sees the day in its window: the same key, so it is not raised again
    again = alerts.feed_anomaly_alerts(
        "warn_feed_volume_anomalies", alerts.FEED_VOLUME, [VOLUME_ROW], "run-2", "findings.warn_feed_volume_anomalies"
    )
    assert again[0].alert_key == first[0].alert_key
    spike = alerts.feed_anomaly_alerts("warn_feed_rejected_share_spikes", alerts.QUARANTINE_SPIKE, [SPIKE_ROW], "", "")
    assert spike[0].message == "orders: 31 of 180 rows rejected (17.2%) on 2026-03-02, more than 5.0%"
    assert spike[0].runbook == "docs/runbook.md#quarantine-spike"
    with pytest.raises(ValueError, match="not a row-alert section"):
        alerts.feed_anomaly_alerts("x", "balance-drift", [VOLUME_ROW], "r", "x")


def test_warned_feed_anomaly_checks_are_raised_row_by_row_not_as_one_check() -> None:
    outcome = {
        "warnings": [
            {**OUTCOME["warnings"][0], "name": "warn_feed_volume_anomalies", "runbook": alerts.FEED_VOLUME},
            {**OUTCOME["warnings"][0], "runbook": "balance-drift"},
        ],
        # a feed check that errored (its SQL failed) is still one alert: there are no rows to read
        "node_errors": [
            {**OUTCOME["warnings"][0], "name": "warn_feed_rejected_share_spikes", "status": "error",
             "runbook": alerts.QUARANTINE_SPIKE}
        ],
    }  # fmt: skip
    found = alerts.alerts_from_outcome(outcome, "run-1")
    assert [(alert.check_name, alert.runbook) for alert in found] == [
        ("warn_feed_rejected_share_spikes", "docs/runbook.md#quarantine-spike"),
        ("points_minor", "docs/runbook.md#balance-drift"),
    ]


def test_a_refused_lock_and_a_failed_run_name_their_own_runbook_sections() -> None:
    refused = alerts.run_failure_alert("r1", f"{alerts.REFUSED_LOCK_TEXT} to /w.duckdb (pid 7)")
    failed = alerts.run_failure_alert("r2", "dbt build failed at stg_orders")
    assert (refused.runbook, failed.runbook) == ("docs/runbook.md#refused-lock", "docs/runbook.md#run-failure")


def test_queued_alerts_are_listed_and_resent_since_a_moment(tmp_path: Path) -> None:
    receiver = AlertReceiver()
    try:
        settings = load_settings({"LOYALTY_WAREHOUSE": str(tmp_path / "w.duckdb")})
        alerts.record(settings, alerts.alerts_from_outcome(OUTCOME, "run-1", raised_at="2026-03-01T06:00:00Z"))
        alerts.record(settings, alerts.alerts_from_outcome(OUTCOME, "run-2", raised_at="2026-03-02T06:00:00Z"))
        assert len(alerts.queued_since(settings, None)) == 4
        assert {row["run_id"] for row in alerts.queued_since(settings, "2026-03-02")} == {"run-2"}
        with pytest.raises(alerts.AlertError, match="--since 'yesterday'"):
            alerts.queued_since(settings, "yesterday")
        with pytest.raises(alerts.AlertError, match="LOYALTY_ALERT_WEBHOOK is not set"):
            alerts.resend(settings, "2026-03-01")
        warehouse = str(tmp_path / "w.duckdb")
        rotated = load_settings({"LOYALTY_WAREHOUSE": warehouse, "LOYALTY_ALERT_WEBHOOK": receiver.url})
        assert alerts.resend(rotated, "2026-03-02T00:00:00+00:00") == 2
        assert [alert["run_id"] for alert in receiver.received[0]["alerts"]] == ["run-2", "run-2"]
        unreachable = load_settings(
            {"LOYALTY_WAREHOUSE": str(tmp_path / "w.duckdb"), "LOYALTY_ALERT_WEBHOOK": "http://127.0.0.1:9/x"}
        )
        with pytest.raises(alerts.AlertError, match="could not POST 4 alert"):
            alerts.resend(unreachable, "2026-01-01")
    finally:
        receiver.server.shutdown()


def test_audit_alerts_of_an_older_warehouse_gains_the_runbook_column(tmp_path: Path) -> None:
    settings = load_settings({"LOYALTY_WAREHOUSE": str(tmp_path / "w.duckdb")})
    alerts.record(settings, alerts.alerts_from_outcome(OUTCOME, "run-1"))
    with duckdb.connect(str(tmp_path / "old.duckdb")) as connection:
        connection.execute("create schema audit")
        connection.execute(
            "create table audit.alerts (alert_key varchar primary key, raised_at timestamp, run_id varchar,"
            " asset varchar, check_name varchar, severity varchar, kind varchar, failing_rows bigint,"
            " failing_rows_at varchar, message varchar)"
        )
        assert alerts.load_into(connection, settings) == 2
        runbooks = connection.execute("select runbook from audit.alerts order by check_name").fetchall()
    # OUTCOME's checks name no runbook section of their own: they fall back to integrity-failure
    assert runbooks == [("docs/runbook.md#integrity-failure",)] * 2


def test_a_stale_source_alerts_with_its_age_and_runbook() -> None:
    found = alerts.stale_source_alerts("run-1", [("orders", "error", 51.25), ("members", "warn", None)])
    assert [(alert.severity, alert.message, alert.runbook) for alert in found] == [
        ("error", "stale source orders: last file 51.2 h ago", "docs/runbook.md#stale-source"),
        ("warn", "stale source members: no file ever loaded", "docs/runbook.md#stale-source"),
    ]
    assert len({alert.alert_key for alert in found}) == 2


@pytest.mark.e2e
def test_the_injected_quiet_and_flood_days_are_exactly_the_feed_anomalies_found(
    refreshed: tuple[Path, Refresh], small_data: tuple[Path, Path], alert_receiver: AlertReceiver
) -> None:
    """The generator's --feed-anomalies (a store_operations day mostly missing, a ledger_events
    day replayed) against warn_feed_volume_anomalies: the same days, one alert each."""
    warehouse, _ = refreshed
    with (small_data[1] / "feed_anomalies.csv").open(newline="") as file:
        expected = {(row["landing_source"], row["business_date"], row["volume_status"]) for row in csv.DictReader(file)}
    assert {status for _, _, status in expected} == {"quiet", "flood"}
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        found = connection.execute(
            "select landing_source, strftime(business_date, '%Y-%m-%d'), volume_status"
            " from findings.warn_feed_volume_anomalies"
        ).fetchall()
        flagged_in_window = connection.execute(
            "select count(*) from audit.feed_daily_volumes"
            " where in_alert_window and volume_status in ('quiet', 'flood')"
        ).fetchone()[0]
    assert set(found) == expected and len(found) == len(expected) == flagged_in_window
    posted = [alert for body in alert_receiver.received for alert in body["alerts"] if alert["kind"] == "anomaly"]
    assert sorted(alert["alert_key"] for alert in posted) == sorted(
        f"feed-volume-anomaly:{source}:{day}" for source, day, _ in expected
    )
    pattern = r"\w+: [\d,]+ rows on \d{4}-\d\d-\d\d, expected [\d,]+–[\d,]+ \((quiet|flood)\)"
    for alert in posted:
        assert alert["runbook"] == "docs/runbook.md#feed-volume-anomaly"
        assert alert["failing_rows_at"] == "findings.warn_feed_volume_anomalies" and alert["failing_rows"] == 1
        assert re.fullmatch(pattern, alert["message"]), alert["message"]
