"""Shared fixtures: generated landing folders and warehouses in tmp folders, refreshed through
the real command (a subprocess, as a scheduler would run it)."""

from __future__ import annotations

import csv
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from tools import throwaway_postgres
from tools.faults.workspace import copy_warehouse, workbook_mismatches  # noqa: F401  (tests import them from here)

PROJECT_DIR = Path(__file__).resolve().parent.parent
# The command line records its runs in the instance DAGSTER_HOME names when it is set (a developer's
# or a deployment's, deploy/README.md): the tests' refreshes, here and in their subprocesses, use
# each warehouse's own instance. Tests that want an instance set DAGSTER_HOME themselves.
os.environ.pop("DAGSTER_HOME", None)
SMALL = ["--accounts", "150", "--months", "20", "--seed", "7"]


@dataclass
class Refresh:
    returncode: int
    stdout: str
    stderr: str


def generate(out: Path, truth: Path, args: list[str] = SMALL) -> None:
    subprocess.run(
        [sys.executable, "-m", "tools.sample_data", "--out", str(out), "--truth", str(truth), *args],
        cwd=PROJECT_DIR,
        check=True,
        capture_output=True,
        text=True,
    )


def run_refresh(landing: Path, warehouse: Path, *extra: str, env: dict[str, str] | None = None) -> Refresh:
    environment = {
        **os.environ,
        "LOYALTY_LANDING_DIR": str(landing),
        "LOYALTY_WAREHOUSE": str(warehouse),
        "LOYALTY_TARGET": "duckdb",
        **(env or {}),
    }
    environment.pop("DAGSTER_HOME", None)
    completed = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "refresh", *extra],
        cwd=PROJECT_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,
    )
    return Refresh(completed.returncode, completed.stdout, completed.stderr)


def build_database(warehouse: Path) -> Path:
    """The build database of a warehouse refreshed with the default state folder (its folder):
    raw, staging and intermediate live there, not in the published file."""
    return warehouse.with_name(warehouse.name + ".build")


def closed_month_materializations(result) -> list:
    """The ``store_incentive_month`` materializations of an incentive_close run (the run also
    reports the dbt models it rebuilt as materializations of their own assets)."""
    import dagster as dg

    return [
        materialization
        for materialization in result.asset_materializations_for_node("store_incentive_month")
        if materialization.asset_key == dg.AssetKey(["store_incentive_month"])
    ]


def table_fingerprints(warehouse: Path) -> dict[str, tuple[int, int]]:
    """Row count and an order-independent hash of every table's rows, per schema.table."""
    fingerprints = {}
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        tables = connection.execute(
            "select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE'"
        ).fetchall()
        for schema, table in tables:
            count, digest = connection.execute(
                f'select count(*), coalesce(sum(hash(t)), 0) from "{schema}"."{table}" as t'
            ).fetchall()[0]
            fingerprints[f"{schema}.{table}"] = (count, int(digest))
    return fingerprints


