"""`make bi-test`: the demo data refreshed into a temp folder, `make bi` (bi/serve.py) serving
it, both dashboards drawn in headless Chromium (bi/render.py in .venv-bi), every chart loaded
and drawn without an error, the month-end figures the charts received equal to the marts of
the published file, and a new publish (os.replace of the file) seen without restarting
Superset. The first drawing is kept as docs/bi_month_end_pack.png and docs/bi_operations.png.
On PostgreSQL (a throwaway server) the same, read as a member of finance_reader. Not part of
`make test` (marker ``bi``)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest

from bi.serve import PG_ROLE, port_is_free
from loyalty.settings import Settings, load_settings
from loyalty.warehouse import connect, pg_connect, publish
from tools import throwaway_postgres

from conftest import PROJECT_DIR, run_refresh

pytestmark = pytest.mark.bi

BI_PYTHON = PROJECT_DIR / ".venv-bi" / "bin" / "python"
DEMO_LANDING = PROJECT_DIR / "demo" / "landing"
PICTURES = {
    "month-end-pack": PROJECT_DIR / "docs" / "bi_month_end_pack.png",
    "operations": PROJECT_DIR / "docs" / "bi_operations.png",
}
POINTS_COLUMNS = (
    "month, is_month_to_date, opening_points, earned, redeemed, expired, corrected, reversed, closing_points, "
    "point_value, closing_liability, estimated_breakage_rate, closing_liability_net_of_breakage"
)
WALLET_COLUMNS = (
    "month, currency, is_month_to_date, opening_balance, top_ups, spends, refunds, cashback, adjustments, "
    "closing_balance"
)
QUARANTINE_CHART = "Quarantined rows by source and reason"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def refreshed_environment(root: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The demo landing folder refreshed (``refresh --demo``) into a warehouse and state folder
    under ``root``: the variables that name them (with ``extra``, e.g. the PostgreSQL target)
    and a free port for Superset."""
    if not (DEMO_LANDING / "ledger_events").is_dir():
        pytest.fail(f"no demo landing data in {DEMO_LANDING}: run `make data` (make bi-test does)")
    if not BI_PYTHON.exists():
        pytest.fail(f"{BI_PYTHON} is missing: run `make bi-test`, which installs Superset into .venv-bi")
    env = {
        "LOYALTY_LANDING_DIR": str(DEMO_LANDING),
        "LOYALTY_WAREHOUSE": str(root / "warehouse" / "loyalty.duckdb"),
        "LOYALTY_STATE_DIR": str(root / "state"),
        "LOYALTY_TARGET": "duckdb",
        "LOYALTY_BI_PORT": str(free_port()),
        **(extra or {}),
    }
    refreshed = run_refresh(DEMO_LANDING, Path(env["LOYALTY_WAREHOUSE"]), "--demo", env=env)
    assert refreshed.returncode == 0, refreshed.stdout[-3000:] + refreshed.stderr[-3000:]
    return env


@contextmanager
def serving(environment: dict[str, str]) -> Iterator[tuple[Settings, str]]:
    """`python -m bi.serve` (what `make bi` runs) in its own process group, until its /health
    answers; afterwards SIGTERM, and every process it started must be gone."""
    settings = load_settings(environment)
    url = f"http://127.0.0.1:{settings.bi_port}"
    log_path = Path(environment["LOYALTY_STATE_DIR"]) / "bi-serve.out"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("LOYALTY_", "PG"))}
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "bi.serve"],
            cwd=PROJECT_DIR,
            env={**env, **environment},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 300
        while True:
            assert server.poll() is None, f"bi.serve exited {server.returncode}:\n{log_path.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"Superset did not answer in 300 s:\n{log_path.read_text()[-3000:]}"
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=5) as response:
                    if response.status == 200 and "Superset on" in log_path.read_text():
                        break
            except OSError:
                pass
            time.sleep(1)
        yield settings, url
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
        assert server.wait(timeout=60) == 0, log_path.read_text()[-3000:]
        time.sleep(1)
        with pytest.raises(ProcessLookupError):
            os.killpg(server.pid, 0)  # no process of the group (gunicorn and its worker) is left
        assert port_is_free(settings.bi_port)


def render(settings: Settings, url: str, tmp_path: Path, dashboards: list[str]) -> dict[str, dict[str, Any]]:
    """bi/render.py in .venv-bi on ``dashboards`` (SLUG or SLUG=PICTURE): its report by slug."""
    out = tmp_path / f"render-{time.monotonic_ns()}.json"
    password_file = settings.superset_home / "admin_password"
    command = [str(BI_PYTHON), "bi/render.py", "--url", url, "--password-file", str(password_file), "--out", str(out)]
    for dashboard in dashboards:
        command += ["--dashboard", dashboard]
    completed = subprocess.run(command, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=900)
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-4000:]
    return {report["slug"]: report for report in json.loads(out.read_text())}


