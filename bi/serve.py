"""`make bi`: Apache Superset on the published warehouse, with the dashboards of bi/superset/bundle.

Superset lives in its own environment (``.venv-bi``, pinned by bi/requirements.txt and
bi/constraints.txt); this module runs in the project's and drives Superset's command line:

1. where the warehouse is, from loyalty/settings.py: the published DuckDB file, opened read-only
   (refused with a message when there is none yet), or on ``LOYALTY_TARGET=postgres`` the
   ``marts`` schema as the login role ``loyalty_superset``, a member of ``finance_reader``;
2. Superset's state in ``<state>/<warehouse>.superset/`` (Settings.superset_home): its metadata
   database, a generated secret key and admin password (kept there, never in the checkout);
3. ``superset db upgrade``, the admin user, ``superset init``, then the bundle zipped with the
   warehouse's address filled in and imported (``superset import-dashboards``);
4. Superset under gunicorn on 127.0.0.1:``LOYALTY_BI_PORT`` (8088) until Ctrl-C or SIGTERM.

Superset opens a new connection for every query (SQLAlchemy's NullPool, Superset's default) and
caches no results (bi/superset_config.py), so a publish, which replaces the DuckDB file with
``os.replace``, is seen by the next query.
"""

from __future__ import annotations

import io
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml

from loyalty.settings import Settings, SettingsError, load_settings

BI_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BI_DIR.parent
BUNDLE_DIR = BI_DIR / "superset" / "bundle"
SUPERSET_CONFIG = BI_DIR / "superset_config.py"
BI_VENV = PROJECT_DIR / ".venv-bi"
URI_PLACEHOLDER = "__LOYALTY_WAREHOUSE_URI__"
ADMIN_USER = "admin"
PG_ROLE = "loyalty_superset"
READER_ROLE = "finance_reader"
HOST = "127.0.0.1"


class BiError(RuntimeError):
    """`make bi` cannot go on; the message says what is missing and what to run."""


@dataclass(frozen=True)
class WarehouseConnection:
    """How Superset reaches the warehouse: a SQLAlchemy URI (with the password, if any), the
    engine parameters of the database entry, the schemas it may read, and a printable form."""

    uri: str
    engine_params: dict[str, Any]
    schemas: tuple[str, ...]
    display: str
    notes: list[str] = field(default_factory=list)


def duckdb_connection(settings: Settings) -> WarehouseConnection:
    """The published DuckDB file, read-only. Raises BiError when there is no published file, or
    when it holds no ``marts`` schema (not a published warehouse)."""
    import duckdb

    path = settings.warehouse
    if not path.is_file():
        raise BiError(
            f"no published warehouse at {path}: run `make demo` (demo data) or `make refresh` first "
            "(or point LOYALTY_WAREHOUSE at a published file)"
        )
    with duckdb.connect(str(path), read_only=True) as connection:
        marts = connection.execute(
            "select count(*) from information_schema.tables where table_schema = 'marts'"
        ).fetchone()[0]
    if not marts:
        raise BiError(f"{path} holds no marts schema: it is not a published warehouse (run `make refresh`)")
    return WarehouseConnection(
        uri=f"duckdb:///{path}",
        engine_params={"connect_args": {"read_only": True}},
        schemas=("marts", "audit"),
        display=f"{path} (DuckDB, read-only)",
    )


