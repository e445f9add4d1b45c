"""Incremental refresh (docs/operations.md#incremental-refresh): one generated data set
delivered in several batches — months out of order (events before their member, reverses
before the event they reverse), a re-delivered file, a conflicting row, new month ends in
between — gives, row for row, the marts a full rebuild of the same raw tables gives (on
PostgreSQL: test_incremental_postgres.py, its own file so that pytest-xdist runs the two on
different workers). A refresh that fails its integrity checks leaves the build state as it was, and
a refresh with nothing new stands down."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import duckdb
import pytest

from loyalty.settings import load_settings
from loyalty.warehouse import incremental_tables
from tools.compare_engines import checksums

from conftest import Refresh, run_refresh

pytestmark = pytest.mark.e2e

# a tolerance that is not a number breaks the reconciliation models: an integrity failure
BROKEN_VARS = json.dumps({"wallet_tolerance_overrides": {"EUR": {"in_balance": "'x'", "minor": 10}}})


def batch_of(path: Path) -> int:
    """Batch 1 and 2: the first months' files split by a hash of the name (so a month's ledger
    events may come before its members, a reverse before its event); batch 3: the last two."""
    if path.stem[:7] in {"2025-07", "2025-08"}:
        return 3
    return 1 + int(hashlib.md5(path.name.encode()).hexdigest(), 16) % 2


def deliver(source: Path, landing: Path, batch: int) -> None:
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        if batch_of(path) == batch:
            target = landing / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    if batch == 3:
        # a re-delivered file (the same bytes under another name) and a conflicting row
        shutil.copyfile(source / "ledger_events" / "2024-02.csv", landing / "ledger_events" / "2024-02-resent.csv")
        with duckdb.connect() as connection:
            event_id, account_id = connection.execute(
                f"select event_id, account_id from read_parquet('{source / 'ledger_events' / '2024-03.parquet'}') "
                "where event_type = 'earn' limit 1"
            ).fetchone()
        (landing / "ledger_events" / "2025-08-conflict.csv").write_text(
            "event_id,account_id,event_type,points,occurred_at,recorded_at,order_id,reverses_event_id,source\n"
            f"{event_id},{account_id},earn,999,2024-03-05T10:00:00Z,2024-03-05T10:00:00Z,,,pos\n",
            encoding="utf-8",
        )


def published_checksums(warehouse: Path) -> dict:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return checksums(connection)


def build_state(build: Path, manifest: Path) -> dict[str, tuple[int, int]]:
    """Row count and order-independent hash of the state a refresh keeps: raw and every
    incremental model (staging base models, the lots replay, the incentive histories)."""
    incremental = set(incremental_tables(manifest))
    assert ("intermediate", "int_points_lots_replayed") in incremental
    with duckdb.connect(str(build), read_only=True) as connection:
        tables = [
            (schema, table)
            for schema, table in connection.execute(
                "select table_schema, table_name from information_schema.tables"
            ).fetchall()
            if schema == "raw" or (schema, table) in incremental
        ]
        return {
            f"{schema}.{table}": connection.execute(
                f'select count(*), coalesce(sum(hash(t)), 0) from "{schema}"."{table}" as t'
            ).fetchone()
            for schema, table in tables
        }


def ok(result: Refresh) -> None:
    assert result.returncode in (0, 1), result.stdout[-3000:] + result.stderr[-3000:]


def test_batches_with_a_failed_refresh_between_give_the_marts_of_a_full_rebuild(
    small_data: tuple[Path, Path], tmp_path: Path
) -> None:
    source = small_data[0]
    landing, warehouse, state = tmp_path / "landing", tmp_path / "published" / "loyalty.duckdb", tmp_path / "state"
    env = {"LOYALTY_STATE_DIR": str(state)}
    build = state / "loyalty.duckdb.build"
    manifest = load_settings({"LOYALTY_WAREHOUSE": str(warehouse), **env}).manifest_dir / "manifest.json"

    deliver(source, landing, 1)
    ok(run_refresh(landing, warehouse, env=env))
    after_first = build_state(build, manifest)
    published_first = published_checksums(warehouse)

    deliver(source, landing, 2)
    failed = run_refresh(landing, warehouse, env={**env, "LOYALTY_DBT_VARS": BROKEN_VARS})
    assert failed.returncode == 2, failed.stdout[-3000:]
    assert build_state(build, manifest) == after_first, (
        "a failed refresh leaves raw and the incremental state as they were"
    )
    assert published_checksums(warehouse) == published_first
    with duckdb.connect(str(build), read_only=True) as connection:
        undo_logs = connection.execute(
            "select table_name from information_schema.tables where table_name like '%\\_\\_undo%' escape '\\'"
        ).fetchall()
    assert not undo_logs, f"the rollback leaves no undo log behind: {undo_logs}"

    ok(run_refresh(landing, warehouse, env=env))  # the retry loads batch 2 again
    deliver(source, landing, 3)
    ok(run_refresh(landing, warehouse, env=env))
    incremental = published_checksums(warehouse)

    unchanged = run_refresh(landing, warehouse, env=env)
    ok(unchanged)
    assert "nothing new" in unchanged.stdout
    assert published_checksums(warehouse) == incremental

    # The full rebuild to compare with: a build state computed by another version of the dbt
    # project is rebuilt in full, the same dbt build as `refresh --full-refresh`
    # (orchestration/defs/landing/assets.py turns both into journal.full_refresh).
    journal_path = state / "loyalty.duckdb.refresh.json"
    journal = json.loads(journal_path.read_text())
    assert not journal["full_refresh"] and journal["project"], "an incremental refresh notes its project"
    journal_path.write_text(json.dumps({**journal, "project": "another version of the project"}))
    rebuilt = run_refresh(landing, warehouse, env=env)  # no new file: the rebuild alone makes it build
    ok(rebuilt)
    assert json.loads(journal_path.read_text())["full_refresh"], "a new project version rebuilds in full"
    assert "every incremental model was rebuilt in full" in rebuilt.stdout
    full = published_checksums(warehouse)
    assert set(full) == set(incremental)
    differing = [mart for mart in full if full[mart] != incremental[mart]]
    assert not differing, f"incremental and full builds differ in {differing}"
    with duckdb.connect(str(build), read_only=True) as connection:
        rejected = dict(
            connection.execute(
                "select reason, count(*) from staging.base_loyalty__ledger_events where row_status = 'rejected' "
                "group by reason"
            ).fetchall()
        )
    assert rejected.get("conflicting_duplicate", 0) >= 1
    with duckdb.connect(str(build), read_only=True) as connection:
        replayed = connection.execute(
            "select count(distinct account_id) from intermediate.int_points_lots_replayed"
        ).fetchone()[0]
    assert replayed > 0, "the data set has accounts with reinstated points, so the replay is exercised"
