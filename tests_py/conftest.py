"""Shared fixtures: generated landing folders and warehouses in tmp folders, refreshed through
the real command (a subprocess, as a scheduler would run it)."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from tools import throwaway_postgres
from tools.faults.workspace import copy_warehouse, workbook_mismatches  # noqa: F401  (tests import them from here)

PROJECT_DIR = Path(__file__).resolve().parent.parent
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
    """A small generated landing folder and its ground truth (outside it)."""
    root = tmp_path_factory.mktemp("small")
    landing, truth = root / "landing", root / "truth"
    generate(landing, truth)
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