def chart(report: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [item for item in report["charts"] if item["name"] == name]
    return found


def rows(item: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows a chart received, months as dates and numbers rounded to 6 places."""
    (query,) = item["queries"]
    return [{key: comparable(key, value) for key, value in row.items()} for row in query["data"]]


def comparable(key: str, value: Any) -> Any:
    if key in ("month", "due_month", "period_month") and isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000, UTC).date()
    if isinstance(value, bool) or value is None or isinstance(value, str | date):
        return value
    return round(float(value), 6)


Query = Callable[[str], list[dict[str, Any]]]


def duckdb_query(warehouse: Path) -> Query:
    """Rows of a query on the published file (a connection of its own each time, closed after)."""

    def query(sql: str) -> list[dict[str, Any]]:
        with duckdb.connect(str(warehouse), read_only=True) as connection:
            cursor = connection.execute(sql)
            return as_rows(cursor.description, cursor.fetchall())

    return query


def postgres_query(settings: Settings, server: throwaway_postgres.Server) -> Query:
    """Rows of a query on PostgreSQL as the role Superset reads as (a member of finance_reader)."""

    def query(sql: str) -> list[dict[str, Any]]:
        password = (settings.superset_home / "pg_password").read_text().strip()
        where = {"host": server.host, "port": server.port, "dbname": server.database}
        with pg_connect(**where, user=PG_ROLE, password=password) as connection:
            cursor = connection.execute(sql)
            return as_rows(cursor.description, cursor.fetchall())

    return query


def as_rows(description: Any, fetched: list[tuple]) -> list[dict[str, Any]]:
    names = [column[0] for column in description]
    return [
        {
            name: comparable(name, value) if isinstance(value, Decimal | int | float) else value
            for name, value in zip(names, row, strict=True)
        }
        for row in fetched
    ]


def assert_every_chart_loaded(report: dict[str, Any], expected_charts: int) -> None:
    assert len(report["charts"]) == expected_charts, [item["name"] for item in report["charts"]]
    failed = [
        (item["name"], item["status"], item["error"], item["alert"])
        for item in report["charts"]
        if item["status"] != 200 or item["error"] or not item["drawn"] or not item["queries"]
    ]
    assert not failed, f"{report['slug']}: charts that did not load: {failed}"
    assert report["page_alerts"] == [], report["page_alerts"]


def assert_month_end_figures_equal_the_marts(report: dict[str, Any], mart: Query) -> dict[str, float]:
    """Every figure the Month-end pack's charts received equals the marts'. Returns the last
    ended month's closing liability and net of breakage as the big numbers show them."""
    points = mart(f"select {POINTS_COLUMNS} from marts.fct_points_liability_monthly order by month desc")
    wallet = mart(f"select {WALLET_COLUMNS} from marts.fct_wallet_liability_monthly order by month desc, currency")
    assert points and wallet
    assert rows(chart(report, "Points roll-forward: opening, movements, closing")) == points
    assert rows(chart(report, "Wallet roll-forward by currency: opening, movements, closing")) == wallet
    by_month = {row["month"]: row for row in points}
    trend = rows(chart(report, "Points liability and net of breakage (EUR)"))
    assert {row["month"]: (row["closing liability"], row["net of breakage"]) for row in trend} == {
        month: (row["closing_liability"], row["closing_liability_net_of_breakage"]) for month, row in by_month.items()
    }
    breakage = rows(chart(report, "Estimated breakage rate"))
    assert {row["month"]: row["breakage rate"] for row in breakage} == {
        month: row["estimated_breakage_rate"] for month, row in by_month.items()
    }
    by_currency = rows(chart(report, "Wallet stored value by currency (closing balance)"))
    currencies = sorted({row["currency"] for row in wallet})
    closing = {(row["month"], row["currency"]): row["closing_balance"] for row in wallet}
    assert {row["month"]: tuple(row.get(currency) for currency in currencies) for row in by_currency} == {
        month: tuple(closing.get((month, currency)) for currency in currencies) for month in by_month
    }
    ended = [row for row in points if not row["is_month_to_date"]]
    shown = {}
    big_numbers = [
        ("Points liability, last month end (EUR)", "closing liability", "closing_liability"),
        (
            "Points liability, net of breakage, last month end (EUR)",
            "net of breakage",
            "closing_liability_net_of_breakage",
        ),
    ]
    for name, label, column in big_numbers:
        series = rows(chart(report, name))
        assert [row["month"] for row in series] == sorted(row["month"] for row in ended), "month-to-date is left out"
        last = max(series, key=lambda row: row["month"])
        assert last[label] == ended[0][column]
        shown[column] = last[label]
    return shown


def assert_operations_counts_equal_the_marts(report: dict[str, Any], mart: Query, quarantine: bool = True) -> None:
    accruals = rows(chart(report, "Order accrual findings by status"))
    assert {row["accrual_status"]: row["member orders"] for row in accruals} == {
        row["accrual_status"]: row["orders"]
        for row in mart(
            "select accrual_status, count(*) as orders from marts.fct_order_accrual_reconciliation "
            "where accrual_status <> 'ok' group by 1",
        )
    }
    if quarantine:
        counts = rows(chart(report, QUARANTINE_CHART))
        shown = sum(value for row in counts for key, value in row.items() if key != "source" and value)
        assert shown == mart("select count(*) as n from audit.rejected_source_rows")[0]["n"]
    top = rows(chart(report, "Top 20 balances out of balance"))
    largest = mart(
        "select account_id, drift from marts.fct_balance_reconciliation where drift_status in "
        "('minor_drift', 'material_mismatch') order by abs(drift) desc, account_id limit 20",
    )
    assert [(row["account_id"], row["drift"]) for row in top] == [(row["account_id"], row["drift"]) for row in largest]


def test_superset_serves_both_dashboards_with_the_marts_figures_and_sees_a_new_publish(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    environment = refreshed_environment(tmp_path_factory.mktemp("bi-duckdb"))
    with serving(environment) as (settings, url):
        mart = duckdb_query(settings.warehouse)
        pictures = [f"{slug}={path}" for slug, path in PICTURES.items()]
        reports = render(settings, url, tmp_path, pictures)
        assert_every_chart_loaded(reports["month-end-pack"], expected_charts=7)
        assert_every_chart_loaded(reports["operations"], expected_charts=8)
        before = assert_month_end_figures_equal_the_marts(reports["month-end-pack"], mart)
        assert_operations_counts_equal_the_marts(reports["operations"], mart)
        assert all(path.stat().st_size > 50_000 for path in PICTURES.values())

        # A publish as a refresh makes it (loyalty.warehouse.publish: a new file, os.replace),
        # from a build database whose liability mart moved by 1,000.00 and whose quarantine
        # table is gone: Superset, still running, must show the new figures and report the
        # missing table.
        with connect(settings.build_database) as build:
            build.execute(
                "update marts.fct_points_liability_monthly set closing_liability = closing_liability + 1000 "
                "where month = (select max(month) from marts.fct_points_liability_monthly where not is_month_to_date)"
            )
            build.execute("drop table audit.rejected_source_rows")
        inode = settings.warehouse.stat().st_ino
        publish(settings)
        assert settings.warehouse.stat().st_ino != inode
        after = render(settings, url, tmp_path, ["month-end-pack", "operations"])
        assert_every_chart_loaded(after["month-end-pack"], expected_charts=7)
        shown = assert_month_end_figures_equal_the_marts(after["month-end-pack"], mart)
        assert shown["closing_liability"] == pytest.approx(before["closing_liability"] + 1000)
        broken = [item["name"] for item in after["operations"]["charts"] if item["error"] or not item["drawn"]]
        assert broken == [QUARANTINE_CHART], "the render must report the chart whose table is gone, and only it"


def test_on_postgres_superset_reads_the_marts_as_a_finance_reader_member(
    postgres: throwaway_postgres.Server, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    environment = refreshed_environment(
        tmp_path_factory.mktemp("bi-postgres"), {"LOYALTY_TARGET": "postgres", **postgres.environ}
    )
    with serving(environment) as (settings, url):
        mart = postgres_query(settings, postgres)
        reports = render(settings, url, tmp_path, ["month-end-pack", "operations"])
        assert_every_chart_loaded(reports["month-end-pack"], expected_charts=7)
        # finance_reader reads schema marts only: the two charts on the audit schema are left out
        assert_every_chart_loaded(reports["operations"], expected_charts=6)
        assert_month_end_figures_equal_the_marts(reports["month-end-pack"], mart)
        assert_operations_counts_equal_the_marts(reports["operations"], mart, quarantine=False)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            mart("select count(*) from audit.rejected_source_rows")
