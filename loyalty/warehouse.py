"""Where a refresh builds and how it publishes (write-audit-publish), per engine.

* **DuckDB**: the refresh builds a work copy of the warehouse file (``<file>.work``) and
  publishes it with ``os.replace``: readers holding the old file keep reading it, new readers
  see the new one.
* **PostgreSQL**: the loader commits into ``raw`` (one transaction per file, never swapped);
  dbt builds every other schema under a build name (``marts__build`` …, through
  ``generate_schema_name``), and publishing renames the build schemas over the published ones
  in one transaction. A BI query running at that moment finishes on the old tables; the next
  one sees the new ones; an integrity failure leaves the published schemas untouched.

Everything outside the engine (work copy, lock, alert queue, incentive journal, report, dbt
artifacts) lives in the state folder, ``LOYALTY_STATE_DIR`` (docs/operations.md#state).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from loyalty.settings import DUCKDB_FILE_CONFIG, Settings

# The dbt schemas a PostgreSQL refresh rebuilds and publishes together (raw is the loader's).
PUBLISHED_SCHEMAS = ("program", "staging", "audit", "intermediate", "marts", "findings")
BUILD_SUFFIX = "__build"
# Tables in published schemas that no dbt model builds: they carry over from one publish to the next.
CARRIED_OVER = ("audit.alerts",)


def connect(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    if read_only:
        return duckdb.connect(str(path), read_only=True)
    return duckdb.connect(str(path), config=DUCKDB_FILE_CONFIG)


def pg_conninfo(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """libpq's PG* variables with the defaults profiles.yml uses (docs/operations.md#settings)."""
    env = os.environ if environ is None else environ
    info: dict[str, Any] = {
        "host": env.get("PGHOST", "127.0.0.1"),
        "port": int(env.get("PGPORT", "5432")),
        "user": env.get("PGUSER", "postgres"),
        "dbname": env.get("PGDATABASE", "loyalty"),
    }
    if env.get("PGPASSWORD"):
        info["password"] = env["PGPASSWORD"]
    return info


def pg_connect(autocommit: bool = True, **overrides: Any):
    import psycopg

    return psycopg.connect(**{**pg_conninfo(), **overrides}, autocommit=autocommit)


def execute(connection, sql: str, parameters: list | None = None) -> list[tuple]:
    """Run one statement on a DuckDB or a psycopg connection (``?`` placeholders) and fetch
    whatever it returns."""
    if isinstance(connection, duckdb.DuckDBPyConnection):
        return connection.execute(sql, parameters).fetchall()
    cursor = PgQueries(connection).execute(sql, parameters)
    return cursor.fetchall() if cursor.description else []


class PgQueries:
    """A psycopg connection that answers ``execute(sql, params)`` like a DuckDB connection
    (``?`` placeholders, returns a cursor), so read-only code serves both engines."""

    def __init__(self, connection) -> None:
        self.connection = connection

    def execute(self, sql: str, parameters: list | None = None):
        cursor = self.connection.cursor()
        if parameters is None:
            cursor.execute(sql)
        else:
            cursor.execute(sql.replace("%", "%%").replace("?", "%s"), parameters)
        return cursor


class Warehouse:
    """One engine's build-and-publish life cycle for a refresh."""

    engine = ""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def describe(self) -> str:
        raise NotImplementedError

    def exists(self) -> bool:
        """A published warehouse exists."""
        raise NotImplementedError

    def prepare(self) -> None:
        """Start a build from the published warehouse (raw keeps what was loaded)."""
        raise NotImplementedError

    def dbt_vars(self) -> dict[str, str]:
        """dbt vars that point dbt commands at the build (profiles.yml, generate_schema_name)."""
        return self.settings.dbt_cli_vars()

    @contextmanager
    def build_connection(self) -> Iterator[Any]:
        """A read-write connection to the build (raw tables live here)."""
        raise NotImplementedError
        yield

    @contextmanager
    def reader(self) -> Iterator[Any]:
        """Read-only queries on the build before publishing (DuckDB) or on what was just
        published (PostgreSQL); qualified names (``marts.x``) as on the published warehouse."""
        raise NotImplementedError
        yield

    @property
    def reads_after_publish(self) -> bool:
        return False

    def publish(self) -> str:
        raise NotImplementedError


