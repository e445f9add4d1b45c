"""Crash safety (docs/reliability.md#crash-safety): a refresh killed with SIGKILL at each point of
loyalty/failpoints.py, then run again, gives the marts of a run that was never killed.

For each point: a copy of a warehouse published from batch 1 (version A) receives batch 2 and is
refreshed with the point armed (``LOYALTY_FAILPOINT``), in a new session, so that the kill takes
the command and its dbt process and nothing else. Then:

* the command died by SIGKILL (a point that never fires is a mismatch);
* the published warehouse opens (read-only) and holds version A or the clean final version —
  every mart's checksum (tools/compare_engines.py), never anything else;
* the lock is free;
* a refresh without the point exits as the clean run did, and its marts equal the clean run's,
  every mart; the build's raw tables hold each file once (no load twice, no orphan rows) and
  as many rows as the clean run's; no undo log is left and the journal is final (published, or
  unchanged when the rerun found that the killed refresh had published); the roll-forwards
  workbook in place holds the published marts, cell for cell, and no publish draft is left.

The clean run (reference) is computed once per data set, from the same copy of version A. Also:
``incentives.close`` kills the close of a month (the clean close is its reference),
``incentives.journal`` kills ``incentives publish`` while it writes its journal, and on
PostgreSQL (``full`` only) the points ``dbt.staging_incremental`` (mid-build) and ``pg.swap``
(mid-publish) are run the same way against a throwaway server.

Run it: ``python -m tools.faults.crashes [--full] [--workdir DIR] [--points a,b]``.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb

from loyalty.failpoints import FAILPOINTS
from loyalty.warehouse import FINAL_STATUSES
from tools.compare_engines import checksums
from tools.faults import Result, in_parallel
from tools.faults.workspace import copy_warehouse, workbook_mismatches

PROJECT_DIR = Path(__file__).resolve().parents[2]
PART = "crash"
DATA_ARGS = ["--accounts", "100", "--months", "6", "--seed", "11"]
# batch 1: the first three months; batch 2: the rest (several files, so a kill between two lands)
BATCH_2_FROM = "2024-04"
CLOSE_MONTH = "2024-04-01"
JOURNAL_MONTH = "2024-03"

DUCKDB_POINTS = [
    "load.mid_file",
    "load.between_files",
    "load.after",
    "dbt.staging_incremental",
    "dbt.intermediate",
    "dbt.mart",
    "dbt.incremental_mart",
    "dbt.test",
    "findings.test",
    "publish.mid_write",
    "publish.before_swap",
    "publish.after_swap",
    "journal.published",
]
SPECIAL_POINTS = ["incentives.close", "incentives.journal"]
# PostgreSQL killed mid-build (after an incremental staging model wrote its rows in place) and
# mid-publish (inside the swap transaction); the other points run on DuckDB
POSTGRES_POINTS = ["dbt.staging_incremental", "pg.swap"]
# the bounded run of make test: the most telling point, inside the dbt build after an
# incremental staging model wrote its undo-logged rows
BOUNDED_POINTS = ["dbt.staging_incremental"]
TIMEOUT = 900


def _environment(landing: Path, warehouse: Path, extra: dict[str, str]) -> dict[str, str]:
    environment = {
        **os.environ,
        "LOYALTY_LANDING_DIR": str(landing),
        "LOYALTY_WAREHOUSE": str(warehouse),
        "LOYALTY_TARGET": "duckdb",
        # the cases run several at a time on a machine with a core or two: one dbt and DuckDB
        # thread each spends less CPU on coordination (the marts do not depend on the thread
        # count: the determinism part checks that)
        "LOYALTY_THREADS": "1",
        **extra,
    }
    environment.pop("DAGSTER_HOME", None)
    environment.pop("LOYALTY_STATE_DIR", None)
    environment.pop("LOYALTY_FAILPOINT", None)
    if extra.get("LOYALTY_FAILPOINT"):
        environment["LOYALTY_FAILPOINT"] = extra["LOYALTY_FAILPOINT"]
    return environment


def run(args: list[str], landing: Path, warehouse: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run ``python -m <args>`` in a new session (its own process group, as a scheduler
    starts a job) with the warehouse's settings; (return code, last output). A return code
    of ``-9`` is a death by SIGKILL."""
    completed = subprocess.run(
        [sys.executable, "-m", *args],
        cwd=PROJECT_DIR,
        env=_environment(landing, warehouse, env or {}),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        start_new_session=True,
    )
    return completed.returncode, (completed.stdout + completed.stderr)[-2000:]


