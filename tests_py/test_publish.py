"""Write-audit-publish: readers of the published warehouse are never blocked nor shown a
half-built warehouse, and a refresh that fails its integrity checks publishes nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from conftest import Refresh, copy_warehouse, run_refresh, table_fingerprints

pytestmark = pytest.mark.e2e


def test_failed_integrity_check_leaves_the_published_warehouse_exactly_as_it_was(
    refreshed: tuple[Path, Refresh], small_data: tuple[Path, Path], tmp_path: Path
) -> None:
    warehouse, _ = refreshed
    copy = copy_warehouse(warehouse, tmp_path / "copy")
    before = table_fingerprints(copy)
    # the report and the workbook of the last publish stay too (copy_warehouse copies the files
    # named after the warehouse only)
    published_files = {}
    for name in ("reconciliation_report.html", "month_end_rollforwards.xlsx"):
        shutil.copyfile(warehouse.with_name(name), copy.with_name(name))
        published_files[name] = copy.with_name(name).read_bytes()
    # a tolerance that is not a number breaks the reconciliation models: an integrity failure
    broken = json.dumps({"wallet_tolerance_overrides": {"EUR": {"in_balance": "'x'", "minor": 10}}})
    result = run_refresh(small_data[0], copy, env={"LOYALTY_DBT_VARS": broken})
    assert result.returncode == 2, result.stdout[-3000:]
    assert "NOT published" in result.stdout
    assert "integrity FAILED" in result.stdout or "model ERROR" in result.stdout
    assert table_fingerprints(copy) == before
    assert {name: copy.with_name(name).read_bytes() for name in published_files} == published_files


def test_a_reader_during_a_refresh_keeps_a_consistent_view_and_new_readers_see_the_new_one(
    refreshed: tuple[Path, Refresh], small_data: tuple[Path, Path], tmp_path: Path
) -> None:
    warehouse, _ = refreshed
    copy = copy_warehouse(warehouse, tmp_path / "copy")
    landing = tmp_path / "landing"
    shutil.copytree(small_data[0], landing)
    late = landing / "ledger_events" / "zz-late.csv"
    account = "A000001"
    late.write_text(
        "event_id,account_id,event_type,points,occurred_at,recorded_at,order_id,reverses_event_id,source\n"
        f"EXTRA-1,{account},correct,77,2030-01-01T00:00:00Z,2030-01-01T00:00:01Z,,,manual\n",
        encoding="utf-8",
    )
    count_sql = "select count(*) from marts.fct_account_ledger_timeline"
    with duckdb.connect(str(copy), read_only=True) as reader:
        before = reader.execute(count_sql).fetchall()[0][0]
        result = run_refresh(landing, copy)  # not blocked by the open reader
        assert result.returncode in (0, 1), result.stdout[-3000:] + result.stderr[-3000:]
        assert reader.execute(count_sql).fetchall()[0][0] == before  # the old, complete warehouse
    with duckdb.connect(str(copy), read_only=True) as new_reader:
        assert new_reader.execute(count_sql).fetchall()[0][0] == before + 1
