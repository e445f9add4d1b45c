"""Where a refresh builds and how it publishes (write-audit-publish), per engine.

* **DuckDB**: the refresh loads and builds in the build database under the state folder
  (``<warehouse>.build``: raw, staging, intermediate, incremental state, marts as built), which
  is never copied whole; publishing writes the marts and the masked audit into a new file
  beside the published one and puts it in place with ``os.replace``: readers holding the old
  file keep reading it, new readers see the new one.
* **PostgreSQL**: the loader commits into ``raw`` (one transaction per file, never swapped);
  dbt builds every other schema under a build name (``marts__build`` …, through
  ``generate_schema_name``), and publishing renames the build schemas over the published ones
  in one transaction. A BI query running at that moment finishes on the old tables; the next
  one sees the new ones; an integrity failure leaves the published schemas untouched.

Everything outside the engine (work copy, lock, alert queue, incentive journal, report, dbt
artifacts) lives in the state folder, ``LOYALTY_STATE_DIR`` (docs/operations.md#state).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from loyalty.failpoints import failpoint
from loyalty.settings import DUCKDB_FILE_CONFIG, PROJECT_DIR, Settings

# The dbt schemas a PostgreSQL refresh rebuilds and publishes together (raw is the loader's).
PUBLISHED_SCHEMAS = ("program", "staging", "audit", "intermediate", "marts", "findings")
BUILD_SUFFIX = "__build"
# Tables in published schemas that no dbt model builds: they carry over from one publish to the next.
CARRIED_OVER = ("audit.alerts",)
# What the published DuckDB file holds: what BI may read, no personal data (docs/operations.md#state):
# the marts, the masked audit, and the failing rows of the reconciliation findings (tests on marts)
# that alerts point at.
PUBLISHED_FILE_SCHEMAS = ("marts", "audit", "findings")
# Incremental models in these schemas are built in copies PostgreSQL swaps in, never in place.
SWAPPED_SCHEMAS = ("marts", "audit")


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
        """Make the build database ready (engine-specific part of :meth:`begin`)."""
        raise NotImplementedError

    def begin(self, full_refresh: bool = False) -> BuildJournal | None:
        """Start a refresh: roll back what an unfinished earlier one left in the build state,
        prepare the build and open the refresh journal (docs/operations.md#rollback). Returns
        the journal of the previous refresh (None before the first)."""
        self.prepare()
        journal = BuildJournal.read(self.settings)
        if journal is not None and journal.status == "building" and self.swapped_before_kill(journal):
            self.finish_killed_publish(journal)
        elif journal is not None and journal.status == "building":
            rollback_build(self, journal)
        elif journal is not None and journal.status in FINAL_STATUSES:
            drop_undo_tables(self)
        with self.build_connection() as connection:
            before = existing_incremental_tables(connection, self.settings)
        BuildJournal(
            status="building",
            full_refresh=full_refresh,
            incremental_before=before,
            fingerprint=journal.fingerprint if journal else "",
            exit_code=journal.exit_code if journal else None,
            project=journal.project if journal else "",
        ).write(self.settings)
        return journal

    def set_fingerprint(self, fingerprint: str, unchanged: bool) -> None:
        """Note what the refresh builds from; ``unchanged``: nothing new since the last
        publish, so the build and publish steps stand down (status ``unchanged``)."""
        journal = BuildJournal.read(self.settings)
        if journal is None:
            return
        if unchanged:
            journal.status = "unchanged"
        else:
            journal.fingerprint = fingerprint
        journal.write(self.settings)

    def record_load(self, load_id: str) -> None:
        """Note the loader's batch in the refresh journal (what a rollback deletes from raw)."""
        journal = BuildJournal.read(self.settings)
        if journal is not None and journal.status == "building":
            journal.load_ids.append(load_id)
            journal.write(self.settings)

    def rollback(self) -> bool:
        """Put the build state back as it was before the refresh in progress; False when no
        refresh was in progress."""
        journal = BuildJournal.read(self.settings)
        if journal is None or journal.status != "building":
            return False
        rollback_build(self, journal)
        return True

    def swapped_before_kill(self, journal: BuildJournal) -> bool:
        """The unfinished refresh of ``journal`` had already put its new file in place: the
        published file is the one it noted just before the swap (DuckDB only; a PostgreSQL
        refresh killed after its swap transaction is rolled back and rebuilt)."""
        if journal.swap_inode is None or not self.settings.warehouse.exists():
            return False
        return self.settings.warehouse.stat().st_ino == journal.swap_inode

    def finish_killed_publish(self, journal: BuildJournal) -> None:
        """Finish a refresh killed after its publish swap (docs/operations.md#rollback): its
        build state and published file agree, so its changes are made final as its own commit
        would have (undo logs dropped, journal ``published`` with its exit code) and the report
        and the roll-forwards workbook it wrote are put in place; nothing is rebuilt."""
        for draft, final in self.settings.publish_drafts():
            if draft.exists():
                os.replace(draft, final)
        journal.status = "published"
        journal.exit_code = journal.pending_exit_code if journal.pending_exit_code is not None else journal.exit_code
        journal.project = journal.pending_project or journal.project
        journal.swap_inode = journal.pending_exit_code = None
        journal.pending_project = ""
        journal.write(self.settings)
        drop_undo_tables(self)

    def note_pending_exit_code(self, exit_code: int | None) -> None:
        """Note the exit code of the refresh in progress before it publishes (it stands if the
        refresh is killed after its swap)."""
        journal = BuildJournal.read(self.settings)
        if journal is not None and journal.status == "building":
            journal.pending_exit_code = exit_code
            journal.pending_project = project_fingerprint(self.settings)
            journal.write(self.settings)

    def commit(self, exit_code: int | None = None) -> None:
        """After a publish: the refresh's changes are final (undo tables dropped); its exit
        code stands for refreshes that find nothing new."""
        journal = BuildJournal.read(self.settings)
        if journal is not None:
            journal.status = "published"
            if exit_code is not None:
                journal.exit_code = exit_code
            # a refresh noted its project before publishing; an incentive close, which builds
            # a selection only, leaves the build state's project as it was
            journal.project = journal.pending_project or journal.project
            journal.swap_inode = journal.pending_exit_code = None
            journal.pending_project = ""
            journal.write(self.settings)
        drop_undo_tables(self)

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

    def rollback_tables(self) -> list[tuple[str, str]]:
        """(schema, table) of the incremental models whose state a rollback restores: those
        built in place (not in build schemas a failed refresh discards anyway)."""
        manifest = self.settings.manifest_dir / "manifest.json"
        return incremental_tables(manifest) if manifest.exists() else []

    def publish(self) -> str:
        raise NotImplementedError


class DuckDBWarehouse(Warehouse):
    engine = "duckdb"

    def describe(self) -> str:
        return str(self.settings.warehouse)

    def exists(self) -> bool:
        """A published file and the build database it was published from."""
        return self.settings.warehouse.exists() and self.settings.build_database.exists()

    def prepare(self) -> None:
        prepare_build_database(self.settings)

    def dbt_vars(self) -> dict[str, str]:
        return self.settings.dbt_cli_vars(build_database=self.settings.build_database)

    @contextmanager
    def build_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with duckdb.connect(str(self.settings.build_database), config=self.settings.duckdb_config()) as connection:
            yield connection

    @contextmanager
    def reader(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with duckdb.connect(str(self.settings.build_database), read_only=True) as connection:
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
        """Drop what a failed build left behind, then copy the incremental models of the schemas
        BI reads (``SWAPPED_SCHEMAS``: small append-only histories) into the build
        schemas, so that dbt appends to them there and readers never see a half-built mart.
        The other incremental models (staging) keep their state in place
        (macros/sql/generate_schema_name.sql); every other model is rebuilt from scratch."""
        with pg_connect(autocommit=False) as connection:
            for schema in PUBLISHED_SCHEMAS:
                connection.execute(f'drop schema if exists "{schema}{BUILD_SUFFIX}" cascade')
            for schema, table in self.swapped_incremental_tables():
                if _exists(connection, schema, table):
                    connection.execute(f'create schema if not exists "{schema}{BUILD_SUFFIX}"')
                    connection.execute(f'create table "{schema}{BUILD_SUFFIX}"."{table}" as table "{schema}"."{table}"')
            connection.commit()

    def swapped_incremental_tables(self) -> list[tuple[str, str]]:
        manifest = self.settings.manifest_dir / "manifest.json"
        return [(schema, table) for schema, table in incremental_tables(manifest) if schema in SWAPPED_SCHEMAS]

    def in_place_incremental_tables(self) -> list[tuple[str, str]]:
        manifest = self.settings.manifest_dir / "manifest.json"
        return [(schema, table) for schema, table in incremental_tables(manifest) if schema not in SWAPPED_SCHEMAS]

    def dbt_vars(self) -> dict[str, str]:
        return self.settings.dbt_cli_vars(schema_suffix=BUILD_SUFFIX)

    @contextmanager
    def build_connection(self) -> Iterator[Any]:
        with pg_connect() as connection:
            yield connection

    @property
    def reads_after_publish(self) -> bool:
        return True

    def rollback_tables(self) -> list[tuple[str, str]]:
        return self.in_place_incremental_tables() if (self.settings.manifest_dir / "manifest.json").exists() else []

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
                if _exists(connection, schema, name):
                    connection.execute(f'create table "{schema}{BUILD_SUFFIX}"."{name}" as table "{schema}"."{name}"')
            for schema, table in self.swapped_incremental_tables():
                # BI never sees an undo log: these builds are final once published
                for name in (f"{table}__undo", f"{table}__undo_keys"):
                    connection.execute(f'drop table if exists "{schema}{BUILD_SUFFIX}"."{name}"')
            for schema, table in self.in_place_incremental_tables():
                # incremental state kept in place moves into the schema that replaces its own
                for name in (table, f"{table}__undo", f"{table}__undo_keys"):
                    if _exists(connection, schema, name):
                        connection.execute(f'create schema if not exists "{schema}{BUILD_SUFFIX}"')
                        connection.execute(f'alter table "{schema}"."{name}" set schema "{schema}{BUILD_SUFFIX}"')
                        built.add(f"{schema}{BUILD_SUFFIX}")
            for schema in PUBLISHED_SCHEMAS:
                if f"{schema}{BUILD_SUFFIX}" in built:
                    connection.execute(f'drop schema if exists "{schema}" cascade')
                    connection.execute(f'alter schema "{schema}{BUILD_SUFFIX}" rename to "{schema}"')
            failpoint("pg.swap")
            connection.commit()
        return self.describe()


@dataclass
class BuildJournal:
    """What a refresh changed in the build state, kept in ``Settings.refresh_journal`` so that
    a failed or interrupted refresh can be rolled back (docs/operations.md#rollback).

    status: ``building`` (changes not final), ``published``, ``unchanged`` (nothing new: the
    last publish stands) or ``rolled_back``;
    load_ids: the loader batches this refresh added to raw;
    incremental_before: ``schema.table`` of the incremental models that existed when it began;
    full_refresh: it rebuilt the incremental models from scratch (no undo log);
    fingerprint: what the last publish was built from besides raw (build_fingerprint);
    project: the ``project_fingerprint`` the build state's incremental models were computed
    with (set when a refresh publishes, carried over by everything else: a failed refresh, an
    unchanged one, an incentive close);
    pending_project: the one of the refresh in progress, noted before it publishes;
    exit_code: the command's exit code of the last publish;
    swap_inode: (DuckDB) the inode of the new published file, noted just before the swap that
    puts it in place, so that a refresh killed after the swap is known to have published;
    pending_exit_code: the exit code of the refresh in progress, noted before it publishes."""

    status: str
    full_refresh: bool = False
    incremental_before: list[str] = field(default_factory=list)
    load_ids: list[str] = field(default_factory=list)
    fingerprint: str = ""
    exit_code: int | None = None
    swap_inode: int | None = None
    pending_exit_code: int | None = None
    project: str = ""
    pending_project: str = ""

    @classmethod
    def read(cls, settings: Settings) -> BuildJournal | None:
        path = settings.refresh_journal
        if not path.exists():
            return None
        try:
            return cls(**json.loads(path.read_text()))
        except (json.JSONDecodeError, TypeError) as error:
            raise RuntimeError(f"{path} is not a refresh journal ({error}); remove it to rebuild in full") from error

    def write(self, settings: Settings) -> None:
        path = settings.refresh_journal
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(path.name + ".draft")
        draft.write_text(json.dumps(asdict(self), indent=2))
        if self.status == "published":
            failpoint("journal.published")
        os.replace(draft, path)


FINAL_STATUSES = ("published", "unchanged")
# the files of the dbt project: a change to any of them changes what a build does
DBT_PROJECT_INPUTS = ("dbt_project.yml", "profiles.yml", "models", "macros", "seeds", "tests")


def project_digest(project_dir: Path = PROJECT_DIR) -> str:
    """SHA-256 of the dbt project's files (``DBT_PROJECT_INPUTS``: names and contents), so that
    a parse made again for another build path or thread count (orchestration/defs/dbt/project.py)
    is not taken for a change of the project."""
    digest = hashlib.sha256()
    for name in DBT_PROJECT_INPUTS:
        path = project_dir / name
        files = [path] if path.is_file() else sorted(child for child in path.rglob("*") if child.is_file())
        for file in files:
            digest.update(str(file.relative_to(project_dir)).encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


def project_fingerprint(settings: Settings) -> str:
    """What the incremental models' rows were computed by: the dbt project's files and the
    engine. A build state made by another one is rebuilt in full at the next refresh
    (docs/operations.md#incremental-refresh): an incremental model keeps rows an earlier version
    of its SQL, a macro or a seed computed. The dbt vars are not part of it: the incremental
    models that read one (the as-of) compute again what it changes, and a refresh run with other
    vars that fails must leave the build state as it was, which a rebuild in full cannot."""
    digest = hashlib.sha256()
    digest.update(project_digest().encode())
    digest.update(settings.target.encode())
    return digest.hexdigest()


def build_fingerprint(settings: Settings) -> str:
    """What a build depends on besides the raw tables: the project (``project_fingerprint``),
    the dbt vars and the incentive actions journal. Two refreshes with equal fingerprints and no
    new landing file build the same marts."""
    digest = hashlib.sha256()
    digest.update(project_fingerprint(settings).encode())
    digest.update(json.dumps(settings.dbt_vars, sort_keys=True, default=str).encode())
    if settings.incentive_journal.exists():
        digest.update(settings.incentive_journal.read_bytes())
    return digest.hexdigest()


def _exists(connection, schema: str, table: str) -> bool:
    rows = execute(
        connection,
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    )
    return bool(rows[0][0])


def existing_incremental_tables(connection, settings: Settings) -> list[str]:
    """``schema.table`` of the incremental models the build holds (none before the first parse)."""
    manifest = settings.manifest_dir / "manifest.json"
    if not manifest.exists():
        return []
    return [f"{schema}.{table}" for schema, table in incremental_tables(manifest) if _exists(connection, schema, table)]


def rollback_build(warehouse: Warehouse, journal: BuildJournal) -> None:
    """Undo a refresh that did not publish: delete the raw rows and load-log entries of its
    load batches (their files count as new again) and restore each incremental model from its
    undo log; an incremental model the refresh created or rebuilt in full is dropped, so the
    next refresh rebuilds it from raw."""
    with warehouse.build_connection() as connection:
        for load_id in journal.load_ids:
            if _exists(connection, "raw", "load_log"):
                for (source,) in execute(
                    connection, "select distinct source from raw.load_log where load_id = ?", [load_id]
                ):
                    if _exists(connection, "raw", source):
                        execute(connection, f'delete from raw."{source}" where _load_id = ?', [load_id])
                execute(connection, "delete from raw.load_log where load_id = ?", [load_id])
        manifest = warehouse.settings.manifest_dir / "manifest.json"
        # histories (full_refresh disabled) are never rebuilt: a --full-refresh that failed
        # restores them from their undo logs like any refresh
        histories = set(incremental_tables(manifest, histories_only=True)) if manifest.exists() else set()
        for schema, table in warehouse.rollback_tables():
            name = f"{schema}.{table}"
            if not _exists(connection, schema, table):
                continue
            rebuilt = journal.full_refresh and (schema, table) not in histories
            if rebuilt or name not in journal.incremental_before:
                execute(connection, f'drop table "{schema}"."{table}"')
            elif _exists(connection, schema, f"{table}__undo_keys"):
                keys = [
                    column
                    for (column,) in execute(
                        connection,
                        "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
                        "order by ordinal_position",
                        [schema, f"{table}__undo_keys"],
                    )
                ]
                matches = " and ".join(f'kept."{key}" = written."{key}"' for key in keys)
                execute(
                    connection,
                    f'delete from "{schema}"."{table}" as kept using "{schema}"."{table}__undo_keys" as written '
                    f"where {matches}",
                )
                execute(connection, f'insert into "{schema}"."{table}" select * from "{schema}"."{table}__undo"')
        _drop_undo(connection, manifest)
    journal.status = "rolled_back"
    journal.load_ids = []
    journal.write(warehouse.settings)


def _drop_undo(connection, manifest: Path) -> None:
    for schema, table in incremental_tables(manifest) if manifest.exists() else []:
        for suffix in ("__undo", "__undo_keys"):
            execute(connection, f'drop table if exists "{schema}"."{table}{suffix}"')


def drop_undo_tables(warehouse: Warehouse) -> None:
    """Make a published refresh's changes final."""
    with warehouse.build_connection() as connection:
        _drop_undo(connection, warehouse.settings.manifest_dir / "manifest.json")


def incremental_tables(manifest_path: Path, histories_only: bool = False) -> list[tuple[str, str]]:
    """(published schema, table) of every incremental model, from the dbt manifest the
    orchestration prepared (orchestration/defs/dbt/project.py); with ``histories_only``, only
    those a ``--full-refresh`` never rebuilds (``full_refresh=false``: the incentive
    histories). Raises FileNotFoundError when there is no manifest."""
    if not manifest_path.exists():
        raise FileNotFoundError(f"no dbt manifest at {manifest_path}: the dbt project was not parsed")
    nodes = json.loads(manifest_path.read_text())["nodes"].values()
    return sorted(
        (node["config"]["schema"] or "public", node["alias"])
        for node in nodes
        if node["resource_type"] == "model"
        and node["config"].get("materialized") == "incremental"
        and (not histories_only or node["config"].get("full_refresh") is False)
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


def prepare_build_database(settings: Settings) -> Path:
    """Open (or create) the build database under the state folder. A warehouse published
    before the build database existed held raw in the published file: its raw tables are
    copied over once, so no landing file is loaded twice."""
    build = settings.build_database
    build.parent.mkdir(parents=True, exist_ok=True)
    settings.spill_dir.mkdir(parents=True, exist_ok=True)
    first = not build.exists()
    with duckdb.connect(str(build), config=settings.duckdb_config()) as connection:
        if first and settings.warehouse.exists():
            connection.execute(f"attach '{_sql_path(settings.warehouse)}' as previous (read_only)")
            tables = connection.execute(
                "select table_name from information_schema.tables "
                "where table_catalog = 'previous' and table_schema = 'raw'"
            ).fetchall()
            if tables:
                connection.execute("create schema if not exists raw")
            for (table,) in tables:
                connection.execute(f'create table raw."{table}" as from previous.raw."{table}"')
            connection.execute("detach previous")
    return build


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def published_tables(connection: duckdb.DuckDBPyConnection, catalog: str) -> list[tuple[str, str]]:
    """(schema, table) of what a publish copies from ``catalog``: every table and view of
    ``PUBLISHED_FILE_SCHEMAS`` (docs/operations.md#write-audit-publish). A mart that only
    projects an incremental intermediate is a view in the build database; the published file
    holds it as a table."""
    placeholders = ", ".join("?" for _ in PUBLISHED_FILE_SCHEMAS)
    return connection.execute(
        "select table_schema, table_name from information_schema.tables "
        f"where table_catalog = ? and table_schema in ({placeholders}) and table_type in ('BASE TABLE', 'VIEW') "
        # the undo logs of incremental marts are build state, dropped once the refresh publishes
        "and table_name not like '%\\_\\_undo%' escape '\\' "
        "order by 1, 2",
        [catalog, *PUBLISHED_FILE_SCHEMAS],
    ).fetchall()


def publish(settings: Settings) -> Path:
    """Write what BI may read (``PUBLISHED_FILE_SCHEMAS``: the marts and the masked audit) from
    the build database into a new file beside the published one, then put it in place with one
    ``os.replace``: readers holding the old file keep reading it, new connections see the new
    one, nobody sees a mix. Costs time in proportion to the marts, not to the history.

    Raises FileNotFoundError when there is no build database, RuntimeError when it holds no
    marts (nothing was built)."""
    build = settings.build_database
    if not build.exists():
        raise FileNotFoundError(f"no build database at {build}: nothing to publish")
    staged = settings.publishing_file
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    _remove(staged)
    config = {key: value for key, value in settings.duckdb_config().items() if key != "storage_compatibility_version"}
    try:
        with duckdb.connect(":memory:", config=config) as connection:
            connection.execute(f"attach '{_sql_path(build)}' as build (read_only)")
            version = DUCKDB_FILE_CONFIG["storage_compatibility_version"]
            connection.execute(f"attach '{_sql_path(staged)}' as published (storage_version '{version}')")
            tables = published_tables(connection, "build")
            if not any(schema == "marts" for schema, _ in tables):
                raise RuntimeError(f"{build} holds no marts: nothing to publish")
            for schema in sorted({schema for schema, _ in tables}):
                connection.execute(f'create schema published."{schema}"')
            written = set()
            for schema, table in tables:
                if written and schema not in written:
                    failpoint("publish.mid_write")  # some schemas written, the others not
                written.add(schema)
                connection.execute(f'create table published."{schema}"."{table}" as from build."{schema}"."{table}"')
            connection.execute("checkpoint published")
            connection.execute("detach published")
        wal = staged.with_name(staged.name + ".wal")
        if wal.exists():
            raise RuntimeError(f"{wal} still exists after a checkpoint; refusing to publish a partial file")
        journal = BuildJournal.read(settings)
        if journal is not None and journal.status == "building":
            journal.swap_inode = staged.stat().st_ino  # the swap keeps the file (and its inode)
            journal.write(settings)
        failpoint("publish.before_swap")
        os.replace(staged, settings.warehouse)
    finally:
        _remove(staged)
    return settings.warehouse
