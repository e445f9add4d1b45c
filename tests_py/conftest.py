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

PROJECT_DIR = Path(__file__).resolve().parent.parent
SMALL = ["--accounts", "150", "--months", "20", "--seed", "7"]


@dataclass
class Refresh:
    returncode: int
    stdout: str
    stderr: str


def generate(out: Path, truth: Path, args: list[str] = SMALL) -> None:
    subprocess.run(
        [sys.executable, "-m", "orchestration.sample_data", "--out", str(out), "--truth", str(truth), *args],
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
