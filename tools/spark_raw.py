"""Raw tables for the Spark target: the landing folder loaded by the same loader, then written
as one Parquet folder per raw table, which dbt's on-run-start hook registers as Spark tables
(``macros/sql/engine_helpers.sql``, ``spark__create_engine_helpers``).

    python -m tools.spark_raw --landing DIR --out SPARK_DIR/raw

The loader's promises (exactly once per file, text values, load log, named errors) are the
loader's own: a scratch DuckDB file holds what was loaded between runs, so a second run adds
only new files, exactly as on DuckDB and PostgreSQL.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import duckdb

from loyalty.landing.contract import SOURCES
from loyalty.landing.loader import LoadError, load_landing

RAW_TABLES = (*SOURCES, "load_log", "incentive_period_actions")


def export_raw(landing_dir: Path, out: Path) -> dict[str, int]:
    """Load new landing files into ``out/../loaded.duckdb`` and write every raw table to
    ``out/<table>/part-0.parquet``; returns rows per table."""
    out.mkdir(parents=True, exist_ok=True)
    scratch = out.parent / "loaded.duckdb"
    counts = {}
    with duckdb.connect(str(scratch)) as connection:
        load_landing(connection, landing_dir)
        connection.execute(
            "create table if not exists raw.incentive_period_actions ("
            "period_month date, action varchar, acted_at timestamp, acted_by varchar, note varchar)"
        ).fetchall()
        for table in RAW_TABLES:
            folder = out / table
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            connection.execute(f"copy raw.{table} to '{folder / 'part-0.parquet'}' (format parquet)").fetchall()
            counts[table] = connection.execute(f"select count(*) from raw.{table}").fetchall()[0][0]
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.spark_raw", description=__doc__.split("\n\n")[0])
    parser.add_argument("--landing", required=True, type=Path, help="the landing folder")
    parser.add_argument("--out", required=True, type=Path, help="folder for the raw tables' Parquet folders")
    args = parser.parse_args(argv)
    try:
        counts = export_raw(args.landing, args.out)
    except LoadError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print("raw tables for Spark: " + ", ".join(f"{table} {rows}" for table, rows in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
