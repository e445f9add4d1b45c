"""The DuckDB warehouse file's life cycle: work copy, publish (write-audit-publish)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb

from orchestration.settings import DUCKDB_FILE_CONFIG, Settings


def connect(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    if read_only:
        return duckdb.connect(str(path), read_only=True)
    return duckdb.connect(str(path), config=DUCKDB_FILE_CONFIG)


def _remove(path: Path) -> None:
    for stale in (path, path.with_name(path.name + ".wal")):
        stale.unlink(missing_ok=True)


def prepare_work_copy(settings: Settings) -> Path:
    """Start the work copy from the published warehouse (raw tables keep what was loaded);
    a first refresh starts from an empty file in the format DuckDB 1.x readers open."""
    work = settings.work_copy
    work.parent.mkdir(parents=True, exist_ok=True)
    _remove(work)
    if settings.warehouse.exists():
        shutil.copyfile(settings.warehouse, work)
    else:
        connect(work).close()
    return work


def publish(settings: Settings) -> Path:
    """Checkpoint the work copy and atomically put it in place of the published warehouse.
    Readers holding the old file keep reading it; new connections see the new one."""
    work = settings.work_copy
    if not work.exists():
        raise FileNotFoundError(f"no work copy at {work}: nothing to publish")
    with connect(work) as connection:
        connection.execute("checkpoint")
    wal = work.with_name(work.name + ".wal")
    if wal.exists():
        raise RuntimeError(f"{wal} still exists after a checkpoint; refusing to publish a partial file")
    os.replace(work, settings.warehouse)
    return settings.warehouse
