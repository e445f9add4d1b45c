"""`make bench SCALE=1M|10M|100M`: time a full refresh, a day's refresh and an idle refresh
against the plain-DuckDB limit script (bench/limit.sql), on generated data.

One run, in ``bench/<scale>/``:

1. **Data.** 1M: the generator writes the whole data set into ``source/`` (and its ground truth
   into ``truth/``) with ``--accounts 21000 --months 36`` (about a million ledger events), unless
   ``source.json`` shows it was already generated with the same arguments (then it is reused).
   The generator holds a data set in memory, so 10M and 100M are the 1M data set (generated into
   ``bench/1M/`` or reused from there) tiled 10 and 100 times by ``tools.sample_data.tile``:
   every file of the same name holds N copies of its rows, identifiers suffixed per copy
   (``-c007``), so N independent programs side by side (same faults, same timestamps); reused
   while ``source.json`` names the same generator arguments and copies. ``--accounts`` /
   ``--months`` generate instead (no tiling; the folder is then
   ``bench/custom-<accounts>x<months>/``).
2. **The days.** Every file is split at cutoffs: the ``recorded_at`` quantiles 1 - k x
   ``--day-share`` (1 %) of the ledger events, k = ``--days`` (default 1) .. 1. Rows up to the
   first cutoff stay in a file of the same name and format in ``split/initial/``; day k's rows
   (after cutoff k, up to the next) go to ``split/day-<k>/<source>/day-<date>_<file>.<ext>``
   (the date of the day's last ledger event), so each day brings about 1 % of the events.
   Split by ``recorded_at``: ledger events and wallet transactions; ``updated_at``: orders;
   ``as_of``: balance snapshots; ``business_date``: store operations; ``enrolled_at``: members.
   Stores and store targets are delivered up front. A row whose split column does not parse
   stays in its initial file. Files without a later row are hard links of the source; the
   split is reused while ``split.json`` matches.
3. **Limit.** ``landing/`` is made from ``split/initial/`` (hard links) and bench/limit.sql runs
   on it in a child process: one DuckDB connection, 2 threads, a fresh database file (removed
   once measured). ``--skip-limit`` leaves it out (no ratios).
4. **Refreshes**, per engine (``--engines``, default duckdb; postgres runs on a throwaway server
   this command starts, see ``PG_BENCH_SETTINGS``, or with ``--pg-from-env`` on the one the PG*
   variables name): ``python -m orchestration.cli refresh`` with LOYALTY_LANDING_DIR =
   ``landing/``, LOYALTY_WAREHOUSE = ``<engine>/loyalty.duckdb`` and LOYALTY_STATE_DIR =
   ``<engine>/state/`` (emptied first): (a) full refresh, (b) after each day's files are copied
   into ``landing/``, one refresh per day, (c) with nothing new.

For each step: wall time, peak memory (the summed proportional set size of the process and its
descendants, sampled twice a second; on PostgreSQL also the server's), then the published
file's and the build database's size (``Settings.build_database``; "n/a" while settings has
none), the slowest dbt models (run_results.json of the refresh's dbt build) and where the time
went: the wall time of the dbt build and of the findings run, the models' and the tests' summed
thread time, and the rest (loading, publishing, Dagster; ``dbt_time_split``). The generator
and the tiling get their own rows (time and peak memory of the run that made the data, also
when it is reused). Each refresh time is printed as a ratio to the limit's. Results:
``bench/results/<date>-<scale>.json`` (written after every step, ``"complete": false`` until the
run ends, so an interrupted run keeps what it measured) and one markdown table with the machine
and versions, the days' mean time as a share of the full refresh and the build database's
growth over the days.

    python -m tools.bench [--scale 1M] [--engines duckdb[,postgres]] [--pg-from-env]
                          [--day-share 0.01] [--days 1] [--skip-limit] [--seed 42]
                          [--accounts N --months N] [--data-only]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import psutil

from loyalty.settings import PROJECT_DIR, load_settings
from loyalty.warehouse import pg_conninfo
from tools import throwaway_postgres

BENCH_DIR = PROJECT_DIR / "bench"
RESULTS_DIR = BENCH_DIR / "results"
LIMIT_SQL = BENCH_DIR / "limit.sql"
SEEDS_DIR = PROJECT_DIR / "seeds"
# scale -> copies of the 1M data set (21,000 accounts x 36 months, about a million ledger events)
SCALES = {"1M": 1, "10M": 10, "100M": 100}
BASE_SCALE, BASE_ACCOUNTS, MONTHS = "1M", 21_000, 36
LIMIT_THREADS = 2
# the column each source's rows are split by into the initial delivery and the day's files;
# sources not named (stores, store_targets) are delivered whole up front
SPLIT_COLUMNS = {
    "ledger_events": "recorded_at",
    "wallet_transactions": "recorded_at",
    "orders": "updated_at",
    "balance_snapshots": "as_of",
    "store_operations": "business_date",
    "members": "enrolled_at",
}
# A modest server for 24 GiB / 2 cores (PostgreSQL's defaults are sized for a tiny machine).
PG_BENCH_SETTINGS = {"shared_buffers": "1GB", "work_mem": "256MB", "maintenance_work_mem": "512MB"}
MIB = 2**20


class TreeMemory:
    """Peak of the summed proportional set size (PSS) of a process and its descendants,
    sampled: PSS shares pages between processes, so the sum does not count shared memory
    (PostgreSQL's shared buffers, libraries) once per process."""

    def __init__(self, pid: int, interval: float = 0.5) -> None:
        self.root = psutil.Process(pid)
        self.interval = interval
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            total = 0
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                processes = [self.root, *self.root.children(recursive=True)]
                for process in processes:
                    with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                        total += process.memory_full_info().pss
            self.peak_bytes = max(self.peak_bytes, total)
            self._stop.wait(self.interval)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run(command: list[str], env: dict[str, str]) -> tuple[float, int, subprocess.CompletedProcess[str]]:
    """Run a command; its wall time and the peak summed PSS of its process tree (bytes)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=PROJECT_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    with TreeMemory(process.pid) as memory:
        stdout, stderr = process.communicate()
    seconds = time.perf_counter() - started
    return seconds, memory.peak_bytes, subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def _run_results(path: Path, since: float) -> dict[str, object] | None:
    """The run_results.json at ``path`` when it was written after ``since`` (a time.time()
    value), else None: a refresh with nothing new runs no dbt and leaves the last one's."""
    if not path.exists() or path.stat().st_mtime < since:
        return None
    return json.loads(path.read_text())


def slowest_models(target: Path, since: float, count: int = 8) -> list[tuple[str, float]]:
    run_results = _run_results(target / "run_results.json", since)
    if run_results is None:
        return []
    results = run_results["results"]
    timings = [
        (result["unique_id"].split(".")[-1], round(float(result.get("execution_time") or 0.0), 1))
        for result in results
        if result["unique_id"].startswith("model.")
    ]
    return sorted(timings, key=lambda item: item[1], reverse=True)[:count]


def dbt_time_split(target: Path, since: float) -> dict[str, float] | None:
    """Where a refresh's dbt time went, from the run_results.json of its two dbt invocations
    (``build``: models and integrity tests; ``findings``: the reconciliation findings) under the
    refresh's dbt target folder ``target``: ``build_s`` and ``findings_s`` (each invocation's
    wall time, dbt's ``elapsed_time``), ``model_thread_s`` and ``test_thread_s`` (the sum of the
    nodes' execution times of both; threads overlap, so they can exceed the wall time). None
    when no run_results.json was written after ``since`` (a time.time() value): a refresh with
    nothing new runs no dbt."""
    split = {"build_s": 0.0, "findings_s": 0.0, "model_thread_s": 0.0, "test_thread_s": 0.0}
    found = False
    for invocation in ("build", "findings"):
        run_results = _run_results(target / invocation / "run_results.json", since)
        if run_results is None:
            continue
        found = True
        split[f"{invocation}_s"] = round(float(run_results.get("elapsed_time") or 0.0), 1)
        for result in run_results["results"]:
            kind = result["unique_id"].split(".")[0]
            key = {"model": "model_thread_s", "test": "test_thread_s"}.get(kind)
            if key is not None:
                split[key] += float(result.get("execution_time") or 0.0)
    split["model_thread_s"] = round(split["model_thread_s"], 1)
    split["test_thread_s"] = round(split["test_thread_s"], 1)
    return split if found else None


def _database_mib(env: dict[str, str]) -> float | None:
    import psycopg

    with psycopg.connect(**pg_conninfo(env)) as connection:
        return connection.execute("select pg_database_size(current_database())").fetchone()[0] / MIB


def _file_mib(path: Path | None) -> float | None:
    """Size of a DuckDB file with its write-ahead log; None when absent."""
    if path is None or not path.exists():
        return None
    wal = path.with_name(path.name + ".wal")
    return (path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)) / MIB


