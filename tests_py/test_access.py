"""Member emails never reach a mart: the dbt test that scans every mart column fails when one does."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from conftest import PROJECT_DIR, Refresh

pytestmark = pytest.mark.e2e
DBT = str(Path(sys.executable).with_name("dbt"))


def email_test(warehouse: Path, target_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DBT, "test", "--select", "assert_no_member_email_in_marts", "--target-path", str(target_path)],
        cwd=PROJECT_DIR,
        env={**os.environ, "LOYALTY_TARGET": "duckdb", "LOYALTY_WAREHOUSE": str(warehouse)},
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_an_email_in_any_mart_column_fails_the_scan(refreshed: tuple[Path, Refresh], tmp_path: Path) -> None:
    warehouse = tmp_path / "loyalty.duckdb"
    shutil.copyfile(refreshed[0], warehouse)
    clean = email_test(warehouse, tmp_path / "clean")
    assert clean.returncode == 0, clean.stdout[-3000:]
    with duckdb.connect(str(warehouse)) as connection:
        email = connection.execute("select email from staging.stg_loyalty__members limit 1").fetchall()[0][0]
        connection.execute(
            "update marts.fct_points_lots set account_id = ?"
            " where lot_event_id = (select min(lot_event_id) from marts.fct_points_lots)",
            [email],
        )
    leaked = email_test(warehouse, tmp_path / "leaked")
    assert leaked.returncode == 1
    assert "Got 1 result" in leaked.stdout