def postgres_connection(settings: Settings) -> WarehouseConnection:
    """Schema ``marts`` of the PostgreSQL warehouse (the PG* variables), read as the login role
    ``loyalty_superset``, a member of ``finance_reader`` and nothing else: created on first use
    with a generated password kept in the state folder, its password and membership set again
    on each start. Raises BiError when the database has no published marts or no
    ``finance_reader`` role (no PostgreSQL refresh has run)."""
    import psycopg
    from psycopg import sql

    from loyalty.warehouse import pg_connect

    password = stored_secret(settings.superset_home / "pg_password")
    try:
        with pg_connect() as admin:
            has_marts = admin.execute("select count(*) from information_schema.schemata where schema_name = 'marts'")
            has_reader = admin.execute("select count(*) from pg_roles where rolname = %s", [READER_ROLE])
            if not has_marts.fetchone()[0] or not has_reader.fetchone()[0]:
                raise BiError(
                    f"PostgreSQL database {admin.info.dbname!r} has no published marts or no {READER_ROLE} role: "
                    "run `LOYALTY_TARGET=postgres make refresh` first"
                )
            exists = admin.execute("select count(*) from pg_roles where rolname = %s", [PG_ROLE]).fetchone()[0]
            verb = "alter" if exists else "create"
            admin.execute(
                sql.SQL(verb + " role {} login nosuperuser nocreatedb nocreaterole password {}").format(
                    sql.Identifier(PG_ROLE), sql.Literal(password)
                )
            )
            admin.execute(sql.SQL("grant {} to {}").format(sql.Identifier(READER_ROLE), sql.Identifier(PG_ROLE)))
            host, port, dbname = admin.info.host, admin.info.port, admin.info.dbname
    except psycopg.OperationalError as error:
        raise BiError(f"cannot connect to PostgreSQL with the PG* variables: {error}".strip()) from error
    # a Unix-socket host is a folder: libpq takes it as the host query parameter
    where = f"@/{quote(dbname)}?host={quote(host)}" if host.startswith("/") else f"@{host}:{port}/{quote(dbname)}"
    return WarehouseConnection(
        uri=f"postgresql+psycopg2://{PG_ROLE}:{quote(password, safe='')}{where}",
        engine_params={"connect_args": {"options": "-c default_transaction_read_only=on"}},
        schemas=("marts",),
        display=f"postgresql://{PG_ROLE}{where} (member of {READER_ROLE}, schema marts)",
        notes=[
            f"{READER_ROLE} reads schema marts only: the Operations charts on the audit schema "
            "(quarantine, alerts) are left out on PostgreSQL"
        ],
    )


def warehouse_connection(settings: Settings) -> WarehouseConnection:
    """The connection of ``settings.target``. Raises BiError for the Spark target, which
    publishes nothing BI can read."""
    if settings.target == "duckdb":
        return duckdb_connection(settings)
    if settings.target == "postgres":
        return postgres_connection(settings)
    raise BiError(f"LOYALTY_TARGET={settings.target!r} publishes no warehouse for BI: use duckdb or postgres")


