"""dbt `unit_tests:` (status boundaries, causes and precedence, tiers, accruals) on an empty
warehouse: the raw tables the loader creates, every model built with --empty, then the unit
tests. A refresh also runs them (dbt build), this runs them without any data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb

from loyalty.landing.loader import DuckDBRawStore
from loyalty.settings import PROJECT_DIR


def dbt(*args: str, warehouse: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LOYALTY_WAREHOUSE": str(warehouse), "LOYALTY_TARGET": "duckdb"}
    executable = Path(sys.executable).with_name("dbt")
    return subprocess.run(
        [str(executable), *args, "--profiles-dir", str(PROJECT_DIR), "--target-path", str(warehouse.parent / "target")],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
    )


def test_dbt_unit_tests_pass(tmp_path: Path) -> None:
    warehouse = tmp_path / "unit.duckdb"
    with duckdb.connect(str(warehouse)) as connection:
        DuckDBRawStore(connection)
    built = dbt("build", "--empty", "--exclude", "test_type:unit", "test_type:data", warehouse=warehouse)
    assert built.returncode == 0, built.stdout[-4000:]
    listed = dbt("ls", "--select", "test_type:unit", "--output", "name", "--quiet", warehouse=warehouse)
    unit_tests = [line for line in listed.stdout.splitlines() if line.strip()]
    assert len(unit_tests) >= 1, "no dbt unit tests found"
    result = dbt("test", "--select", "test_type:unit", warehouse=warehouse)
    assert result.returncode == 0, result.stdout[-6000:]
    print(f"{len(unit_tests)} dbt unit tests passed")