@pytest.fixture(scope="session")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A small generated landing folder and its ground truth (outside it), with a quiet and a
    flood day in the feed volume alert window (``--feed-anomalies``: every other truth holds)."""
    root = tmp_path_factory.mktemp("small")
    landing, truth = root / "landing", root / "truth"
    generate(landing, truth, [*SMALL, "--feed-anomalies"])
    return landing, truth


class AlertReceiver:
    """A webhook on 127.0.0.1 that keeps every JSON body POSTed to it."""

    def __init__(self) -> None:
        received = self.received = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="session")
def alert_receiver() -> AlertReceiver:
    receiver = AlertReceiver()
    yield receiver
    receiver.server.shutdown()


@pytest.fixture(scope="session")
def refreshed(
    small_data: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory, alert_receiver: AlertReceiver
) -> tuple[Path, Refresh]:
    """The small landing folder refreshed once into a fresh warehouse (alerts to a local webhook)."""
    landing, _ = small_data
    warehouse = tmp_path_factory.mktemp("warehouse") / "loyalty.duckdb"
    result = run_refresh(landing, warehouse, env={"LOYALTY_ALERT_WEBHOOK": alert_receiver.url})
    return warehouse, result


@pytest.fixture(scope="session")
def postgres() -> throwaway_postgres.Server:
    """A throwaway PostgreSQL on 127.0.0.1 for the whole session (the machine's server
    binaries; see orchestration/throwaway_postgres.py). No binaries is an error, not a skip:
    the PostgreSQL target is part of what `make test` promises."""
    server = throwaway_postgres.start()
    yield server
    throwaway_postgres.stop(server.data_dir, server.bin_dir)


@pytest.fixture
def pg_database(postgres: throwaway_postgres.Server, request: pytest.FixtureRequest):
    """A new, empty database on the throwaway server: its PG* variables."""
    import psycopg

    name = "t_" + "".join(ch if ch.isalnum() else "_" for ch in request.node.name.lower())[:50]
    with psycopg.connect(**_admin(postgres), autocommit=True) as admin:
        admin.execute(f'drop database if exists "{name}" with (force)')
        admin.execute(f'create database "{name}"')
    yield {**postgres.environ, "PGDATABASE": name}
    with psycopg.connect(**_admin(postgres), autocommit=True) as admin:
        admin.execute(f'drop database if exists "{name}" with (force)')


def _admin(server: throwaway_postgres.Server) -> dict[str, object]:
    return {"host": server.host, "port": server.port, "user": server.user, "dbname": "postgres"}


def run_pg_refresh(landing: Path, state: Path, pg_env: dict[str, str], *extra: str, env: dict | None = None) -> Refresh:
    """`refresh` on the PostgreSQL target; `state` is the LOYALTY_WAREHOUSE path whose folder
    keeps the lock, the alert queue and the report."""
    return run_refresh(landing, state, *extra, env={"LOYALTY_TARGET": "postgres", **pg_env, **(env or {})})


@pytest.fixture(scope="session")
def pg_refreshed(
    small_data: tuple[Path, Path], postgres: throwaway_postgres.Server, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, str], Path, Refresh]:
    """The small landing folder refreshed once into the `loyalty` database of the throwaway server."""
    landing, _ = small_data
    state = tmp_path_factory.mktemp("pg-state") / "loyalty.duckdb"
    result = run_pg_refresh(landing, state, postgres.environ)
    return postgres.environ, state, result


# --- the semantic layer (README: Metrics): mf run as a user runs it, and the marts' own rows ---

MF = Path(sys.executable).with_name("mf")
# what dbt parse reads; mf needs a project folder of its own per warehouse (below)
DBT_PROJECT_ENTRIES = ("dbt_project.yml", "profiles.yml", "models", "macros", "seeds", "tests")


def semantic_project(folder: Path, env: dict[str, str]) -> Path:
    """Copy the dbt project into ``folder`` and parse it with ``env`` (LOYALTY_TARGET and the
    warehouse: the semantic manifest names the database mf will query). mf reads the manifest
    only from ``<project>/target/semantic_manifest.json``, so each warehouse a test queries gets
    its own copy instead of the checkout's target/. Returns the project folder; raises
    AssertionError with dbt's output when the parse fails."""
    for name in DBT_PROJECT_ENTRIES:
        source = PROJECT_DIR / name
        if source.is_dir():
            shutil.copytree(source, folder / name)
        else:
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, folder / name)
    parsed = subprocess.run(
        [str(MF.with_name("dbt")), "parse", "--quiet", "--project-dir", str(folder), "--profiles-dir", str(folder)],
        cwd=folder,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert parsed.returncode == 0, parsed.stdout[-3000:] + parsed.stderr[-3000:]
    assert (folder / "target" / "semantic_manifest.json").exists()
    return folder


def run_mf(project: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``mf <args>`` in ``project`` (a semantic_project) with ``env`` over the environment."""
    return subprocess.run(
        [str(MF), *args], cwd=project, env={**os.environ, **env}, capture_output=True, text=True, timeout=300
    )


@dataclass(frozen=True)
class MetricCase:
    """One ``mf query`` and the SQL on the published marts that must give the same rows.
    ``sql`` selects the group-by columns, then the metrics, in the order named here; it runs
    unchanged on DuckDB and PostgreSQL."""

    name: str
    metrics: tuple[str, ...]
    group_by: tuple[str, ...]
    sql: str


METRIC_CASES = (
    MetricCase(
        "closing_liability_by_month",
        ("closing_points", "closing_liability", "closing_liability_net_of_breakage"),
        ("metric_time__month",),
        "select month, closing_points, closing_liability, closing_liability_net_of_breakage"
        " from marts.fct_points_liability_monthly",
    ),
    # semi-additive: a quarter's closing is its last month's, not the sum of its month ends
    MetricCase(
        "closing_liability_by_quarter_is_its_last_month",
        ("closing_points", "closing_liability"),
        ("metric_time__quarter",),
        "select cast(date_trunc('quarter', month) as date), closing_points, closing_liability"
        " from marts.fct_points_liability_monthly as monthly"
        " where month = (select max(later.month) from marts.fct_points_liability_monthly as later"
        "  where date_trunc('quarter', later.month) = date_trunc('quarter', monthly.month))",
    ),
    MetricCase(
        "points_movements_by_month",
        ("points_earned", "points_redeemed", "points_expired"),
        ("metric_time__month",),
        "select month, earned, redeemed, expired from marts.fct_points_liability_monthly",
    ),
    MetricCase(
        "points_earned_by_year_adds_up",
        ("points_earned",),
        ("metric_time__year",),
        "select cast(date_trunc('year', month) as date), sum(earned)"
        " from marts.fct_points_liability_monthly group by date_trunc('year', month)",
    ),
    MetricCase(
        "wallet_closing_balance_by_month_and_currency",
        ("wallet_closing_balance",),
        ("metric_time__month", "wallet_liability_month__currency"),
        "select month, currency, closing_balance from marts.fct_wallet_liability_monthly",
    ),
    MetricCase(
        "balances_out_of_balance_by_drift_status_and_cause",
        ("balances_out_of_balance",),
        ("balance__drift_status", "balance__likely_cause"),
        "select drift_status, likely_cause, count(*) from marts.fct_balance_reconciliation"
        " where drift_status in ('minor_drift', 'material_mismatch') group by drift_status, likely_cause",
    ),
    # against another mart's figures: the reconciliation summary counts them its own way
    MetricCase(
        "balances_checked_by_drift_status_match_the_summary",
        ("balances_checked",),
        ("balance__drift_status",),
        "select drift_status, sum(accounts) from ("
        " select 'in_balance' as drift_status, accounts_in_balance as accounts from marts.rpt_reconciliation_summary"
        " union all select 'minor_drift', accounts_minor_drift from marts.rpt_reconciliation_summary"
        " union all select 'material_mismatch', accounts_material_mismatch from marts.rpt_reconciliation_summary"
        " union all select 'missing_snapshot', accounts_missing_snapshot from marts.rpt_reconciliation_summary"
        ") as by_status where accounts > 0 group by drift_status",
    ),
    MetricCase(
        "points_abs_drift_by_drift_status_and_cause",
        ("points_total_abs_drift",),
        ("balance__drift_status", "balance__likely_cause"),
        "select drift_status, likely_cause, sum(abs(drift)) from marts.fct_balance_reconciliation"
        " where balance_type = 'points' group by drift_status, likely_cause",
    ),
    MetricCase(
        "wallet_abs_drift_by_currency_matches_the_summary",
        ("wallet_total_abs_drift",),
        ("balance__currency",),
        "select currency, total_abs_drift from marts.rpt_reconciliation_summary where balance_type = 'wallet'",
    ),
    MetricCase(
        "accrual_errors_by_status",
        ("accrual_errors", "member_orders_checked", "accrual_points_difference"),
        ("member_order__accrual_status",),
        "select accrual_status, sum(case when accrual_status <> 'ok' then 1 else 0 end), count(*),"
        " sum(posted_points - expected_points)"
        " from marts.fct_order_accrual_reconciliation group by accrual_status",
    ),
    MetricCase(
        "eligible_stores_by_month",
        ("eligible_stores", "stores_evaluated"),
        ("metric_time__month",),
        "select period_month, sum(case when eligible then 1 else 0 end), count(*)"
        " from marts.fct_store_incentive_eligibility group by period_month",
    ),
)


def _comparable(value: object, is_metric: bool) -> object:
    """A value of mf's CSV or of the SQL result in one form: None, a 'YYYY-MM-DD' date, a
    number at the marts' scale (2 decimals; mf's CSV writes floats) or text."""
    if value is None or value == "":
        return None
    if is_metric:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    if isinstance(value, date | datetime):
        return value.isoformat()[:10]
    text = str(value)
    return text[:10] if re.fullmatch(r"\d{4}-\d{2}-\d{2}( \d{2}:\d{2}:\d{2})?", text) else text


def mf_rows(project: Path, env: dict[str, str], case: MetricCase, csv_path: Path) -> list[tuple]:
    """The case's ``mf query`` (written as CSV), as sorted comparable tuples (group-by values,
    then metrics). Raises AssertionError with mf's output when it fails."""
    completed = run_mf(
        project,
        env,
        "query",
        "--metrics",
        ",".join(case.metrics),
        "--group-by",
        ",".join(case.group_by),
        "--csv",
        str(csv_path),
        "--quiet",
    )
    assert completed.returncode == 0 and csv_path.exists(), completed.stdout[-3000:] + completed.stderr[-3000:]
    with csv_path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return sorted(
        (
            tuple(
                [_comparable(row[column], False) for column in case.group_by]
                + [_comparable(row[metric], True) for metric in case.metrics]
            )
            for row in rows
        ),
        key=repr,
    )


def sql_rows(rows: list[tuple], case: MetricCase) -> list[tuple]:
    """Rows of the case's SQL as sorted comparable tuples (see mf_rows)."""
    width = len(case.group_by)
    return sorted(
        (tuple(_comparable(value, index >= width) for index, value in enumerate(row)) for row in rows), key=repr
    )
