"""One writer per warehouse file.

DuckDB refuses a second writer with "could not set lock on file"; two refreshes must not
even try. Every path that writes a warehouse (the `refresh` command, a Dagster run started
from the UI or a schedule) takes this OS-level lock beside the file first. It is held by the
process, so a crashed refresh releases it when it dies. Dagster runs also queue on the
`warehouse_refresh` concurrency key (see dagster.yaml written by `make install`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock, Timeout

from loyalty.settings import Settings


class WarehouseBusy(RuntimeError):
    """Another process is writing the warehouse."""


def lock_path(settings: Settings) -> Path:
    return settings.lock_path


def _owner_path(settings: Settings) -> Path:
    return settings.lock_path.with_name(settings.lock_path.name + ".owner")


# Strong references: filelock releases a lock whose object is garbage-collected.
_LOCKS: dict[Path, FileLock] = {}


def warehouse_lock(settings: Settings) -> FileLock:
    """The process-wide lock object of this warehouse (re-entrant within the process)."""
    path = lock_path(settings)
    if path not in _LOCKS:
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        _LOCKS[path] = FileLock(str(path), thread_local=False)
    return _LOCKS[path]


def acquire(settings: Settings, wait_seconds: float = 0) -> FileLock:
    lock = warehouse_lock(settings)
    try:
        lock.acquire(timeout=wait_seconds)
    except Timeout as error:
        owner = _owner_path(settings)
        holder = owner.read_text().strip() if owner.exists() else "unknown process"
        raise WarehouseBusy(
            f"another refresh is writing {settings.warehouse} ({holder}); "
            f"refused after waiting {wait_seconds:g} s. Retry later or pass --wait SECONDS."
        ) from error
    if lock.lock_counter == 1:
        started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        _owner_path(settings).write_text(f"pid {os.getpid()}, since {started}\n")
    return lock


@contextmanager
def holding(settings: Settings, wait_seconds: float = 0) -> Iterator[None]:
    lock = acquire(settings, wait_seconds)
    try:
        yield
    finally:
        lock.release()