def refresh(landing: Path, warehouse: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    """One ``orchestration.cli refresh`` (see :func:`run`)."""
    return run(["orchestration.cli", "refresh"], landing, warehouse, env)


def close_month(landing: Path, warehouse: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Close ``CLOSE_MONTH`` through the Dagster job ``incentive_close`` (see :func:`main_close`)."""
    return run(["tools.faults.crashes", "close", CLOSE_MONTH], landing, warehouse, env)


def deliver(source: Path, landing: Path, batches: tuple[int, ...]) -> None:
    """Copy the files of ``batches`` (1: names before ``BATCH_2_FROM``, 2: the others)."""
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        batch = 1 if path.name < BATCH_2_FROM else 2
        if batch in batches:
            target = landing / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)


def duckdb_marts(warehouse: Path) -> dict:
    """Checksums of every mart of a published DuckDB file, opened read-only."""
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return checksums(connection)


def raw_state(connection) -> dict[str, int]:
    """Row count of every raw table and of the load log's entries (a DuckDB or PgQueries
    connection)."""
    tables = connection.execute(
        "select table_name from information_schema.tables where table_schema = 'raw' and table_type = 'BASE TABLE'"
    ).fetchall()
    return {
        table: connection.execute(f'select count(*) from raw."{table}"').fetchall()[0][0]
        for (table,) in sorted(tables)
        if table != "incentive_period_actions"
    }


def raw_problems(connection) -> list[str]:
    """Files loaded twice, raw rows of a batch the load log does not know, and files whose
    raw rows differ from the count their load-log entry records."""
    problems = []
    twice = connection.execute(
        "select source_file, count(*) from raw.load_log where outcome = 'loaded' "
        "group by source_file, content_hash having count(*) > 1"
    ).fetchall()
    problems += [f"{file} loaded {count} times" for file, count in twice]
    sources = connection.execute("select distinct source from raw.load_log").fetchall()
    for (source,) in sources:
        orphans = connection.execute(
            f'select count(*) from raw."{source}" as r where not exists (select 1 from raw.load_log as l '
            "where l.file_sequence = r._file_sequence and l.load_id = r._load_id and l.outcome = 'loaded')"
        ).fetchall()[0][0]
        if orphans:
            problems.append(f"raw.{source}: {orphans} row(s) of a batch the load log does not record")
        uneven = connection.execute(
            "select l.source_file, l.rows_delivered, count(r._file_sequence) from raw.load_log as l "
            f'left join raw."{source}" as r on r._file_sequence = l.file_sequence '
            "where l.source = ? and l.outcome = 'loaded' "
            "group by 1, 2 having count(r._file_sequence) <> l.rows_delivered",
            [source],
        ).fetchall()
        problems += [f"{file}: {rows} rows in raw, the load log says {logged}" for file, logged, rows in uneven]
    return problems


def lock_is_free(warehouse: Path) -> bool:
    """The one-writer lock of the warehouse (default state folder) can be taken at once."""
    from filelock import FileLock, Timeout

    lock = FileLock(str(warehouse.with_name(warehouse.name + ".lock")))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return False
    lock.release()
    return True


def journal_status(warehouse: Path) -> str:
    path = warehouse.with_name(warehouse.name + ".refresh.json")
    return json.loads(path.read_text())["status"] if path.exists() else "none"


def undo_logs(connection) -> list[str]:
    return [
        f"{schema}.{table}"
        for schema, table in connection.execute(
            "select table_schema, table_name from information_schema.tables where table_name like '%\\_\\_undo%' "
            "escape '\\'"
        ).fetchall()
    ]


def differing(actual: dict, expected: dict) -> list[str]:
    """Marts whose checksum differs (or that only one side has)."""
    return sorted(mart for mart in set(actual) | set(expected) if actual.get(mart) != expected.get(mart))


def accounting(warehouse: Path) -> tuple[int, int, int, int]:
    """(delivered, staged, rejected, exact duplicates) landing rows of a published file
    (audit.source_row_accounting)."""
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        row = connection.execute(
            "select sum(rows_delivered), sum(rows_staged), sum(rows_rejected), sum(rows_exact_duplicate) "
            "from audit.source_row_accounting"
        ).fetchall()[0]
    return tuple(int(value or 0) for value in row)  # type: ignore[return-value]


PUBLISHED_MART = "fct_store_incentive_published"


def published_month_problems(warehouse: Path, clean_close: Path, acted_at: str) -> list[str]:
    """``fct_store_incentive_published`` of a close run again after a kill against the clean
    close's: the same rows but for ``published_at``, which is when the publish action was
    journaled (each close journals its own); it must be the journaled action's time."""
    with duckdb.connect(":memory:") as connection:
        connection.execute(f"attach '{warehouse}' as killed (read_only)")
        connection.execute(f"attach '{clean_close}' as clean (read_only)")
        columns = "* exclude (published_at, evaluated_at)"
        only = connection.execute(
            f"select count(*) from ((select {columns} from killed.marts.{PUBLISHED_MART} "
            f"except all select {columns} from clean.marts.{PUBLISHED_MART}) union all "
            f"(select {columns} from clean.marts.{PUBLISHED_MART} "
            f"except all select {columns} from killed.marts.{PUBLISHED_MART}))"
        ).fetchall()[0][0]
        stamps = connection.execute(
            f"select distinct cast(published_at as varchar) from killed.marts.{PUBLISHED_MART} "
            "where period_month = cast(? as date)",
            [CLOSE_MONTH],
        ).fetchall()
    problems = [f"{PUBLISHED_MART}: {only} row(s) differ from the clean close's"] if only else []
    if [stamp for (stamp,) in stamps] != [acted_at[:26]] and [s[:19] for (s,) in stamps] != [acted_at[:19]]:
        problems.append(f"{PUBLISHED_MART}.published_at {stamps} is not the journaled action's {acted_at}")
    return problems


def landings(workdir: Path) -> tuple[Path, Path]:
    """Generate the campaign's data set (``DATA_ARGS``) under ``workdir`` once and deliver it as
    two landing folders: batch 1, and batches 1 and 2; returns (batch 1, batches 1 + 2)."""
    source, truth = workdir / "source", workdir / "truth"
    if not source.exists():
        subprocess.run(
            [sys.executable, "-m", "tools.sample_data", "--out", str(source), "--truth", str(truth), *DATA_ARGS],
            cwd=PROJECT_DIR,
            check=True,
            capture_output=True,
        )
    landing_1, landing_12 = workdir / "landing-1", workdir / "landing-12"
    for landing, batches in ((landing_1, (1,)), (landing_12, (1, 2))):
        shutil.rmtree(landing, ignore_errors=True)
        deliver(source, landing, batches)
    return landing_1, landing_12


class DuckDBCampaign:
    """Version A, the clean final version and its checks, for the landing folders of
    :func:`landings`."""

    def __init__(self, workdir: Path, landing: tuple[Path, Path]) -> None:
        self.workdir = workdir
        self.landing_1, self.landing_12 = landing
        # one folder per case running at a time (DuckDBCampaign.point)
        self.slots: queue.Queue[Path] = queue.Queue()
        for number in range(os.cpu_count() or 1):
            self.slots.put(workdir / "slots" / f"slot-{number}")
        self.base = workdir / "duckdb-a" / "loyalty.duckdb"
        shutil.rmtree(self.base.parent, ignore_errors=True)
        code, output = refresh(self.landing_1, self.base)
        if code not in (0, 1):
            raise RuntimeError(f"the clean refresh of batch 1 failed ({code}): {output}")
        self.version_a = duckdb_marts(self.base)
        reference = copy_warehouse(self.base, workdir / "duckdb-clean")
        self.clean_code, output = refresh(self.landing_12, reference)
        if self.clean_code not in (0, 1):
            raise RuntimeError(f"the clean refresh of batches 1+2 failed ({self.clean_code}): {output}")
        self.reference = reference
        self.clean = duckdb_marts(reference)
        with duckdb.connect(str(reference.with_name(reference.name + ".build")), read_only=True) as connection:
            self.clean_raw = raw_state(connection)
        if self.clean == self.version_a:
            raise RuntimeError("batch 2 changed no mart: the campaign could not tell the versions apart")

    def published_version(self, warehouse: Path, finals: dict[str, dict]) -> tuple[str, list[str]]:
        """Which version the published file holds ('A', a name of ``finals``), or a mismatch."""
        try:
            marts = duckdb_marts(warehouse)
        except duckdb.Error as error:
            return "", [f"the published file does not open read-only: {error}"]
        versions = {"A": self.version_a, **finals}
        for name, expected in versions.items():
            if marts == expected:
                return name, []
        return "", [
            "the published file is neither version A nor the clean final version: "
            + ", ".join(differing(marts, self.clean)[:8])
        ]

    def _slot_copy(self, slot: Path) -> Path:
        """A copy of version A in ``slot`` (a folder the cases running at the same time do not
        share), keeping the dbt parse the slot's previous case made: the parse depends on the
        build's path (orchestration/defs/dbt/project.py), so a case in the same folder reuses
        it instead of parsing the project again; returns the copy's published file."""
        parse = slot.with_name(slot.name + ".parse")
        warehouse = copy_warehouse(self.base, slot)
        kept = warehouse.with_name(warehouse.name + ".dbt") / "parse"
        if parse.exists():
            shutil.rmtree(kept, ignore_errors=True)
            shutil.copytree(parse, kept)
        return warehouse

    def _release_slot(self, slot: Path, name: str) -> None:
        """Keep the slot's dbt parse, then move the case's folder to ``points/<name>``."""
        parse = slot.with_name(slot.name + ".parse")
        shutil.rmtree(parse, ignore_errors=True)
        shutil.copytree(slot / (self.base.name + ".dbt") / "parse", parse)
        target = self.workdir / "points" / name
        shutil.rmtree(target, ignore_errors=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        slot.rename(target)

    def point(self, name: str) -> Result:
        """Kill a refresh of batch 2 at ``name``, check, run again, check (module docstring).
        The case runs in a free slot folder and ends up in ``points/<name>``."""
        slot = self.slots.get()
        try:
            result = self._point(name, slot)
            self._release_slot(slot, name)
        finally:
            self.slots.put(slot)
        return result

    def _point(self, name: str, slot: Path) -> Result:
        started = time.monotonic()
        warehouse = self._slot_copy(slot)
        mismatches: list[str] = []
        code, output = refresh(self.landing_12, warehouse, {"LOYALTY_FAILPOINT": name})
        if code != -signal.SIGKILL:
            mismatches.append(f"the refresh was not killed at {name} (exit {code}): {output[-600:]}")
        version, problems = self.published_version(warehouse, {"final": self.clean})
        mismatches += problems
        if not lock_is_free(warehouse):
            mismatches.append("the lock is held after the kill")
        mismatches += self.rerun_checks(warehouse)
        delivered = accounting(warehouse) if not mismatches else (0, 0, 0, 0)
        return Result(
            PART,
            f"duckdb {name} (published after the kill: {version or '?'})",
            1,
            int(not mismatches),
            *delivered,
            mismatches=mismatches,
            seconds=round(time.monotonic() - started, 1),
        )

    def rerun_checks(self, warehouse: Path) -> list[str]:
        """Refresh again without a failpoint; the clean run's exit, marts and raw rows."""
        mismatches = []
        code, output = refresh(self.landing_12, warehouse)
        if code != self.clean_code:
            return [f"the refresh after the kill exited {code}, the clean run {self.clean_code}: {output[-800:]}"]
        wrong = differing(duckdb_marts(warehouse), self.clean)
        if wrong:
            mismatches.append(f"after the rerun these marts differ from the clean run's: {', '.join(wrong)}")
        with duckdb.connect(str(warehouse.with_name(warehouse.name + ".build")), read_only=True) as connection:
            mismatches += raw_problems(connection)
            raw = raw_state(connection)
            if raw != self.clean_raw:
                mismatches.append(f"raw row counts {raw} differ from the clean run's {self.clean_raw}")
            left = undo_logs(connection)
        if left:
            mismatches.append(f"undo logs left after a publish: {left}")
        if journal_status(warehouse) not in FINAL_STATUSES:
            mismatches.append(f"the refresh journal says {journal_status(warehouse)!r} after the rerun")
        # the workbook (like the report) is the published version's: moved by the publish, or by
        # the rerun's start when the kill came after the swap
        workbook = warehouse.with_name("month_end_rollforwards.xlsx")
        if not workbook.exists():
            mismatches.append("no roll-forwards workbook after the rerun")
        else:
            with duckdb.connect(str(warehouse), read_only=True) as connection:
                wrong_cells = workbook_mismatches(workbook, connection)
            if wrong_cells:
                mismatches.append(f"the workbook after the rerun is not the published marts': {wrong_cells[:3]}")
        drafts = sorted(path.name for path in warehouse.parent.glob("*.work"))
        if drafts:
            mismatches.append(f"publish drafts left after the rerun: {drafts}")
        return mismatches

    def incentive_close(self) -> Result:
        """Kill the close of ``CLOSE_MONTH`` inside the incentive asset; the published file is
        the clean run's or the clean close's, and closing again gives the clean close."""
        started = time.monotonic()
        clean_close = copy_warehouse(self.reference, self.workdir / "duckdb-closed")
        code, output = close_month(self.landing_12, clean_close)
        if code != 0:
            raise RuntimeError(f"the clean close of {CLOSE_MONTH} failed ({code}): {output}")
        closed = duckdb_marts(clean_close)
        warehouse = copy_warehouse(self.reference, self.workdir / "points" / "incentives.close")
        mismatches = []
        code, output = close_month(self.landing_12, warehouse, {"LOYALTY_FAILPOINT": "incentives.close"})
        if code != -signal.SIGKILL:
            mismatches.append(f"the close was not killed (exit {code}): {output[-600:]}")
        marts = duckdb_marts(warehouse)
        if marts not in (self.clean, closed):
            mismatches.append("the published file is neither the refreshed nor the closed version")
        if not lock_is_free(warehouse):
            mismatches.append("the lock is held after the kill")
        code, output = close_month(self.landing_12, warehouse)
        if code != 0:
            mismatches.append(f"closing again after the kill failed ({code}): {output[-600:]}")
        else:
            journal = warehouse.with_name(warehouse.name + ".incentive_actions.jsonl").read_text().splitlines()
            publishes = [json.loads(line) for line in journal if json.loads(line)["period_month"] == CLOSE_MONTH]
            if len(publishes) != 1:
                mismatches.append(f"{len(publishes)} journaled publish action(s) of {CLOSE_MONTH}, expected 1")
            wrong = [mart for mart in differing(duckdb_marts(warehouse), closed) if mart != PUBLISHED_MART]
            if wrong:
                mismatches.append(f"after closing again these marts differ from the clean close's: {wrong}")
            mismatches += published_month_problems(
                warehouse, clean_close, publishes[-1]["acted_at"] if publishes else ""
            )
            if journal_status(warehouse) != "published":
                mismatches.append(f"the refresh journal says {journal_status(warehouse)!r} after the close")
        return Result(
            PART,
            "duckdb incentives.close",
            1,
            int(not mismatches),
            mismatches=mismatches,
            seconds=round(time.monotonic() - started, 1),
        )

    def incentive_journal(self) -> Result:
        """Kill ``incentives publish`` between writing its journal and putting it in place:
        the journal is the old one, whole; the same command again journals the action once."""
        started = time.monotonic()
        warehouse = copy_warehouse(self.base, self.workdir / "points" / "incentives.journal")
        journal = warehouse.with_name(warehouse.name + ".incentive_actions.jsonl")
        command = ["orchestration.cli", "incentives", "publish", "--month", JOURNAL_MONTH, "--by", "crash campaign"]
        run(["orchestration.cli", "incentives", "publish", "--month", "2024-02", "--by", "earlier"], Path(), warehouse)
        before = journal.read_text()
        mismatches = []
        code, output = run(command, Path(), warehouse, {"LOYALTY_FAILPOINT": "incentives.journal"})
        if code != -signal.SIGKILL:
            mismatches.append(f"incentives publish was not killed (exit {code}): {output[-400:]}")
        if journal.read_text() != before:
            mismatches.append("the journal changed although the command was killed before putting it in place")
        code, output = run(command, Path(), warehouse)
        entries = [json.loads(line) for line in journal.read_text().splitlines() if line.strip()]
        months = [entry["period_month"] for entry in entries]
        if code != 0 or months != ["2024-02-01", f"{JOURNAL_MONTH}-01"]:
            mismatches.append(f"after the rerun (exit {code}) the journal holds {months}: {output[-400:]}")
        return Result(
            PART,
            "incentives.journal",
            1,
            int(not mismatches),
            mismatches=mismatches,
            seconds=round(time.monotonic() - started, 1),
        )


class PostgresCampaign:
    """The same on PostgreSQL: each point on its own database, created from the database of
    version A as a template (with a copy of A's state folder)."""

    def __init__(self, landing: tuple[Path, Path], workdir: Path, server) -> None:
        (self.landing_1, self.landing_12), self.server, self.workdir = landing, server, workdir
        self.base = self.workdir / "pg-a" / "loyalty.duckdb"
        shutil.rmtree(self.base.parent, ignore_errors=True)
        self.base.parent.mkdir(parents=True)
        self.create("crash_a")
        code, output = self.refresh(self.landing_1, self.base, "crash_a")
        if code not in (0, 1):
            raise RuntimeError(f"the clean PostgreSQL refresh of batch 1 failed ({code}): {output}")
        self.version_a = self.marts("crash_a")
        reference = copy_warehouse(self.base, self.workdir / "pg-clean")
        self.create("crash_clean", template="crash_a")
        self.clean_code, output = self.refresh(self.landing_12, reference, "crash_clean")
        if self.clean_code not in (0, 1):
            raise RuntimeError(f"the clean PostgreSQL refresh of batches 1+2 failed ({self.clean_code}): {output}")
        self.clean = self.marts("crash_clean")
        with self.connect("crash_clean") as connection:
            self.clean_raw = raw_state(connection)

    def connect(self, database: str):
        import psycopg

        from loyalty.warehouse import PgQueries

        class Queries(PgQueries):
            def __enter__(self):
                return self

            def __exit__(self, *exc) -> None:
                self.connection.close()

        info = {"host": self.server.host, "port": self.server.port, "user": self.server.user, "dbname": database}
        return Queries(psycopg.connect(**info, autocommit=True))

    def create(self, database: str, template: str | None = None) -> None:
        with self.connect("postgres") as admin:
            admin.execute(f'drop database if exists "{database}" with (force)')
            admin.execute(f'create database "{database}"' + (f' template "{template}"' if template else ""))

    def refresh(self, landing: Path, state: Path, database: str, env: dict[str, str] | None = None):
        environ = {**self.server.environ, "PGDATABASE": database, "LOYALTY_TARGET": "postgres", **(env or {})}
        return refresh(landing, state, environ)

    def marts(self, database: str) -> dict:
        with self.connect(database) as connection:
            return checksums(connection)

    def point(self, name: str) -> Result:
        started = time.monotonic()
        database = "crash_" + name.replace(".", "_")
        state = copy_warehouse(self.base, self.workdir / "points" / f"pg-{name}")
        self.create(database, template="crash_a")
        mismatches: list[str] = []
        code, output = self.refresh(self.landing_12, state, database, {"LOYALTY_FAILPOINT": name})
        if code != -signal.SIGKILL:
            mismatches.append(f"the PostgreSQL refresh was not killed at {name} (exit {code}): {output[-600:]}")
        marts = self.marts(database)
        version = "A" if marts == self.version_a else "final" if marts == self.clean else ""
        if not version:
            mismatches.append(
                "the published schemas are neither version A nor the clean final version: "
                + ", ".join(differing(marts, self.clean)[:8])
            )
        if not lock_is_free(state):
            mismatches.append("the lock is held after the kill")
        code, output = self.refresh(self.landing_12, state, database)
        if code != self.clean_code:
            mismatches.append(f"the refresh after the kill exited {code}, the clean run {self.clean_code}: {output}")
        else:
            wrong = differing(self.marts(database), self.clean)
            if wrong:
                mismatches.append(f"after the rerun these marts differ from the clean run's: {', '.join(wrong)}")
            with self.connect(database) as connection:
                mismatches += raw_problems(connection)
                raw = raw_state(connection)
                if raw != self.clean_raw:
                    mismatches.append(f"raw row counts {raw} differ from the clean run's {self.clean_raw}")
                left = undo_logs(connection)
            if left:
                mismatches.append(f"undo logs left after a publish: {left}")
        with self.connect("postgres") as admin:
            admin.execute(f'drop database if exists "{database}" with (force)')
        return Result(
            PART,
            f"postgres {name} (published after the kill: {version or '?'})",
            1,
            int(not mismatches),
            mismatches=mismatches,
            seconds=round(time.monotonic() - started, 1),
        )


def _postgres_points(duck_landing: tuple[Path, Path], workdir: Path, points: list[str]) -> list[Result]:
    """The PostgreSQL points, one after the other, against a throwaway server of their own
    (tools/throwaway_postgres.py), stopped whatever happens."""
    from tools import throwaway_postgres

    server = throwaway_postgres.start()
    try:
        postgres = PostgresCampaign(duck_landing, workdir, server)
        # one at a time: each database is created from version A's as a template,
        # which PostgreSQL refuses while another session reads the template
        return [postgres.point(name) for name in points]
    finally:
        throwaway_postgres.stop(server.data_dir, server.bin_dir)


def campaign(workdir: Path, *, full: bool, points: list[str] | None = None) -> list[Result]:
    """One Result per crash point (part "crash"). ``full``: every DuckDB point, the incentive
    close and journal points and the PostgreSQL points (a throwaway server, tools/
    throwaway_postgres.py); otherwise ``BOUNDED_POINTS``. ``points`` narrows the DuckDB and
    PostgreSQL lists (names of loyalty/failpoints.py). Raises RuntimeError when a clean run
    fails (the campaign cannot run), never for a mismatch it finds (docs/reliability.md).

    Every case kills and reruns its own copy of version A, so the cases are independent: the
    DuckDB cases run two at a time, the latest points (the longest refreshes) first, and the
    PostgreSQL points run beside them from the start, so that both cores stay busy to the end."""
    unknown = [name for name in points or [] if name not in FAILPOINTS]
    if unknown:
        raise ValueError(f"not failpoints: {unknown}")
    workdir.mkdir(parents=True, exist_ok=True)
    chosen = lambda listed: [p for p in listed if points is None or p in points]  # noqa: E731
    landing = landings(workdir)
    pg_points = chosen(POSTGRES_POINTS) if full else []
    with ThreadPoolExecutor(max_workers=1) as beside:
        postgres = beside.submit(_postgres_points, landing, workdir, pg_points) if pg_points else None
        duck = DuckDBCampaign(workdir, landing)
        special: dict[str, Callable[[], Result]] = {
            "incentives.close": duck.incentive_close,
            "incentives.journal": duck.incentive_journal,
        }
        names = chosen(DUCKDB_POINTS if full else BOUNDED_POINTS)
        tasks = [functools.partial(duck.point, name) for name in reversed(names)]
        if full:
            tasks += [special[name] for name in chosen(SPECIAL_POINTS)]
        done = in_parallel(tasks)
        results = done[: len(names)][::-1] + done[len(names) :]
        if postgres is not None:
            results += postgres.result()
    return results


def main_close(month: str) -> int:
    """Close ``month`` (YYYY-MM-01) with the ``incentive_close`` job, in process, with this
    process's settings (the failpoint armed as the command line arms it); exit 0 on success."""
    import dagster as dg

    from loyalty import failpoints
    from loyalty.settings import load_settings
    from orchestration.definitions import build_defs

    settings = load_settings()
    failpoints.arm(settings.failpoint)
    job = build_defs(settings).resolve_job_def("incentive_close")
    result = job.execute_in_process(partition_key=month, instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    return 0 if result.success else 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.faults.crashes", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", nargs="?", default="campaign", choices=["campaign", "close"])
    parser.add_argument("month", nargs="?", help="close: the month, YYYY-MM-01")
    parser.add_argument("--full", action="store_true", help="every point, PostgreSQL included")
    parser.add_argument("--workdir", type=Path, default=None, help="default: a new temporary folder")
    parser.add_argument("--points", default="", help="comma-separated point names (default: all of the run)")
    args = parser.parse_args(argv)
    if args.command == "close":
        return main_close(args.month)
    import tempfile

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="loyalty-crash-"))
    points = [name for name in args.points.split(",") if name] or None
    results = campaign(workdir, full=args.full, points=points)
    for result in results:
        print(f"{result.what:<70} {result.survived}/{result.tried} {result.seconds:>7.1f}s")
        for mismatch in result.mismatches:
            print(f"    MISMATCH {mismatch}")
    return 0 if all(not result.mismatches for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