def _tree_mib(path: Path) -> float:
    return sum(entry.stat().st_size for entry in path.rglob("*") if entry.is_file()) / MIB


def _rmtree(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def _link_tree(source: Path, target: Path) -> None:
    """Recreate ``target`` as a copy of ``source`` made of hard links (a copy when linking fails)."""
    _rmtree(target)
    for path in sorted(source.rglob("*")):
        if path.is_file():
            destination = target / path.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(path, destination)
            except OSError:
                shutil.copy2(path, destination)


# --- data ------------------------------------------------------------------------------------


def ensure_source(root: Path, generator_args: dict[str, int]) -> dict[str, object]:
    """Generate the full data set into root/source (or reuse it); the generator's figures."""
    source, truth, stamp = root / "source", root / "truth", root / "source.json"
    if stamp.exists() and source.is_dir():
        recorded = json.loads(stamp.read_text())
        if recorded.get("arguments") == generator_args:
            return {**recorded, "reused": True}
    for stale in (source, truth, stamp, root / "split", root / "split.json"):
        _rmtree(stale)
    root.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "tools.sample_data", "--out", str(source), "--truth", str(truth), "--overwrite"]
    for name, value in generator_args.items():
        command += [f"--{name}", str(value)]
    seconds, peak_bytes, completed = run(command, dict(os.environ))
    if completed.returncode != 0:
        raise SystemExit(f"the generator failed (exit {completed.returncode}):\n{completed.stderr.strip()}")
    recorded = {
        "arguments": generator_args,
        "summary": completed.stdout.strip().splitlines()[0],
        "seconds": round(seconds, 1),
        "peak_pss_mib": round(peak_bytes / MIB),
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    stamp.write_text(json.dumps(recorded, indent=2) + "\n")
    return {**recorded, "reused": False}


def ensure_tiled(root: Path, base: Path, generator_args: dict[str, int], copies: int) -> dict[str, object]:
    """Tile base/source (the generator's data set) ``copies`` times into root/source (or reuse
    it); the tiling's figures."""
    source, stamp = root / "source", root / "source.json"
    if stamp.exists() and source.is_dir():
        recorded = json.loads(stamp.read_text())
        if recorded.get("arguments") == generator_args and recorded.get("copies") == copies:
            return {**recorded, "reused": True}
    for stale in (source, root / "truth", stamp, root / "split", root / "split.json"):
        _rmtree(stale)
    root.mkdir(parents=True, exist_ok=True)
    command = [
        *(sys.executable, "-m", "tools.sample_data.tile", "--source", str(base / "source")),
        *("--out", str(source), "--copies", str(copies), "--overwrite"),
    ]
    seconds, peak_bytes, completed = run(command, dict(os.environ))
    if completed.returncode != 0:
        raise SystemExit(f"the tiling failed (exit {completed.returncode}):\n{completed.stderr.strip()}")
    recorded = {
        "arguments": generator_args,
        "copies": copies,
        "tiled_from": str(base.relative_to(PROJECT_DIR) / "source") if base.is_relative_to(PROJECT_DIR) else str(base),
        "summary": completed.stdout.strip().splitlines()[0],
        "seconds": round(seconds, 1),
        "peak_pss_mib": round(peak_bytes / MIB),
        "source_mib": round(_tree_mib(source)),
        "tiled_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    stamp.write_text(json.dumps(recorded, indent=2) + "\n")
    return {**recorded, "reused": False}


def _split_expression(column: str) -> str:
    # a typed Parquet column and a CSV text both go through text, so an unparseable value is null
    return f'try_cast(trim(cast("{column}" as varchar)) as timestamptz)'


def _reader(path: Path) -> str:
    if path.suffix.lower() == ".csv":
        return (
            f"read_csv('{path}', all_varchar = true, header = true, delim = ',', quote = '\"', escape = '\"',"
            " auto_detect = false, columns = {COLUMNS})"
        )
    return f"read_parquet('{path}')"


def _csv_columns(connection, path: Path) -> str:
    header = connection.execute(
        f"select * from read_csv('{path}', all_varchar = true, header = true, delim = ',', quote = '\"') limit 0"
    ).description
    return "{" + ", ".join(f"'{column[0]}': 'varchar'" for column in header) + "}"


def ensure_split(root: Path, data_args: dict[str, int], day_share: float, days: int = 1) -> dict[str, object]:
    """Split root/source into split/initial and ``days`` daily deliveries split/day-<k>/ at the
    cutoffs (or reuse the split while the data's arguments, the generator's plus the copies, the
    day's share and the number of days match).

    The cutoffs are the ``recorded_at`` quantiles 1 - k x ``day_share`` of the ledger events,
    k = days .. 1: day k holds the rows after cutoff k and up to cutoff k + 1 (the last day: every
    later row), so each day brings about ``day_share`` of the events. Returns the split's figures:
    ``cutoff`` (the initial delivery's), ``day_list`` (per day: label, the cutoff it follows,
    ledger events, share), ``files_split`` (per split file: rows, rows after the initial
    delivery, rows per day)."""
    import duckdb

    source, split, stamp = root / "source", root / "split", root / "split.json"
    wanted = {"data": data_args, "day_share": day_share, "days": days}
    if stamp.exists() and (split / "initial").is_dir():
        recorded = json.loads(stamp.read_text())
        if {key: recorded.get(key) for key in wanted} == wanted and "day_list" in recorded:
            return {**recorded, "reused": True}
    _rmtree(split)
    _rmtree(stamp)
    started = time.perf_counter()
    connection = duckdb.connect(config={"threads": LIMIT_THREADS})
    connection.execute("set TimeZone = 'UTC'")

    def relation(path: Path) -> str:
        reader = _reader(path)
        return reader.replace("{COLUMNS}", _csv_columns(connection, path)) if "{COLUMNS}" in reader else reader

    ledger_files = sorted((source / "ledger_events").iterdir())
    recorded_at = _split_expression("recorded_at")
    ledger = " union all ".join(f"select {recorded_at} as moment from {relation(path)}" for path in ledger_files)
    quantiles = [round(1 - k * day_share, 6) for k in range(days, 0, -1)]
    quantile = f"quantile_disc(moment, {quantiles})"
    events, cutoffs = connection.execute(f"select count(*), {quantile} from ({ledger})").fetchone()

    def bucket(moment: str) -> str:
        """0 for the initial delivery (and a value that does not parse), k for day k."""
        arms = " ".join(
            f"when {moment} <= timestamptz '{cutoff.isoformat()}' then {k}" for k, cutoff in enumerate(cutoffs)
        )
        return f"case when {moment} is null then 0 {arms} else {days} end"

    # per day: its ledger events and the last one's moment (none when a day is empty)
    per_day = {k: (0, None) for k in range(days + 1)}
    for k, count, end in connection.execute(
        f"select {bucket('moment')} as day, count(*), max(moment) from ({ledger}) group by all"
    ).fetchall():
        per_day[k] = (count, end)
    day_labels = {
        k: f"day-{end:%Y-%m-%d}" if end is not None else f"day-{k:02d}" for k, (_, end) in per_day.items() if k > 0
    }
    files: dict[str, dict[str, object]] = {}
    for folder in sorted(path for path in source.iterdir() if path.is_dir()):
        for path in sorted(folder.iterdir()):
            initial = split / "initial" / folder.name / path.name
            initial.parent.mkdir(parents=True, exist_ok=True)
            column = SPLIT_COLUMNS.get(folder.name)
            counts: dict[int, int] = {}
            if column is not None:
                rows, day = relation(path), bucket(_split_expression(column))
                counts = dict(connection.execute(f"select {day} as day, count(*) from {rows} group by all").fetchall())
            later = sum(count for k, count in counts.items() if k > 0)
            if not later:
                os.link(path, initial)
                continue
            kind = "csv" if path.suffix.lower() == ".csv" else "parquet"
            options = "format csv, header true" if kind == "csv" else "format parquet"
            if counts.get(0):
                connection.execute(f"copy (select * from {rows} where {day} = 0) to '{initial}' ({options})")
            for k in sorted(k for k in counts if k > 0):
                target = split / f"day-{k:02d}" / folder.name / f"{day_labels[k]}_{path.stem}{path.suffix}"
                target.parent.mkdir(parents=True, exist_ok=True)
                connection.execute(f"copy (select * from {rows} where {day} = {k}) to '{target}' ({options})")
            files[f"{folder.name}/{path.name}"] = {
                "rows": sum(counts.values()),
                "day_rows": later,
                "rows_per_day": {str(k): counts[k] for k in sorted(counts) if k > 0},
            }
    connection.close()
    day_list = [
        {
            "day": k,
            "label": day_labels[k],
            "after": cutoffs[k - 1].isoformat(),
            "ledger_events": per_day[k][0],
            "share_of_events": round(per_day[k][0] / events, 5),
        }
        for k in range(1, days + 1)
    ]
    recorded = {
        **wanted,
        "cutoff": cutoffs[0].isoformat(),
        "ledger_events": events,
        "day_ledger_events": sum(day["ledger_events"] for day in day_list),
        "day_share_of_events": round(sum(day["ledger_events"] for day in day_list) / events, 5),
        "day_list": day_list,
        "files_split": files,
        "seconds": round(time.perf_counter() - started, 1),
    }
    stamp.write_text(json.dumps(recorded, indent=2) + "\n")
    return {**recorded, "reused": False}


# --- the limit script --------------------------------------------------------------------------


def _statements(sql: str) -> list[str]:
    """bench/limit.sql's statements (each ends with a semicolon at the end of a line)."""
    statements, current = [], []
    for line in sql.splitlines():
        current.append(line)
        if line.rstrip().endswith(";"):
            text = "\n".join(current).strip()
            if any(part.strip() and not part.strip().startswith("--") for part in current):
                statements.append(text)
            current = []
    return statements


def limit_main(landing: Path, database: Path) -> int:
    """Run bench/limit.sql on ``landing`` into a fresh ``database``; print the slowest statements
    as JSON (the child process of :func:`run_limit`)."""
    import duckdb

    _rmtree(database)
    connection = duckdb.connect(str(database), config={"threads": LIMIT_THREADS})
    connection.execute("set variable landing = $landing", {"landing": str(landing)})
    connection.execute("set variable seeds = $seeds", {"seeds": str(SEEDS_DIR)})
    timings = []
    for statement in _statements(LIMIT_SQL.read_text()):
        started = time.perf_counter()
        connection.execute(statement)
        name = next(line for line in statement.splitlines() if line.strip() and not line.startswith("--"))
        timings.append((name.removeprefix("create or replace ").split(" as")[0][:60], time.perf_counter() - started))
    connection.close()
    timings.sort(key=lambda item: item[1], reverse=True)
    print(json.dumps([(name, round(seconds, 1)) for name, seconds in timings[:8]]))
    return 0


def run_limit(landing: Path, database: Path) -> dict[str, object]:
    command = [sys.executable, "-m", "tools.bench", "--run-limit", str(landing), str(database)]
    seconds, peak_bytes, completed = run(command, dict(os.environ))
    if completed.returncode != 0:
        raise SystemExit(f"bench/limit.sql failed:\n{completed.stderr.strip()[-4000:]}")
    database_mib = round(_file_mib(database) or 0)
    _rmtree(database)  # measured; at 10M it holds gigabytes the refreshes may need
    return {
        "seconds": round(seconds, 1),
        "peak_pss_mib": round(peak_bytes / MIB),
        "database_mib": database_mib,
        "slowest_statements": json.loads(completed.stdout.strip().splitlines()[-1]),
    }


# --- refreshes ---------------------------------------------------------------------------------


def refresh_env(landing: Path, engine_dir: Path, engine: str) -> dict[str, str]:
    # nor DAGSTER_HOME: the refreshes timed here keep their runs in each warehouse's own instance
    env = {name: value for name, value in os.environ.items() if not name.startswith("LOYALTY_")}
    env.pop("DAGSTER_HOME", None)
    # the operator's machine settings carry over (read through loyalty/settings.py)
    operator = load_settings()
    env["LOYALTY_MEMORY_LIMIT"] = operator.memory_limit
    env["LOYALTY_THREADS"] = str(operator.threads)
    if operator.pg_bin is not None:
        env["LOYALTY_PG_BIN"] = str(operator.pg_bin)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # dbt for dagster-dbt
    env.update(
        {
            "LOYALTY_LANDING_DIR": str(landing),
            "LOYALTY_WAREHOUSE": str(engine_dir / "loyalty.duckdb"),
            "LOYALTY_STATE_DIR": str(engine_dir / "state"),
            "LOYALTY_TARGET": engine,
        }
    )
    return env


def time_refresh(env: dict[str, str], server_pid: int | None) -> dict[str, object]:
    command = [sys.executable, "-m", "orchestration.cli", "refresh"]
    started_at = time.time()
    if server_pid is not None:
        with TreeMemory(server_pid) as server:
            seconds, peak_bytes, completed = run(command, env)
        server_mib: int | None = round(server.peak_bytes / MIB)
    else:
        seconds, peak_bytes, completed = run(command, env)
        server_mib = None
    if completed.returncode not in (0, 1):
        print(completed.stdout[-4000:], completed.stderr[-4000:], file=sys.stderr)
    settings = load_settings({name: value for name, value in env.items() if name.startswith("LOYALTY_")})
    build_database = getattr(settings, "build_database", None)
    if settings.target == "postgres":
        build_mib = _database_mib(env)
    else:
        build_mib = _file_mib(build_database) if build_database is not None else None
    return {
        "exit_code": completed.returncode,
        "seconds": round(seconds, 1),
        "peak_pss_mib": round(peak_bytes / MIB),
        "server_peak_pss_mib": server_mib,
        "published_mib": round(_file_mib(settings.warehouse) or 0),
        "build_database": str(build_database) if build_database is not None else None,
        "build_database_mib": round(build_mib) if build_mib is not None else None,
        "slowest_models": slowest_models(settings.dbt_target_dir / "build", started_at),
        "dbt_time_split": dbt_time_split(settings.dbt_target_dir, started_at),
        "summary": [line for line in completed.stdout.splitlines() if line.strip()][-12:],
    }


def stop_if_failed(figures: dict[str, object]) -> None:
    """Raise SystemExit when a timed refresh failed (exit other than 0, or 1: published with
    findings); the caller has saved its figures first, so a failed step keeps its time and memory."""
    if figures["exit_code"] not in (0, 1):
        raise SystemExit(f"the refresh failed (exit {figures['exit_code']})")


def bench_engine(
    engine: str,
    root: Path,
    split: dict[str, object],
    pg_from_env: bool,
    results: dict[str, object],
    save: Callable[[], None],
) -> None:
    """Time the full refresh, one refresh per day of ``split`` (its files copied into the landing
    folder first) and one with nothing new, filling ``results`` (``full``, ``days``: a list,
    ``idle``) and calling ``save`` after each refresh, so an interrupted run keeps what it measured."""
    landing, engine_dir, split_dir = root / "landing", root / engine, root / "split"
    _link_tree(split_dir / "initial", landing)
    _rmtree(engine_dir)
    engine_dir.mkdir(parents=True)
    env = refresh_env(landing, engine_dir, engine)
    server = None
    if engine == "postgres" and not pg_from_env:
        server = throwaway_postgres.start(settings=PG_BENCH_SETTINGS)
        env.update(server.environ)
    server_pid = server.postmaster_pid if server is not None else None
    try:
        print(f"{engine}: full refresh ...", flush=True)
        results["full"] = time_refresh(env, server_pid)
        save()
        stop_if_failed(results["full"])
        results["days"] = []
        for day in split["day_list"]:
            day_dir = split_dir / f"day-{day['day']:02d}"
            for path in sorted(day_dir.rglob("*")):
                if path.is_file():
                    shutil.copyfile(path, landing / path.relative_to(day_dir))
            print(f"{engine}: refresh after {day['label']} ({day['ledger_events']:,} ledger events) ...", flush=True)
            results["days"].append({**time_refresh(env, server_pid), "day": day})
            save()
            stop_if_failed(results["days"][-1])
        print(f"{engine}: refresh with nothing new ...", flush=True)
        results["idle"] = time_refresh(env, server_pid)
        save()
        stop_if_failed(results["idle"])
    finally:
        if server is not None:
            throwaway_postgres.stop(server.data_dir, server.bin_dir)


# --- report ------------------------------------------------------------------------------------


def machine() -> dict[str, object]:
    versions = {}
    for package in ("duckdb", "dbt-core", "dbt-duckdb", "dagster"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "cores": psutil.cpu_count(logical=True),
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        **versions,
    }


def _mib(value: object) -> str:
    return f"{value:,} MiB" if isinstance(value, int | float) else "n/a"


def _ratio(seconds: float, limit: dict[str, object] | None) -> str:
    return f"{seconds / limit['seconds']:.2f}" if limit else "n/a"


def table(results: dict[str, object]) -> str:
    """The markdown table of a run (also of an interrupted one: the steps it measured)."""
    info = results["machine"]
    generator, tiling, split = results["generator"], results.get("tiling"), results["split"]
    limit = results.get("limit")
    lines = [
        f"`make bench SCALE={results['scale']}` on {results['date']}: {info['cores']} cores, {info['ram_gib']} GiB RAM;"
        f" Python {info['python']}, DuckDB {info['duckdb']}, dbt-core {info['dbt-core']}"
        f" (dbt-duckdb {info['dbt-duckdb']}), dagster {info['dagster']}",
        "",
        "| step | wall time | ÷ limit | peak memory (PSS) | published file | build database |",
        "|---|---|---|---|---|---|",
        f"| generator{' (reused, time of its run)' if generator['reused'] else ''}: {generator['summary']}"
        f" | {generator['seconds']} s | | {_mib(generator['peak_pss_mib'])} | | |",
    ]
    if tiling is not None:
        lines.append(
            f"| tiling{' (reused, time of its run)' if tiling['reused'] else ''}: {tiling['summary']}"
            f" | {tiling['seconds']} s | | {_mib(tiling['peak_pss_mib'])} | | |"
        )
    days = split.get("days", 1)
    lines.append(
        f"| split at {split['cutoff']}{' (reused)' if split['reused'] else ''}:"
        f" {days} day{'s' if days > 1 else ''} = {split['day_ledger_events']:,}"
        f" of {split['ledger_events']:,} ledger events ({100 * split['day_share_of_events']:.2f} %)"
        f" | {split['seconds']} s | | | | |"
    )
    if limit:
        lines.append(
            f"| limit: bench/limit.sql, plain DuckDB, {LIMIT_THREADS} threads, initial landing | {limit['seconds']} s"
            f" | 1.00 | {_mib(limit['peak_pss_mib'])} | {_mib(limit['database_mib'])} (its database) | |"
        )
    else:
        lines.append("| limit: not run (--skip-limit) | | n/a | | | |")

    def row(engine: str, label: str, figures: dict[str, object]) -> str:
        memory = _mib(figures["peak_pss_mib"])
        if figures["server_peak_pss_mib"] is not None:
            memory += f" + server {_mib(figures['server_peak_pss_mib'])}"
        return (
            f"| {engine}: {label} (exit {figures['exit_code']}) | {figures['seconds']} s"
            f" | {_ratio(figures['seconds'], limit)} | {memory} | {_mib(figures['published_mib'])}"
            f" | {_mib(figures['build_database_mib'])} |"
        )

    notes = []
    for engine in results["engines"]:
        measured = results.get(engine, {})
        if "full" in measured:
            lines.append(row(engine, "full refresh (empty state)", measured["full"]))
        for figures in measured.get("days", []):
            day = figures["day"]
            label = f"refresh after {day['label']} ({day['ledger_events']:,} ledger events, day {day['day']} of {days})"
            lines.append(row(engine, label, figures))
        if "idle" in measured:
            lines.append(row(engine, "refresh, nothing new", measured["idle"]))
        if "full" in measured:
            full = measured["full"]
            models = ", ".join(f"{name} {seconds} s" for name, seconds in full["slowest_models"])
            notes.append(f"{engine} full refresh, slowest models: {models or 'n/a'}")
        if measured.get("days"):
            for figures in measured["days"]:
                models = ", ".join(f"{name} {seconds} s" for name, seconds in figures["slowest_models"])
                notes.append(f"{engine} refresh after {figures['day']['label']}, slowest models: {models or 'n/a'}")
            seconds = [figures["seconds"] for figures in measured["days"]]
            share = sum(seconds) / len(seconds) / full["seconds"] if "full" in measured else None
            notes.append(
                f"{engine} days: mean {sum(seconds) / len(seconds):.1f} s, max {max(seconds):.1f} s"
                + (f", mean {100 * share:.0f} % of the full refresh" if share is not None else "")
            )
            sizes = [figures["build_database_mib"] for figures in measured["days"]]
            if "full" in measured and full["build_database_mib"] and all(size is not None for size in sizes):
                notes.append(
                    f"{engine} build database: {_mib(full['build_database_mib'])} after the full refresh,"
                    f" {_mib(sizes[-1])} after {len(sizes)} day(s) ({sizes[-1] / full['build_database_mib']:.2f}x),"
                    f" largest {_mib(max(sizes))}"
                )
        for label, figures in [("full refresh", measured.get("full"))] + [
            (f"refresh after {figures['day']['label']}", figures) for figures in measured.get("days", [])
        ]:
            split = (figures or {}).get("dbt_time_split")
            if split:
                outside = figures["seconds"] - split["build_s"] - split["findings_s"]
                notes.append(
                    f"{engine} {label}: dbt build {split['build_s']} s (models {split['model_thread_s']}"
                    f" thread-s, tests {split['test_thread_s']} thread-s), findings {split['findings_s']} s,"
                    f" outside dbt {outside:.1f} s (load, publish, Dagster)"
                )
    if not results.get("complete", True):
        notes.append("INTERRUPTED: the steps above are those measured before the run stopped")
    if limit:
        statements = ", ".join(f"{name} {seconds} s" for name, seconds in limit["slowest_statements"])
        notes.append(f"limit, slowest statements: {statements}")
    return "\n".join(lines) + "".join(f"\n\n{note}" for note in notes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=sorted(SCALES, key=SCALES.get), default="1M")
    parser.add_argument(
        "--accounts", type=int, help=f"generate this many accounts, no tiling (default {BASE_ACCOUNTS}; bench/custom-…)"
    )
    parser.add_argument("--months", type=int, help=f"generate this many months, no tiling (default {MONTHS})")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--day-share", type=float, default=0.01, help="share of ledger events in a day")
    parser.add_argument(
        "--days", type=int, default=1, help="daily refreshes after the full one, each of --day-share (default 1)"
    )
    parser.add_argument("--skip-limit", action="store_true", help="do not run bench/limit.sql (no ratios)")
    parser.add_argument("--engines", default="duckdb", help="comma-separated targets to time (duckdb, postgres)")
    parser.add_argument(
        "--pg-from-env", action="store_true", help="time PostgreSQL on the server the PG* variables name"
    )
    parser.add_argument("--data-only", action="store_true", help="prepare the data (generator, tiling, split) and stop")
    parser.add_argument("--run-limit", nargs=2, metavar=("LANDING", "DATABASE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run_limit:
        return limit_main(Path(args.run_limit[0]), Path(args.run_limit[1]))
    engines = [name.strip() for name in args.engines.split(",") if name.strip()]
    unknown = [name for name in engines if name not in ("duckdb", "postgres")]
    if unknown:
        parser.error(f"argument --engines: {', '.join(unknown)} cannot be timed (duckdb, postgres)")
    if not 0 < args.day_share < 0.5:
        parser.error("argument --day-share: must be between 0 and 0.5")
    if args.days < 1 or args.days * args.day_share >= 0.5:
        parser.error("argument --days: must be at least 1, with --days x --day-share below 0.5")

    accounts, months = args.accounts or BASE_ACCOUNTS, args.months or MONTHS
    custom = args.accounts is not None or args.months is not None
    scale = f"custom-{accounts}x{months}" if custom else args.scale
    copies = 1 if custom else SCALES[args.scale]
    root = BENCH_DIR / scale
    generator_args = {"accounts": accounts, "months": months, "seed": args.seed}
    data_args = {**generator_args, "copies": copies}
    results: dict[str, object] = {
        "scale": scale,
        "date": dt.date.today().isoformat(),
        "machine": machine(),
        "engines": engines,
    }

    print(f"bench {scale}: data in {root}", flush=True)
    base = root if copies == 1 else BENCH_DIR / BASE_SCALE
    results["generator"] = generator = ensure_source(base, generator_args)
    print(
        f"generator{' (reused)' if generator['reused'] else ''}: {generator['seconds']} s,"
        f" {_mib(generator['peak_pss_mib'])}, {generator['summary']}",
        flush=True,
    )
    results["tiling"] = tiling = ensure_tiled(root, base, generator_args, copies) if copies > 1 else None
    if tiling is not None:
        print(
            f"tiling{' (reused)' if tiling['reused'] else ''}: {tiling['seconds']} s,"
            f" {_mib(tiling['peak_pss_mib'])}, {tiling['summary']}",
            flush=True,
        )
    results["split"] = split = ensure_split(root, data_args, args.day_share, args.days)
    for day in split["day_list"]:
        print(
            f"day {day['day']} ({day['label']}, after {day['after']}): {day['ledger_events']:,} of"
            f" {split['ledger_events']:,} ledger events ({100 * day['share_of_events']:.2f} %)",
            flush=True,
        )
    if args.data_only:
        return 0
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    output = RESULTS_DIR / f"{results['date']}-{scale}.json"

    def save(complete: bool = False) -> None:
        output.write_text(json.dumps({**results, "complete": complete}, indent=2) + "\n")

    if args.skip_limit:
        results["limit"] = None
    else:
        _link_tree(root / "split" / "initial", root / "landing")
        print("limit: bench/limit.sql ...", flush=True)
        results["limit"] = run_limit(root / "landing", root / "limit.duckdb")
        save()
    try:
        for engine in engines:
            results[engine] = {}
            bench_engine(engine, root, split, args.pg_from_env, results[engine], save)
    except BaseException:
        results["complete"] = False
        save()
        print(table(results), file=sys.stderr)
        print(f"\npartial results: {output.relative_to(PROJECT_DIR)}", file=sys.stderr)
        raise
    save(complete=True)
    print()
    print(table(results))
    print(f"\nresults: {output.relative_to(PROJECT_DIR)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
