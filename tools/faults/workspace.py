"""What the re-delivery, determinism and personal-data parts of the fault campaign share
(docs/reliability.md): one generated landing folder per work folder, refreshes through the real
command (a subprocess, as a scheduler runs it), mart checksums and the row accounting.

The campaign runner (tools/faults/__main__.py) gives each part a work folder
``<campaign folder>/<part>``; these three parts share ``<campaign folder>/order-reference-<mode>``
(``shared_folder``): ``landing/`` (the clean delivery, generated once and completed with the
re-delivery scenarios' extra files, see ``tools.faults.redelivery``) and ``reference/`` (that
folder refreshed once on DuckDB with ``LOYALTY_THREADS=2``). The determinism part's two-thread
DuckDB run *is* the reference: the parts run in any order and whichever comes first makes it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb
from openpyxl import load_workbook

from loyalty.reporting.workbook import AS_OF_LABEL, COVER_TITLE, KINDS, SHEETS
from tools.compare_engines import checksums
from tools.faults.late_deliveries import write_extras

PROJECT_DIR = Path(__file__).resolve().parents[2]
# the smallest data set that carries every injected fault class the parts rely on (bounded),
# and the one make test's end-to-end tests use (full: expiry faults need 20 months)
BOUNDED_DATA = ["--accounts", "100", "--months", "8", "--seed", "7"]
FULL_DATA = ["--accounts", "150", "--months", "20", "--seed", "7"]
REFERENCE_THREADS = 2
# the other refreshes of the campaign run beside each other on a machine with a core or two:
# one thread each spends less CPU on coordination (the determinism part checks that the marts
# do not depend on the thread count)
CASE_THREADS = 1


class CampaignError(RuntimeError):
    """The campaign cannot run (generation or a refresh that should have published did not)."""


@dataclass
class Refresh:
    """One `orchestration.cli refresh` run: exit status, output and wall time."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def published(self) -> bool:
        """Exit 0 or 1 publish (docs/operations.md#exit-codes)."""
        return self.returncode in (0, 1)

    def tail(self, chars: int = 2000) -> str:
        return (self.stdout[-chars:] + "\n" + self.stderr[-chars:]).strip()


def run_refresh(
    landing: Path, warehouse: Path, *, threads: int = CASE_THREADS, env: dict[str, str] | None = None
) -> Refresh:
    """Refresh ``landing`` into ``warehouse`` (its folder is the state folder) on DuckDB unless
    ``env`` says otherwise, with ``LOYALTY_THREADS=threads``. Never raises for a failed refresh:
    the caller judges the exit status."""
    environment = {
        **os.environ,
        "LOYALTY_LANDING_DIR": str(landing),
        "LOYALTY_WAREHOUSE": str(warehouse),
        "LOYALTY_TARGET": "duckdb",
        "LOYALTY_THREADS": str(threads),
        **(env or {}),
    }
    for name in ("DAGSTER_HOME", "LOYALTY_STATE_DIR", "LOYALTY_DBT_VARS"):
        if name not in (env or {}):
            environment.pop(name, None)
    started = time.monotonic()
    completed = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "refresh"],
        cwd=PROJECT_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    return Refresh(completed.returncode, completed.stdout, completed.stderr, time.monotonic() - started)


def must_publish(refresh: Refresh, what: str) -> Refresh:
    """``refresh`` when it published; CampaignError (with its output) when it did not."""
    if not refresh.published:
        raise CampaignError(f"{what}: the refresh exited {refresh.returncode}:\n{refresh.tail()}")
    return refresh


def generate(landing: Path, truth: Path, *, full: bool) -> None:
    """Write the generated landing folder and its ground truth (tools.sample_data); raises
    CampaignError when the generator fails."""
    completed = subprocess.run(
        [sys.executable, "-m", "tools.sample_data", "--out", str(landing), "--truth", str(truth)]
        + (FULL_DATA if full else BOUNDED_DATA),
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
    )
    if completed.returncode != 0:
        raise CampaignError(f"tools.sample_data failed: {completed.stderr.strip()}")