def stored_secret(path: Path, random_bytes: int = 48) -> str:
    """The secret in ``path``, generated (``random_bytes`` random bytes, URL-safe text) and
    written readable by its owner only when the file does not exist yet."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(secrets.token_urlsafe(random_bytes) + "\n")
    return path.read_text(encoding="utf-8").strip()


def read_bundle(bundle_dir: Path = BUNDLE_DIR) -> dict[str, dict[str, Any]]:
    """Every YAML file of the exported bundle, by its path relative to ``bundle_dir``. Raises
    BiError when the folder holds no dashboard or no database entry."""
    files = {
        str(path.relative_to(bundle_dir)): yaml.safe_load(path.read_text(encoding="utf-8"))
        for path in sorted(bundle_dir.rglob("*.yaml"))
    }
    kinds = {name.split("/", 1)[0] for name in files}
    if not {"dashboards", "databases", "metadata.yaml"} <= kinds:
        raise BiError(f"{bundle_dir} is not an exported Superset bundle (found {sorted(kinds)})")
    return files


def fill_bundle(files: dict[str, dict[str, Any]], connection: WarehouseConnection) -> dict[str, dict[str, Any]]:
    """The bundle as imported: the database entry's URI placeholder replaced by the warehouse's
    and its engine parameters set; datasets of a schema the connection may not read left out,
    with their charts and those charts' places on the dashboards (rows left empty go too).
    Raises BiError when a database entry lacks the placeholder (a machine's address was
    exported into the repo)."""
    filled: dict[str, dict[str, Any]] = {}
    for name, content in files.items():
        if name.startswith("databases/"):
            if content.get("sqlalchemy_uri") != URI_PLACEHOLDER:
                raise BiError(f"{name}: sqlalchemy_uri must be {URI_PLACEHOLDER} in the repo, found another")
            content = {
                **content,
                "sqlalchemy_uri": connection.uri,
                "extra": {**(content.get("extra") or {}), "engine_params": connection.engine_params},
            }
        filled[name] = content
    dropped_datasets = {
        content["uuid"]
        for name, content in filled.items()
        if name.startswith("datasets/") and content.get("schema") not in connection.schemas
    }
    dropped_charts = {
        content["uuid"]
        for name, content in filled.items()
        if name.startswith("charts/") and content.get("dataset_uuid") in dropped_datasets
    }
    kept = {}
    for name, content in filled.items():
        if content.get("uuid") in dropped_datasets | dropped_charts:
            continue
        if name.startswith("dashboards/") and dropped_charts:
            content = {**content, "position": _without_charts(content["position"], dropped_charts)}
        kept[name] = content
    return kept


def _without_charts(position: dict[str, Any], chart_uuids: set[str]) -> dict[str, Any]:
    position = {key: (dict(node) if isinstance(node, dict) else node) for key, node in position.items()}
    gone = {
        key
        for key, node in position.items()
        if isinstance(node, dict) and node.get("type") == "CHART" and node.get("meta", {}).get("uuid") in chart_uuids
    }
    while gone:
        for key in gone:
            node = position.pop(key)
            parent = position.get(node["parents"][-1]) if node.get("parents") else None
            if parent is not None:
                parent["children"] = [child for child in parent["children"] if child != key]
        gone = {
            key
            for key, node in position.items()
            if isinstance(node, dict) and node.get("type") in ("ROW", "COLUMN") and not node.get("children")
        }
    return position


def bundle_zip(files: dict[str, dict[str, Any]]) -> bytes:
    """The bundle as the zip ``superset import-dashboards`` reads (one top folder)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(f"loyalty_bundle/{name}", yaml.safe_dump(content, sort_keys=False, allow_unicode=True))
    return buffer.getvalue()


def superset_environment(settings: Settings) -> dict[str, str]:
    """The environment of every Superset command: bi/superset_config.py and what it reads."""
    home = settings.superset_home
    return {
        **os.environ,
        "SUPERSET_CONFIG_PATH": str(SUPERSET_CONFIG),
        "SUPERSET_HOME": str(home),
        "BI_METADATA_URI": f"sqlite:///{home / 'superset.db'}?check_same_thread=false",
        "BI_SECRET_KEY_FILE": str(home / "secret_key"),
        "PYTHONWARNINGS": "ignore",
    }


def superset_executable(name: str) -> Path:
    """A program of the Superset environment. Raises BiError when it is not installed."""
    path = BI_VENV / "bin" / name
    if not path.exists():
        raise BiError(f"{path} is missing: `make bi` installs Superset into {BI_VENV} (bi/requirements.txt)")
    return path


