"""The Dagster instance of a warehouse: run history, event log and schedules in SQLite files
under the state folder (docs/operations.md#state).

Dagster's SQLite storage opens a connection per event and commits each one; on a file system
where a commit costs an fsync (10 ms here) a refresh of this project spent about 30 s writing
its ~700 planned-materialization and planned-check events before any step ran. The run history
is operational metadata, not the warehouse (which never depends on it), so its SQLite files are
written with ``PRAGMA synchronous=OFF``: an operating-system crash can lose the latest events
or damage the history (remove ``<warehouse>.dagster/`` to start a new one), a process crash
cannot.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine

from loyalty.settings import Settings

INSTANCE_CONFIG = Path(__file__).with_name("dagster.yaml")
_relaxed = False


def _synchronous_off(dbapi_connection, connection_record) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.execute("PRAGMA synchronous=OFF")


def relax_sqlite_durability() -> None:
    """Make every SQLite connection SQLAlchemy opens in this process skip fsync (idempotent)."""
    global _relaxed
    if not _relaxed:
        event.listen(Engine, "connect", _synchronous_off)
        _relaxed = True


def dagster_instance(settings: Settings):
    """The Dagster instance of this warehouse (runs, event log, schedules) in the state folder,
    created with orchestration/dagster.yaml on first use."""
    import dagster as dg

    relax_sqlite_durability()
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        shutil.copyfile(INSTANCE_CONFIG, home / "dagster.yaml")
    return dg.DagsterInstance.from_config(str(home))
