"""Every setting of the warehouse, read from the environment once (docs/operations.md#settings).

This module is the only place that reads a ``LOYALTY_*`` variable. The command line reads the
environment into a :class:`Settings` at start-up and hands it on: to the Dagster code location
as a resource, to the core library as an argument. Every file a refresh writes besides the
published warehouse is a path of :class:`Settings` under ``state_dir``, so a refresh writes
nothing inside the project checkout (docs/operations.md#state).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loyalty import failpoints

PROJECT_DIR = Path(__file__).resolve().parent.parent
TARGETS = ("duckdb", "postgres", "spark")
# the engines a Dagster refresh runs on; Spark builds with dbt alone (make test-spark)
REFRESH_TARGETS = ("duckdb", "postgres")

# DuckDB 2.0 writes a storage format DuckDB 1.x cannot open by default; BI drivers embed 1.x.
DUCKDB_FILE_CONFIG = {"storage_compatibility_version": "v1.0.0"}

# Every variable the warehouse reads, with its meaning and default (the README's table is
# checked against this one by tests_py/test_settings.py).
VARIABLES: dict[str, str] = {
    "LOYALTY_LANDING_DIR": "folder the upstream systems deliver files into (default: demo/landing)",
    "LOYALTY_WAREHOUSE": "the published DuckDB file BI tools read (default: warehouse/loyalty.duckdb)",
    "LOYALTY_STATE_DIR": "everything a refresh keeps besides the published file (default: the warehouse's folder)",
    "LOYALTY_TARGET": "the engine, a dbt target: duckdb, postgres or spark (default: duckdb)",
    "LOYALTY_DBT_VARS": "dbt vars for every dbt command, a JSON object, e.g. tolerances (default: none)",
    "LOYALTY_ALERT_WEBHOOK": "URL that receives every alert as a JSON POST (default: none)",
    "LOYALTY_INCENTIVES_START": "first store incentive month, a Dagster partition (default: 2024-01-01)",
    "LOYALTY_SPARK_DIR": "the local Spark warehouse and metastore, Spark target only (default: <state>/spark)",
    "LOYALTY_PG_BIN": "PostgreSQL server binaries for the throwaway server of tests and bench (default: found)",
    "LOYALTY_MEMORY_LIMIT": "DuckDB memory_limit of a refresh; larger sorts spill to <state> (default: 40% of RAM)",
    "LOYALTY_THREADS": "threads of a refresh's dbt and DuckDB work (default: the machine's cores)",
    "LOYALTY_BI_PORT": "the port `make bi` serves Superset on, at 127.0.0.1 (default: 8088)",
    "LOYALTY_FAILPOINT": "crash-safety campaign only: a loyalty/failpoints.py point that SIGKILLs the run "
    "(default: none)",
}


class SettingsError(ValueError):
    """A setting has a value the warehouse cannot use; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    """Where the warehouse reads and writes, and how it runs. Paths are absolute."""

    landing_dir: Path
    warehouse: Path
    state_dir: Path
    target: str
    dbt_vars: Mapping[str, Any] = field(default_factory=dict)
    alert_webhook: str | None = None
    incentives_start: str = "2024-01-01"
    spark_dir: Path | None = None
    pg_bin: Path | None = None
    memory_limit: str = "4GB"
    threads: int = 2
    bi_port: int = 8088
    failpoint: str | None = None
    # DAGSTER_HOME when the environment names one: a deployment's instance (deploy/README.md)
    dagster_home_env: Path | None = None

    def _state(self, suffix: str) -> Path:
        # named after the warehouse file, so two warehouses sharing a state folder share nothing
        return self.state_dir / f"{self.warehouse.name}{suffix}"

    @property
    def build_database(self) -> Path:
        """The DuckDB build database: raw, staging, intermediate, the incremental models' state,
        and the marts as built and checked before publishing (docs/operations.md#state). BI
        never opens it; it is never copied whole."""
        return self._state(".build")

    @property
    def refresh_journal(self) -> Path:
        """The refresh in progress or last ended, and what rolling it back needs (JSON;
        loyalty/warehouse.py BuildJournal)."""
        return self._state(".refresh.json")

    @property
    def publishing_file(self) -> Path:
        """The new published file being written, beside the published one (same file system),
        until ``os.replace`` puts it in place."""
        return self.warehouse.with_name(f".{self.warehouse.name}.publishing")

    @property
    def spill_dir(self) -> Path:
        """DuckDB's temp_directory: where sorts and joins larger than ``memory_limit`` spill
        (DuckDB's default for the build database, ``<build database>.tmp``)."""
        return self._state(".build.tmp")

    def duckdb_config(self) -> dict[str, Any]:
        """DuckDB settings of every connection a refresh opens on the build database."""
        return {
            **DUCKDB_FILE_CONFIG,
            "memory_limit": self.memory_limit,
            "threads": self.threads,
            "temp_directory": str(self.spill_dir),
        }

    @property
    def lock_path(self) -> Path:
        """The one-writer lock (loyalty/lock.py)."""
        return self._state(".lock")

    @property
    def alert_queue(self) -> Path:
        """Alerts not yet published, one JSON object a line (loyalty/alerts.py)."""
        return self._state(".alerts.jsonl")

    @property
    def incentive_journal(self) -> Path:
        """Publish / reopen actions on incentive months (loyalty/incentive_actions.py)."""
        return self._state(".incentive_actions.jsonl")

    @property
    def dbt_target_dir(self) -> Path:
        """dbt artifacts and logs of this warehouse: one folder per dbt command."""
        return self._state(".dbt")

    @property
    def manifest_dir(self) -> Path:
        """Where the dbt project is parsed for the Dagster definitions (manifest.json)."""
        return self.dbt_target_dir / "parse"

    @property
    def refresh_log(self) -> Path:
        """dbt's and Dagster's step-by-step output of the latest refresh."""
        return self.dbt_target_dir / "refresh.log"

    @property
    def docs_site_dir(self) -> Path:
        """The dbt documentation site `make docs` builds (loyalty/docs_site.py): dbt's artifacts
        and ``index.html``, one page that needs no network."""
        return self.dbt_target_dir / "docs"

    @property
    def dagster_home(self) -> Path:
        """Dagster's instance (runs, event log, schedules) for `make ui` and the CLI: the one
        ``DAGSTER_HOME`` names when it is set (a deployment's, deploy/README.md, which the
        services use too), else this warehouse's own in the state folder."""
        return self.dagster_home_env or self.warehouse_dagster_home

    @property
    def warehouse_dagster_home(self) -> Path:
        """This warehouse's own Dagster instance in the state folder (SQLite, created with
        orchestration/dagster.yaml on first use): `make ui` and `make refresh` share it."""
        return self._state(".dagster")

    @property
    def report_path(self) -> Path:
        """The self-contained HTML report each publish writes."""
        return self.state_dir / "reconciliation_report.html"

    @property
    def report_draft_path(self) -> Path:
        """Where publish writes the report before the swap; it is moved over ``report_path``
        once the new warehouse is in place (docs/operations.md#rollback)."""
        return self.report_path.with_name(self.report_path.name + ".work")

    @property
    def workbook_path(self) -> Path:
        """The month-end roll-forwards workbook (.xlsx) each publish writes beside the report
        (loyalty/reporting/workbook.py)."""
        return self.state_dir / "month_end_rollforwards.xlsx"

    @property
    def workbook_draft_path(self) -> Path:
        """Where publish writes the workbook before the swap; moved over ``workbook_path`` with
        the report's draft (docs/operations.md#rollback)."""
        return self.workbook_path.with_name(self.workbook_path.name + ".work")

    def publish_drafts(self) -> list[tuple[Path, Path]]:
        """(draft, final) of every file a publish writes besides the warehouse: the report and
        the workbook. Publish writes each draft before its swap and moves it over its final
        path after; a refresh killed in between is finished by the next one, which moves the
        drafts then (loyalty/warehouse.py ``finish_killed_publish``)."""
        return [(self.report_draft_path, self.report_path), (self.workbook_draft_path, self.workbook_path)]

    @property
    def superset_home(self) -> Path:
        """Superset's state for `make bi` (bi/serve.py): its metadata database, the generated
        secret key and admin password, the bundle as imported, its log."""
        return self._state(".superset")

    @property
    def spark_warehouse_dir(self) -> Path:
        return self.spark_dir or self.state_dir / "spark"

    def dbt_cli_vars(self, build_database: Path | None = None, schema_suffix: str = "") -> dict[str, Any]:
        """The dbt vars of one dbt command: the operator's ``LOYALTY_DBT_VARS`` and where the
        build is (profiles.yml reads ``duckdb_path``; generate_schema_name ``schema_suffix``)."""
        engine_vars: dict[str, Any] = {
            "spark_dir": str(self.spark_warehouse_dir),
            "threads": self.threads,
            "memory_limit": self.memory_limit,
        }
        if build_database is not None:
            engine_vars["duckdb_path"] = str(build_database)
        if schema_suffix:
            engine_vars["schema_suffix"] = schema_suffix
        return {**self.dbt_vars, **engine_vars}

    def with_overrides(self, **changes: Any) -> Settings:
        from dataclasses import replace

        return replace(self, **changes)


