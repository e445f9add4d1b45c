"""Member emails never reach a mart or an audit table: the dbt tests that scan every mart and
audit column fail when one does; the quarantine publishes a rejected member's email masked."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from conftest import PROJECT_DIR, Refresh, build_database

pytestmark = pytest.mark.e2e
DBT = str(Path(sys.executable).with_name("dbt"))


def email_test(
    warehouse: Path, target_path: Path, test: str = "assert_no_member_email_in_marts"
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DBT, "test", "--select", test, "--target-path", str(target_path)],
        cwd=PROJECT_DIR,
        env={**os.environ, "LOYALTY_TARGET": "duckdb", "LOYALTY_WAREHOUSE": str(warehouse)},
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_an_email_in_any_mart_column_fails_the_scan(refreshed: tuple[Path, Refresh], tmp_path: Path) -> None:
    # the scan reads the members' emails from staging: it runs on (a copy of) the build database
    warehouse = tmp_path / "loyalty.duckdb"
    shutil.copyfile(build_database(refreshed[0]), warehouse)
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


def test_the_quarantine_masks_emails_and_the_audit_scan_fails_on_one(
    refreshed: tuple[Path, Refresh], tmp_path: Path
) -> None:
    with duckdb.connect(str(refreshed[0]), read_only=True) as published:
        raw_rows = [
            row[0]
            for row in published.execute(
                "select raw_row from audit.rejected_source_rows where source = 'members'"
            ).fetchall()
        ]
    warehouse = tmp_path / "loyalty.duckdb"
    shutil.copyfile(build_database(refreshed[0]), warehouse)
    with duckdb.connect(str(warehouse)) as connection:
        delivered = {row[0] for row in connection.execute("select email from raw.members").fetchall() if row[0]}
    masked = [raw for raw in raw_rows if '"email":"***@' in raw]
    assert masked, raw_rows  # the generator rejects member rows that carry an email
    assert not [raw for raw in raw_rows for email in delivered if email in raw]
    clean = email_test(warehouse, tmp_path / "clean", "assert_no_member_email_in_audit")
    assert clean.returncode == 0, clean.stdout[-3000:]
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute(
            "update audit.rejected_source_rows set raw_row = replace(raw_row, '***@', 'chloe.123@')"
            " where source = 'members'"
        )
    leaked = email_test(warehouse, tmp_path / "leaked", "assert_no_member_email_in_audit")
    assert leaked.returncode == 1
    assert "Got 1 result" in leaked.stdout
