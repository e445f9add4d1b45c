"""`make bench`: generate about a million ledger events and time the full refresh.

Prints one table (and writes bench/results.json): generator time, then per engine the refresh
wall time, the peak memory of the refresh's own processes (Python, dbt) and, on PostgreSQL,
of the database server (the sum of its processes' proportional set size, sampled twice a
second), plus the slowest dbt models. Numbers in the README come from here.

PostgreSQL runs on a throwaway server this command starts (orchestration/throwaway_postgres.py)
with the settings in ``PG_BENCH_SETTINGS``, unless ``--pg-from-env`` says to use the server the
PG* variables name.

    python -m tools.bench [--accounts 21000] [--months 36] [--engines duckdb,postgres]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

from loyalty.settings import PROJECT_DIR, load_settings
from loyalty.warehouse import pg_conninfo
from tools import throwaway_postgres

BENCH_DIR = PROJECT_DIR / "bench"
# A modest server for 24 GiB / 2 cores (PostgreSQL's defaults are sized for a tiny machine).
PG_BENCH_SETTINGS = {"shared_buffers": "1GB", "work_mem": "256MB", "maintenance_work_mem": "512MB"}


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
            for process in [self.root, *self.root.children(recursive=True)]:
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


def slowest_models(target: Path, count: int = 8) -> list[tuple[str, float]]:
    results = json.loads((target / "run_results.json").read_text())["results"]
    timings = [
        (result["unique_id"].split(".")[-1], float(result.get("execution_time") or 0.0))
        for result in results
        if result["unique_id"].startswith("model.")
    ]
    return sorted(timings, key=lambda item: item[1], reverse=True)[:count]


def _database_mib(env: dict[str, str]) -> float | None:
    import psycopg

    with psycopg.connect(**pg_conninfo(env)) as connection:
        return connection.execute("select pg_database_size(current_database())").fetchone()[0] / 2**20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=21000)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--engines", default="duckdb,postgres", help="comma-separated targets to time")
    parser.add_argument(
        "--pg-from-env", action="store_true", help="time PostgreSQL on the server the PG* variables name"
    )
    args = parser.parse_args(argv)
    engines = [name.strip() for name in args.engines.split(",") if name.strip()]
    unknown = [name for name in engines if name not in ("duckdb", "postgres")]
    if unknown:
        parser.error(f"argument --engines: {', '.join(unknown)} cannot be timed (duckdb, postgres)")

    landing, truth = BENCH_DIR / "landing", BENCH_DIR / "truth"
    generator = [
        sys.executable,
        "-m",
        "tools.sample_data",
        "--out",
        str(landing),
        "--truth",
        str(truth),
        "--accounts",
        str(args.accounts),
        "--months",
        str(args.months),
        "--seed",
        str(args.seed),
        "--overwrite",
    ]
    seconds, _, completed = run(generator, dict(os.environ))
    if completed.returncode != 0:
        print(completed.stderr, file=sys.stderr)
        return 2
    results: dict[str, object] = {"generator_seconds": round(seconds, 1), "generator": completed.stdout.strip()}
    print(f"generator: {seconds:.1f} s  ({completed.stdout.strip()})")

    for engine in engines:
        warehouse = BENCH_DIR / engine / "loyalty.duckdb"
        warehouse.parent.mkdir(parents=True, exist_ok=True)
        for stale in warehouse.parent.glob("loyalty.duckdb*"):
            shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
        env = {
            **os.environ,
            "LOYALTY_LANDING_DIR": str(landing),
            "LOYALTY_WAREHOUSE": str(warehouse),
            "LOYALTY_TARGET": engine,
        }
        server = None
        if engine == "postgres" and not args.pg_from_env:
            server = throwaway_postgres.start(settings=PG_BENCH_SETTINGS)
            env.update(server.environ)
        try:
            if server is not None:
                with TreeMemory(server.postmaster_pid) as memory:
                    seconds, peak_bytes, completed = run([sys.executable, "-m", "orchestration.cli", "refresh"], env)
                server_mib = round(memory.peak_bytes / 2**20)
            else:
                seconds, peak_bytes, completed = run([sys.executable, "-m", "orchestration.cli", "refresh"], env)
                server_mib = None
            database_mib = _database_mib(env) if engine == "postgres" else None
        finally:
            if server is not None:
                throwaway_postgres.stop(server.data_dir, server.bin_dir)
        if completed.returncode not in (0, 1):
            print(completed.stdout[-4000:], completed.stderr[-4000:], file=sys.stderr)
            return 2
        target = load_settings({"LOYALTY_WAREHOUSE": str(warehouse), "LOYALTY_TARGET": engine}).dbt_target_dir
        models = slowest_models(target / "build")
        size_mib = warehouse.stat().st_size / 2**20 if warehouse.exists() else database_mib
        results[engine] = {
            "refresh_seconds": round(seconds, 1),
            "refresh_peak_pss_mib": round(peak_bytes / 2**20),
            "server_peak_pss_mib": server_mib,
            "warehouse_mib": round(size_mib) if size_mib else None,
            "slowest_models": models,
        }
        print(
            f"{engine}: full refresh {seconds:.1f} s, refresh processes peak PSS {peak_bytes / 2**20:.0f} MiB", end=""
        )
        if server_mib is not None:
            print(f", PostgreSQL server peak PSS {server_mib} MiB", end="")
        print(f", {'warehouse file' if engine == 'duckdb' else 'database'} {size_mib:.0f} MiB" if size_mib else "")
        for name, model_seconds in models:
            print(f"    {name:45} {model_seconds:6.1f} s")
    (BENCH_DIR / "results.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