def _path(value: str | None, default: Path) -> Path:
    return Path(value).expanduser().resolve() if value else default.resolve()


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read every ``LOYALTY_*`` variable (docs/operations.md#settings), and ``DAGSTER_HOME``
    when set, into :class:`Settings`.

    ``environ`` defaults to ``os.environ``. Raises :class:`SettingsError` naming the variable
    when a value is unusable (unknown target, ``LOYALTY_DBT_VARS`` not a JSON object, a month
    that is not ``YYYY-MM-01``, a ``LOYALTY_BI_PORT`` that is not a port, a ``LOYALTY_FAILPOINT``
    not in loyalty/failpoints.py)."""
    env = os.environ if environ is None else environ
    target = env.get("LOYALTY_TARGET") or "duckdb"
    if target not in TARGETS:
        raise SettingsError(f"LOYALTY_TARGET={target!r} is not one of {', '.join(TARGETS)}")
    landing = _path(env.get("LOYALTY_LANDING_DIR"), PROJECT_DIR / "demo" / "landing")
    warehouse = _path(env.get("LOYALTY_WAREHOUSE"), PROJECT_DIR / "warehouse" / "loyalty.duckdb")
    state_dir = _path(env.get("LOYALTY_STATE_DIR"), warehouse.parent)
    raw_vars = env.get("LOYALTY_DBT_VARS") or ""
    dbt_vars: dict[str, Any] = {}
    if raw_vars.strip():
        try:
            dbt_vars = json.loads(raw_vars)
        except json.JSONDecodeError as error:
            raise SettingsError(f"LOYALTY_DBT_VARS is not JSON ({error}): {raw_vars!r}") from error
        if not isinstance(dbt_vars, dict):
            raise SettingsError(
                f"LOYALTY_DBT_VARS must be a JSON object such as '{{\"as_of\": ...}}', got {raw_vars!r}"
            )
    start = env.get("LOYALTY_INCENTIVES_START") or "2024-01-01"
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])-01", start):
        raise SettingsError(f"LOYALTY_INCENTIVES_START must be the first of a month, YYYY-MM-01, got {start!r}")
    memory_limit = (env.get("LOYALTY_MEMORY_LIMIT") or "").strip() or default_memory_limit()
    if not re.fullmatch(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", memory_limit, flags=re.IGNORECASE):
        raise SettingsError(f"LOYALTY_MEMORY_LIMIT must be a size such as 8GB or 512MiB, got {memory_limit!r}")
    raw_threads = (env.get("LOYALTY_THREADS") or "").strip()
    if raw_threads and not (raw_threads.isdigit() and int(raw_threads) > 0):
        raise SettingsError(f"LOYALTY_THREADS must be a whole number of threads above 0, got {raw_threads!r}")
    threads = int(raw_threads) if raw_threads else (os.cpu_count() or 1)
    raw_port = (env.get("LOYALTY_BI_PORT") or "").strip() or "8088"
    if not (raw_port.isdigit() and 0 < int(raw_port) < 65536):
        raise SettingsError(f"LOYALTY_BI_PORT must be a TCP port number (1-65535), got {raw_port!r}")
    try:
        failpoint = failpoints.check((env.get("LOYALTY_FAILPOINT") or "").strip())
    except ValueError as error:
        raise SettingsError(f"LOYALTY_FAILPOINT: {error}") from error
    return Settings(
        landing_dir=landing,
        warehouse=warehouse,
        state_dir=state_dir,
        target=target,
        dbt_vars=dbt_vars,
        alert_webhook=env.get("LOYALTY_ALERT_WEBHOOK") or None,
        incentives_start=start,
        spark_dir=_path(env["LOYALTY_SPARK_DIR"], Path()) if env.get("LOYALTY_SPARK_DIR") else None,
        pg_bin=_path(env["LOYALTY_PG_BIN"], Path()) if env.get("LOYALTY_PG_BIN") else None,
        memory_limit=memory_limit,
        threads=threads,
        bi_port=int(raw_port),
        failpoint=failpoint,
        dagster_home_env=_path(env["DAGSTER_HOME"], Path()) if env.get("DAGSTER_HOME") else None,
    )


def default_memory_limit() -> str:
    """40% of the machine's physical memory, in MiB: leaves room for the Python and dbt
    processes of a refresh beside DuckDB and for BI readers (DuckDB's own default is 80%)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return "4GB"
    return f"{int(total * 0.4) // 2**20}MiB"
