"""Fault campaign, determinism (docs/reliability.md#determinism): two refreshes of the same
landing folder, one with ``LOYALTY_THREADS=1`` and one with ``LOYALTY_THREADS=2``, publish the
same marts, row for row (tools.compare_engines checksums, run-time columns left out), on DuckDB
and on PostgreSQL. ``LOYALTY_THREADS`` reaches dbt as the var ``threads`` (profiles.yml: dbt's
threads on both engines, and DuckDB's own threads), so a model whose result depends on the
order in which rows or models happen to be computed (a window without a total order, a
string_agg without ``order by``) shows up as a differing mart.

DuckDB runs in both modes; the two-thread run is the campaign's clean reference
(tools.faults.workspace). PostgreSQL (two refreshes into two databases of a throwaway server)
runs only in full mode: two more refreshes do not fit the time ``make test`` allows.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from tools.faults import Result
from tools.faults.workspace import (
    Refresh,
    clean_landing,
    differing_marts,
    mart_checksums,
    must_publish,
    reference,
    run_refresh,
)

PART = "determinism"


def _duckdb(workdir: Path, full: bool) -> Result:
    started = time.monotonic()
    landing, _ = clean_landing(workdir, full=full)
    two_threads, _ = reference(workdir, full=full)
    one_thread = workdir / "threads-1" / "loyalty.duckdb"
    shutil.rmtree(one_thread.parent, ignore_errors=True)
    must_publish(run_refresh(landing, one_thread, threads=1), "DuckDB with LOYALTY_THREADS=1")
    single, double = mart_checksums(one_thread), mart_checksums(two_threads)
    mismatches = [f"DuckDB threads 1 vs 2: {line}" for line in differing_marts(single, double)]
    return Result(
        part=PART,
        what=f"DuckDB, LOYALTY_THREADS 1 vs 2, {len(double)} marts",
        tried=1,
        survived=int(not mismatches),
        mismatches=mismatches,
        seconds=time.monotonic() - started,
    )


def _postgres(workdir: Path, full: bool) -> Result:
    import psycopg

    from loyalty.warehouse import PgQueries, pg_conninfo
    from tools import throwaway_postgres
    from tools.compare_engines import checksums

    started = time.monotonic()
    landing, _ = clean_landing(workdir, full=full)
    server = throwaway_postgres.start()
    try:
        marts = {}
        for threads in (1, 2):
            database = f"determinism_{threads}"
            with psycopg.connect(**pg_conninfo({**server.environ, "PGDATABASE": "postgres"}), autocommit=True) as admin:
                admin.execute(f'create database "{database}"')
            environ = {**server.environ, "PGDATABASE": database}
            state = workdir / f"pg-threads-{threads}" / "loyalty.duckdb"
            shutil.rmtree(state.parent, ignore_errors=True)
            refresh: Refresh = run_refresh(
                landing, state, threads=threads, env={"LOYALTY_TARGET": "postgres", **environ}
            )
            must_publish(refresh, f"PostgreSQL with LOYALTY_THREADS={threads}")
            with psycopg.connect(**pg_conninfo(environ), autocommit=True) as connection:
                marts[threads] = checksums(PgQueries(connection))
    finally:
        throwaway_postgres.stop(server.data_dir, server.bin_dir)
    mismatches = [f"PostgreSQL threads 1 vs 2: {line}" for line in differing_marts(marts[1], marts[2])]
    return Result(
        part=PART,
        what=f"PostgreSQL, LOYALTY_THREADS 1 vs 2, {len(marts[2])} marts",
        tried=1,
        survived=int(not mismatches),
        mismatches=mismatches,
        seconds=time.monotonic() - started,
    )


def campaign(workdir: Path, *, full: bool) -> list[Result]:
    """DuckDB threads 1 vs 2 (always) and PostgreSQL threads 1 vs 2 (full mode only), each one
    Result whose mismatches name every differing mart. Raises CampaignError when a refresh does
    not publish, and throwaway_postgres.PostgresUnavailable in full mode without PostgreSQL."""
    results = [_duckdb(workdir, full)]
    if full:
        results.append(_postgres(workdir, full))
    return results
