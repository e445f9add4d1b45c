"""BI clients embed older DuckDB releases: the published warehouse must open read-only in
DuckDB 1.1 (docs/operations.md#write-audit-publish), from an environment of its own, and serve the liability marts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import Refresh

pytestmark = pytest.mark.e2e

READ_MARTS = """
import sys, duckdb
connection = duckdb.connect(sys.argv[1], read_only=True)
points = connection.execute(
    "select count(*), sum(closing_liability) from marts.fct_points_liability_monthly").fetchall()[0]
wallet = connection.execute("select count(distinct currency) from marts.fct_wallet_liability_monthly").fetchall()[0]
print(duckdb.__version__, points[0], points[1], wallet[0])
"""


@pytest.fixture(scope="session")
def duckdb_1_1(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("duckdb-1.1")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "duckdb==1.1.3"], capture_output=True, text=True
    )
    if installed.returncode != 0:
        pytest.skip(f"cannot install duckdb==1.1.3 from the package index: {installed.stderr[-500:]}")
    return python


def test_published_warehouse_opens_read_only_in_duckdb_1_1(refreshed: tuple[Path, Refresh], duckdb_1_1: Path) -> None:
    warehouse, _ = refreshed
    completed = subprocess.run(
        [str(duckdb_1_1), "-c", READ_MARTS, str(warehouse)], capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    version, months, liability, currencies = completed.stdout.split()
    assert version.startswith("1.1.")
    assert int(months) > 0 and float(liability) > 0
    assert int(currencies) == 2