def shared_folder(workdir: Path, *, full: bool) -> Path:
    """The folder the re-delivery, determinism and personal-data parts share: beside their work
    folders (``workdir`` is ``<campaign folder>/<part>``), one per mode."""
    return workdir.parent / f"order-reference-{'full' if full else 'bounded'}"


def clean_landing(workdir: Path, *, full: bool) -> tuple[Path, Path]:
    """The shared clean landing folder and its truth, generated on first use and completed with
    the re-delivery scenarios' extra files (late orders of a published month, dimension
    updates), so that one clean delivery of it is the reference of every part. Raises
    CampaignError when the generator fails."""
    shared = shared_folder(workdir, full=full)
    shared.mkdir(parents=True, exist_ok=True)
    landing, truth = shared / "landing", shared / "truth"
    marker = shared / "landing.ready"
    if not marker.exists():
        for folder in (landing, truth):
            shutil.rmtree(folder, ignore_errors=True)
        generate(landing, truth, full=full)
        write_extras(landing, truth)
        marker.write_text("complete\n", encoding="utf-8")
    return landing, truth


def reference(workdir: Path, *, full: bool) -> tuple[Path, Refresh | None]:
    """The published warehouse of one clean DuckDB refresh of the work folder's landing folder
    with ``LOYALTY_THREADS=2``, made on first use; the Refresh is None when an earlier part made
    it. Raises CampaignError when the refresh does not publish."""
    landing, _ = clean_landing(workdir, full=full)
    shared = shared_folder(workdir, full=full)
    warehouse = shared / "reference" / "loyalty.duckdb"
    marker = shared / "reference.ready"
    if marker.exists():
        return warehouse, None
    shutil.rmtree(warehouse.parent, ignore_errors=True)
    refresh = must_publish(run_refresh(landing, warehouse, threads=REFERENCE_THREADS), "the clean reference")
    marker.write_text(f"{refresh.returncode}\n", encoding="utf-8")
    return warehouse, refresh


