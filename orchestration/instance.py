"""The Dagster instance of a warehouse: run history, event log and schedules in SQLite files
under the state folder (docs/operations.md#state), or, when ``DAGSTER_HOME`` is set, the instance
it names: a deployment's, in PostgreSQL, which the webserver and daemon services share
(deploy/README.md). That one is used as it is: the CLI never writes an instance file into it.

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

import yaml
from sqlalchemy import event
from sqlalchemy.engine import Engine

from loyalty.settings import Settings, SettingsError

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
    """The Dagster instance of this warehouse (runs, event log, schedules): the one
    ``DAGSTER_HOME`` names when it is set, else the warehouse's own in the state folder, created
    with orchestration/dagster.yaml on first use. Raises :class:`SettingsError` naming
    ``DAGSTER_HOME`` when that folder holds no ``dagster.yaml``: writing the development instance
    file there would give the services, if they use that folder, SQLite storage instead of the
    deployed one."""
    import dagster as dg

    relax_sqlite_durability()
    home = settings.dagster_home
    if settings.dagster_home_env is not None:
        if not (home / "dagster.yaml").is_file():
            raise SettingsError(
                f"DAGSTER_HOME={home} holds no dagster.yaml: install deploy/dagster.yaml there "
                f"(deploy/README.md), or unset DAGSTER_HOME to use this warehouse's own instance "
                f"({settings.warehouse_dagster_home})"
            )
    else:
        home.mkdir(parents=True, exist_ok=True)
        if not (home / "dagster.yaml").exists():
            shutil.copyfile(INSTANCE_CONFIG, home / "dagster.yaml")
    return dg.DagsterInstance.from_config(str(home))


def shared_storage(home: Path) -> str | None:
    """What stores the runs of the instance in ``home`` when it is not Dagster's local SQLite
    (e.g. ``dagster_postgres.run_storage``): an instance that deployed services share
    (deploy/dagster.yaml), on which `make ui` must not start a second daemon. None for SQLite or
    when ``home`` holds no ``dagster.yaml``."""
    path = home / "dagster.yaml"
    if not path.is_file():
        return None
    config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    storage = config.get("storage")
    if isinstance(storage, dict):
        other = [kind for kind in storage if kind != "sqlite"]
        if other:
            return f"storage: {other[0]}"
    for key in ("run_storage", "event_log_storage", "schedule_storage"):
        module = (config.get(key) or {}).get("module", "")
        if module and not module.startswith("dagster._core.storage"):
            return module
    return None
