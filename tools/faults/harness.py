"""The small warehouse the fault campaign's parts share: generated data, the pipeline's own
loader and dbt build (no tests, no publish: what is checked here is what staging and the
marts hold), and the staged rows of a generated landing folder as a *clean* delivery.

``build`` is what a refresh does to the build database (docs/operations.md#refresh) minus the
dbt tests, the publish and Dagster: ``loyalty.landing.loader.load_landing`` then ``dbt build``
(models and seeds) on the same file, in a few seconds on small data.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb

from loyalty.landing.contract import SOURCES
from loyalty.landing.loader import LoadReport, load_landing

PROJECT_DIR = Path(__file__).resolve().parents[2]
# the smallest generated data that carries every generator rule (tools/sample_data/config.py)
SMALL_ARGS = ("--accounts", "100", "--months", "6", "--seed", "11")


class HarnessError(RuntimeError):
    """A campaign step could not run at all (generator or dbt failed); the message says which."""


def generate(landing: Path, truth: Path, args: tuple[str, ...] = SMALL_ARGS) -> None:
    """Write a generated landing folder (tools/sample_data). Raises HarnessError on failure."""
    completed = subprocess.run(
        [sys.executable, "-m", "tools.sample_data", "--out", str(landing), "--truth", str(truth), *args],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
    )
    if completed.returncode != 0:
        raise HarnessError(f"tools.sample_data failed: {completed.stderr[-2000:]}")


def build(landing: Path, database: Path, dbt_dir: Path, dbt_vars: dict | None = None) -> LoadReport:
    """Load what is new in ``landing`` into ``database`` and build every model and seed there
    (incrementally when it was built before). ``dbt_dir`` keeps dbt's target and logs: one
    for every build of a campaign, so that dbt parses the project once. Returns the loader's
    report; raises the loader's LoadError for a refused file and HarnessError when dbt fails."""
    with duckdb.connect(str(database)) as connection:
        report = load_landing(connection, landing)
    environment = {**os.environ, "LOYALTY_TARGET": "duckdb", "LOYALTY_WAREHOUSE": str(database)}
    completed = subprocess.run(
        [
            str(Path(sys.executable).with_name("dbt")),
            "build",
            "--exclude-resource-type",
            "test",
            "unit_test",
            "--profiles-dir",
            str(PROJECT_DIR),
            "--project-dir",
            str(PROJECT_DIR),
            "--target-path",
            str(dbt_dir / "target"),
            "--log-path",
            str(dbt_dir / "logs"),
            "--vars",
            json.dumps({"duckdb_path": str(database), "threads": 2, "memory_limit": "1GB", **(dbt_vars or {})}),
            "--quiet",
        ],
        cwd=PROJECT_DIR,
        env=environment,
        capture_output=True,
        text=True,
    )
    if completed.returncode != 0:
        raise HarnessError(f"dbt build on {database} failed: {(completed.stdout + completed.stderr)[-3000:]}")
    return report


def clean_rows(database: Path) -> dict[str, list[dict[str, str | None]]]:
    """The delivered text of every staged row of a built warehouse, per source, as a delivery
    that stages every row whatever the order (docs/landing.md#same-key-different-payload):
    a dimension's current version only, every other staged row once. The text comes from the
    raw tables (a base model keeps it only for rows that are not staged)."""
    rows: dict[str, list[dict[str, str | None]]] = {}
    with duckdb.connect(str(database), read_only=True) as connection:
        for source in SOURCES.values():
            columns = ", ".join(f"delivered.{name}" for name in source.columns)
            latest = ""
            if source.kind == "dimension":
                latest = (
                    f" qualify row_number() over (partition by {', '.join(f'base.{name}' for name in source.key)}"
                    " order by base._file_sequence desc, base._source_row_number desc) = 1"
                )
            result = connection.execute(
                f"select {columns} from staging.{source.base_model} as base"
                f" inner join raw.{source.name} as delivered"
                " on base._file_sequence = delivered._file_sequence"
                " and base._source_row_number = delivered._source_row_number"
                f" where base.row_status = 'staged'{latest}"
                " order by base._file_sequence, base._source_row_number"
            ).fetchall()
            rows[source.name] = [dict(zip(source.columns, values, strict=True)) for values in result]
    return rows


def write_csv(path: Path, columns: tuple[str, ...], rows: list[dict[str, str | None]]) -> None:
    """A landing CSV (UTF-8, header, comma, ``\\n``); None is an empty field."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow(["" if row.get(name) is None else row[name] for name in columns])


def accounting(database: Path) -> dict[str, tuple[int, int, int, int]]:
    """audit.source_row_accounting per file: source_file -> (delivered, staged, rejected, duplicates)."""
    with duckdb.connect(str(database), read_only=True) as connection:
        result = connection.execute(
            "select source_file, sum(rows_delivered), sum(rows_staged), sum(rows_rejected),"
            " sum(rows_exact_duplicate) from audit.source_row_accounting group by source_file"
        ).fetchall()
    return {name: tuple(int(value or 0) for value in values) for name, *values in result}