def copy_warehouse(warehouse: Path, folder: Path) -> Path:
    """Copy a published warehouse and its state (build database, journals, dbt and Dagster
    folders) into ``folder`` so that a refresh of the copy continues where the original stopped;
    returns the copy's published file."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for path in warehouse.parent.iterdir():
        if path.name == warehouse.name or path.name.startswith(warehouse.name + "."):
            if path.name.endswith(".lock"):
                continue
            target = folder / path.name
            shutil.copytree(path, target) if path.is_dir() else shutil.copyfile(path, target)
    return folder / warehouse.name


def mart_checksums(warehouse: Path) -> dict[str, tuple[int, str]]:
    """Rows and checksum of every mart of a published DuckDB file (run-time columns left out,
    tools.compare_engines)."""
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return checksums(connection)


def workbook_mismatches(path: Path, connection) -> list[str]:
    """Every way the roll-forwards workbook at ``path`` differs from the marts read through
    ``connection`` (DuckDB, or ``warehouse.PgQueries``): sheets, headers, frozen header, each
    cell's value *and* type (points int, money and rates numbers with their number format, months
    dates, flags booleans), and the cover's as-of against marts.rpt_warehouse_as_of. [] when equal
    (tests_py, and the crash campaign after each rerun)."""
    book = load_workbook(path)
    problems: list[str] = []
    expected_titles = [COVER_TITLE, *(sheet.title for sheet in SHEETS)]
    if book.sheetnames != expected_titles:
        return [f"sheets {book.sheetnames}, expected {expected_titles}"]
    for sheet in SHEETS:
        worksheet = book[sheet.title]
        names = [column.name for column in sheet.columns]
        marts = connection.execute(f"select {', '.join(names)} from marts.{sheet.table} order by month, currency")
        expected = [tuple(row) for row in marts.fetchall()]
        header = [cell.value for cell in worksheet[1]]
        if header != names:
            problems.append(f"{sheet.title}: header {header}, expected {names}")
        if worksheet.freeze_panes != "A2":
            problems.append(f"{sheet.title}: the header row is not frozen ({worksheet.freeze_panes})")
        body = list(worksheet.iter_rows(min_row=2))
        if len(body) != len(expected):
            problems.append(f"{sheet.title}: {len(body)} rows, marts.{sheet.table} has {len(expected)}")
        for cells, values in zip(body, expected, strict=False):
            for column, cell, value in zip(sheet.columns, cells, values, strict=True):
                got, where = cell.value, f"{sheet.title}!{cell.coordinate} ({column.name})"
                if value is None:
                    same = got is None
                elif column.kind == "month":
                    same = cell.is_date and got.date() == value and got.time().isoformat() == "00:00:00"
                elif column.kind == "flag":
                    same = got is value
                elif column.kind == "points":
                    same = type(got) is int and got == value
                elif column.kind == "text":
                    same = cell.data_type == "s" and got == value
                else:  # money, point value, rate: numbers, exact to the mart's scale
                    same = cell.data_type == "n" and not isinstance(got, bool) and Decimal(str(got)) == value
                if not same:
                    problems.append(f"{where}: {got!r} ({cell.data_type}), marts has {value!r}")
                elif value is not None and cell.number_format != KINDS[column.kind][1]:
                    problems.append(f"{where}: number format {cell.number_format!r}")
    cover = book[COVER_TITLE]
    as_of_rows = connection.execute("select as_of from marts.rpt_warehouse_as_of").fetchall()
    shown = [row[1].value for row in cover.iter_rows() if row[0].value == AS_OF_LABEL]
    expected_as_of = as_of_rows[0][0] if as_of_rows else "none: no data staged yet"
    if shown != [expected_as_of]:
        problems.append(f"cover as-of {shown}, rpt_warehouse_as_of has {expected_as_of!r}")
    return problems


def query(warehouse: Path, sql: str, parameters: list | None = None) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return connection.execute(sql, parameters or []).fetchall()


@dataclass
class Accounting:
    """Landing rows of some files (docs/landing.md#accounting-identity)."""

    delivered: int = 0
    staged: int = 0
    rejected: int = 0
    duplicates: int = 0


def accounting(warehouse: Path, files: list[str] | None = None) -> tuple[Accounting, list[str]]:
    """Sum audit.source_row_accounting of a published file over ``files`` (source/name; all when
    None), and one line per file delivery that breaks delivered = staged + rejected + duplicates."""
    rows = query(
        warehouse,
        "select source_file, rows_delivered, rows_staged, rows_rejected, rows_exact_duplicate"
        " from audit.source_row_accounting",
    )
    total, broken = Accounting(), []
    for file, delivered, staged, rejected, duplicates in rows:
        if delivered != staged + rejected + duplicates:
            broken.append(f"{file}: delivered {delivered} != {staged} staged + {rejected} rejected + {duplicates} dup")
        if files is None or file in files:
            total.delivered += delivered
            total.staged += staged
            total.rejected += rejected
            total.duplicates += duplicates
    return total, broken


def differing_marts(
    left: dict[str, tuple[int, str]], right: dict[str, tuple[int, str]], *, expected: frozenset[str] = frozenset()
) -> list[str]:
    """One line per mart (outside ``expected``) whose rows or checksum differ, or that only one
    side has."""
    lines = []
    for mart in sorted(set(left) | set(right)):
        if mart in expected:
            continue
        if mart not in left or mart not in right:
            lines.append(f"{mart}: only in {'the reference' if mart in right else 'the run'}")
        elif left[mart] != right[mart]:
            lines.append(
                f"{mart}: {left[mart][0]} rows ({left[mart][1]}) vs reference {right[mart][0]} ({right[mart][1]})"
            )
    return lines
