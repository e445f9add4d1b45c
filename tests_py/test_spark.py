"""The same dbt project on Spark (LOYALTY_TARGET=spark, local session): `make test-spark`.

Builds the whole project on small generated data — every model, every unit test, every data
test, then the reconciliation findings — and requires what a refresh requires before it
publishes (no integrity failure, every model built), then compares every mart with a DuckDB
refresh of the same landing folder, row by row. Not part of `make test` (a JVM and about a
statement per second); run with `pytest -m spark`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from loyalty.outcome import RefreshOutcome
from tools.compare_engines import compare

from conftest import PROJECT_DIR, generate, run_refresh

pytestmark = pytest.mark.spark

SPARK_SMALL = ["--accounts", "100", "--months", "20", "--seed", "11"]


def dbt(args: list[str], env: dict[str, str], target_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).with_name("dbt")), *args, "--target-path", str(target_path)],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
    )


def spark_marts(warehouse_dir: Path) -> duckdb.DuckDBPyConnection:
    """The Spark marts (Parquet folders in the Spark warehouse) as DuckDB tables in schema marts."""
    connection = duckdb.connect()
    connection.execute("set TimeZone = 'UTC'")
    connection.execute("create schema marts")
    for folder in sorted((warehouse_dir / "marts.db").iterdir()):
        files = list(folder.glob("*.parquet"))
        if files:
            connection.execute(f"create table marts.{folder.name} as select * from read_parquet('{folder}/*.parquet')")
    return connection


@pytest.fixture(scope="module")
def spark_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, RefreshOutcome]:
    root = tmp_path_factory.mktemp("spark")
    landing, truth, spark_dir = root / "landing", root / "truth", root / "spark"
    generate(landing, truth, SPARK_SMALL)
    subprocess.run(
        [sys.executable, "-m", "tools.spark_raw", "--landing", str(landing), "--out", str(spark_dir / "raw")],
        cwd=PROJECT_DIR,
        check=True,
        capture_output=True,
        text=True,
    )
    env = {**os.environ, "LOYALTY_TARGET": "spark", "LOYALTY_SPARK_DIR": str(spark_dir)}
    outcome = RefreshOutcome()
    for step, args in (
        ("build", ["build", "--exclude", "tag:finding"]),
        ("findings", ["test", "--select", "tag:finding"]),
    ):
        completed = dbt(args, env, spark_dir / "target" / step)
        results = spark_dir / "target" / step / "run_results.json"
        assert results.exists(), completed.stdout[-5000:] + completed.stderr[-3000:]
        manifest = json.loads((spark_dir / "target" / step / "manifest.json").read_text())
        outcome.extend(json.loads(results.read_text()), manifest)
        (root / f"{step}.log").write_text(completed.stdout)
    return landing, spark_dir, outcome


def test_whole_project_builds_and_its_tests_pass_on_spark(spark_build: tuple[Path, Path, RefreshOutcome]) -> None:
    _, _, outcome = spark_build
    summary = outcome.to_dict()
    assert summary["node_errors"] == [], summary["node_errors"]
    assert summary["integrity_failures"] == [], summary["integrity_failures"]
    assert summary["unit_tests"] >= 40
    assert summary["tests_passed"] >= 200
    assert outcome.publishable


def test_spark_marts_equal_duckdb_marts(spark_build: tuple[Path, Path, RefreshOutcome], tmp_path: Path) -> None:
    landing, spark_dir, _ = spark_build
    warehouse = tmp_path / "loyalty.duckdb"
    result = run_refresh(landing, warehouse)
    assert result.returncode in (0, 1), result.stdout[-3000:] + result.stderr[-3000:]
    with duckdb.connect(str(warehouse), read_only=True) as left, spark_marts(spark_dir / "warehouse") as right:
        results = compare(left, right)
    assert len(results) >= 16
    different = {
        r.mart: (r.left_rows, r.right_rows, r.only_left, r.only_right, r.columns_differ) for r in results if not r.equal
    }
    assert not different