class DuckDBWarehouse(Warehouse):
    engine = "duckdb"

    def describe(self) -> str:
        return str(self.settings.warehouse)

    def exists(self) -> bool:
        return self.settings.warehouse.exists()

    def prepare(self) -> None:
        prepare_work_copy(self.settings)

    def dbt_vars(self) -> dict[str, str]:
        return self.settings.dbt_cli_vars(build_database=self.settings.work_copy)

    @contextmanager
    def build_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with connect(self.settings.work_copy) as connection:
            yield connection

    @contextmanager
    def reader(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with connect(self.settings.work_copy, read_only=True) as connection:
            yield connection

    def publish(self) -> str:
        return str(publish(self.settings))


class PostgresWarehouse(Warehouse):
    engine = "postgres"

    def describe(self) -> str:
        info = pg_conninfo()
        return f"postgresql://{info['user']}@{info['host']}:{info['port']}/{info['dbname']} (schema marts)"

    def exists(self) -> bool:
        with pg_connect() as connection:
            row = connection.execute(
                "select count(*) from information_schema.schemata where schema_name = 'marts'"
            ).fetchone()
        return bool(row and row[0])

    def prepare(self) -> None:
        """Drop what a failed build left behind, then copy the incremental models' tables (the
        append-only histories) into the build schemas, so that dbt appends to them there as it
        does in a DuckDB work copy; every other model is rebuilt from scratch."""
        with pg_connect(autocommit=False) as connection:
            for schema in PUBLISHED_SCHEMAS:
                connection.execute(f'drop schema if exists "{schema}{BUILD_SUFFIX}" cascade')
            for schema, table in incremental_tables(self.settings.manifest_dir / "manifest.json"):
                exists = connection.execute(
                    "select count(*) from information_schema.tables where table_schema = %s and table_name = %s",
                    [schema, table],
                ).fetchone()[0]
                if exists:
                    connection.execute(f'create schema if not exists "{schema}{BUILD_SUFFIX}"')
                    connection.execute(f'create table "{schema}{BUILD_SUFFIX}"."{table}" as table "{schema}"."{table}"')
            connection.commit()

    def dbt_vars(self) -> dict[str, str]:
        return self.settings.dbt_cli_vars(schema_suffix=BUILD_SUFFIX)

    @contextmanager
    def build_connection(self) -> Iterator[Any]:
        with pg_connect() as connection:
            yield connection

    @property
    def reads_after_publish(self) -> bool:
        return True

    @contextmanager
    def reader(self) -> Iterator[PgQueries]:
        with pg_connect() as connection:
            connection.read_only = True
            yield PgQueries(connection)

    def publish(self) -> str:
        """Rename every build schema over its published one, in one transaction."""
        with pg_connect(autocommit=False) as connection:
            built = {
                name
                for (name,) in connection.execute(
                    "select schema_name from information_schema.schemata where schema_name like %s",
                    [f"%{BUILD_SUFFIX}"],
                ).fetchall()
            }
            missing = [schema for schema in ("marts", "audit") if f"{schema}{BUILD_SUFFIX}" not in built]
            if missing:
                raise RuntimeError(f"no build schema(s) {', '.join(missing)}{BUILD_SUFFIX}: nothing to publish")
            for table in CARRIED_OVER:
                schema, name = table.split(".")
                exists = connection.execute(
                    "select count(*) from information_schema.tables where table_schema = %s and table_name = %s",
                    [schema, name],
                ).fetchone()[0]
                if exists:
                    connection.execute(f'create table "{schema}{BUILD_SUFFIX}"."{name}" as table "{schema}"."{name}"')
            for schema in PUBLISHED_SCHEMAS:
                if f"{schema}{BUILD_SUFFIX}" in built:
                    connection.execute(f'drop schema if exists "{schema}" cascade')
                    connection.execute(f'alter schema "{schema}{BUILD_SUFFIX}" rename to "{schema}"')
            connection.commit()
        return self.describe()


def incremental_tables(manifest_path: Path) -> list[tuple[str, str]]:
    """(published schema, table) of every incremental model, from the dbt manifest the
    orchestration prepared (orchestration/defs/dbt/project.py). Raises FileNotFoundError
    when there is none."""
    if not manifest_path.exists():
        raise FileNotFoundError(f"no dbt manifest at {manifest_path}: the dbt project was not parsed")
    nodes = json.loads(manifest_path.read_text())["nodes"].values()
    return sorted(
        (node["config"]["schema"] or "public", node["alias"])
        for node in nodes
        if node["resource_type"] == "model" and node["config"].get("materialized") == "incremental"
    )


def open_warehouse(settings: Settings) -> Warehouse:
    if settings.target == "postgres":
        return PostgresWarehouse(settings)
    if settings.target == "duckdb":
        return DuckDBWarehouse(settings)
    raise ValueError(
        f"LOYALTY_TARGET={settings.target}: refresh runs on duckdb and postgres; "
        "the spark target builds with `make test-spark` (dbt only)"
    )


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
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    if work.stat().st_dev == settings.warehouse.parent.stat().st_dev:
        os.replace(work, settings.warehouse)
    else:
        # the state folder is on another file system: copy beside the published file first, so
        # the replace itself stays one atomic rename
        staged = settings.warehouse.with_name(f".{settings.warehouse.name}.publishing")
        shutil.copyfile(work, staged)
        os.replace(staged, settings.warehouse)
        work.unlink()
    return settings.warehouse