def run_superset(settings: Settings, *args: str) -> str:
    """Run ``superset ARGS`` with its output appended to ``<superset_home>/superset.log``; return
    the output. Raises BiError with the output's end when the command fails."""
    log = settings.superset_home / "superset.log"
    completed = subprocess.run(
        [str(superset_executable("superset")), *args],
        env=superset_environment(settings),
        cwd=settings.superset_home,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = completed.stdout + completed.stderr
    with log.open("a", encoding="utf-8") as file:
        file.write(f"$ superset {' '.join(args[:2])}\n{output}\n")
    if completed.returncode != 0:
        tail = "\n".join(output.strip().splitlines()[-15:])
        raise BiError(f"`superset {args[0]}` failed (exit {completed.returncode}; log {log}):\n{tail}")
    return output


def prepare(settings: Settings) -> WarehouseConnection:
    """Everything before serving: the warehouse's connection, Superset's metadata database, the
    admin user (its password generated once, kept in ``<superset_home>/admin_password``), the
    roles and the bundle imported. Returns the connection. Raises BiError naming what failed."""
    connection = warehouse_connection(settings)
    home = settings.superset_home
    home.mkdir(parents=True, exist_ok=True)
    stored_secret(home / "secret_key")
    password = stored_secret(home / "admin_password", random_bytes=12)
    run_superset(settings, "db", "upgrade")
    created = run_superset(
        settings,
        "fab",
        "create-admin",
        "--username",
        ADMIN_USER,
        "--firstname",
        "Loyalty",
        "--lastname",
        "Admin",
        "--email",
        "admin@localhost",
        "--password",
        password,
    )
    if "already exists" in created:
        run_superset(settings, "fab", "reset-password", "--username", ADMIN_USER, "--password", password)
    run_superset(settings, "init")
    bundle = home / "bundle.zip"  # holds the PostgreSQL password: removed after the import
    descriptor = os.open(bundle, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(bundle_zip(fill_bundle(read_bundle(), connection)))
    try:
        run_superset(settings, "import-dashboards", "--path", str(bundle), "--username", ADMIN_USER)
    finally:
        bundle.unlink(missing_ok=True)
    return connection


def port_is_free(port: int) -> bool:
    """True when nothing listens on 127.0.0.1:``port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def wait_until_healthy(url: str, server: subprocess.Popen, log: Path, timeout_s: float = 120) -> None:
    """Wait for Superset's ``/health`` to answer. Raises BiError with the log's end when the
    server exits or does not answer within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            tail = "\n".join(log.read_text(encoding="utf-8").splitlines()[-15:])
            raise BiError(f"Superset stopped (exit {server.returncode}; log {log}):\n{tail}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise BiError(f"Superset did not answer at {url}/health within {timeout_s:.0f} s (log {log})")


def serve(settings: Settings) -> int:
    """Prepare, then serve Superset on 127.0.0.1:``settings.bi_port`` until Ctrl-C or SIGTERM;
    stop the server and return 0. Raises BiError when the port is taken or the server fails."""
    if not port_is_free(settings.bi_port):
        raise BiError(f"port {settings.bi_port} on {HOST} is in use: stop what listens there or set LOYALTY_BI_PORT")
    print("preparing Superset (metadata database, admin user, dashboards) ...", flush=True)
    connection = prepare(settings)
    url = f"http://{HOST}:{settings.bi_port}"
    log = settings.superset_home / "superset.log"
    with log.open("a", encoding="utf-8") as output:
        server = subprocess.Popen(
            [
                str(superset_executable("gunicorn")),
                "--bind",
                f"{HOST}:{settings.bi_port}",
                "--workers",
                "1",
                "--threads",
                "8",
                "--timeout",
                "120",
                "superset.app:create_app()",
            ],
            env=superset_environment(settings),
            cwd=settings.superset_home,
            stdout=output,
            stderr=subprocess.STDOUT,
        )

    def stop(*_: object) -> None:
        raise KeyboardInterrupt

    # Ctrl-C reaches gunicorn and this process alike; SIGINT is installed by hand because a
    # process started in the background by a script inherits it ignored
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        wait_until_healthy(url, server, log)
        password_file = settings.superset_home / "admin_password"
        print(
            f"\nSuperset on {url} (Ctrl-C stops it), reading {connection.display}\n"
            f"  log in:      user {ADMIN_USER}, password {password_file.read_text(encoding='utf-8').strip()}"
            f" (kept in {password_file})\n"
            f"  dashboards:  {url}/superset/dashboard/month-end-pack/  {url}/superset/dashboard/operations/\n"
            f"  log:         {log}",
            *(f"  note:        {note}" for note in connection.notes),
            sep="\n",
            flush=True,
        )
        server.wait()
        raise BiError(f"Superset stopped by itself (exit {server.returncode}; log {log})")
    except KeyboardInterrupt:
        print("stopping Superset ...", flush=True)
        return 0
    finally:
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def main() -> int:
    """`python -m bi.serve`: exit 0 after Ctrl-C, 2 with ``error: ...`` when something is missing."""
    try:
        return serve(load_settings())
    except (SettingsError, BiError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
