"""The command line the publish files share (``python -m loyalty.reporting.report`` and
``python -m loyalty.reporting.workbook``): read a published DuckDB warehouse, write one file.
Bad arguments exit 2 naming the argument (README: "How it runs")."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import duckdb


def write_from_published(
    parser: argparse.ArgumentParser,
    warehouse: Path,
    out: Path,
    write: Callable[[Path, Path], Path],
    *,
    content_errors: tuple[type[Exception], ...] = (),
) -> int:
    """Check ``warehouse`` (an existing file) and ``out`` (not a folder), call
    ``write(warehouse, out)`` and print what it wrote and how long it took (seconds); returns 0.
    Exits 2 through ``parser.error`` naming ``--warehouse`` when the file is missing, is not a
    DuckDB file or raises one of ``content_errors``, and ``--out`` when it cannot be written."""
    if not warehouse.is_file():
        parser.error(f"argument --warehouse: no such file: {warehouse}")
    if out.is_dir():
        parser.error(f"argument --out: is a folder, not a file: {out}")
    started = time.perf_counter()
    try:
        written = write(warehouse, out)
    except duckdb.Error as error:
        parser.error(f"argument --warehouse: cannot read {warehouse} as a DuckDB warehouse: {error}")
    except content_errors as error:
        parser.error(f"argument --warehouse: {warehouse}: {error}")
    except OSError as error:
        parser.error(f"argument --out: cannot write {out}: {error}")
    print(f"wrote {written} in {time.perf_counter() - started:.2f} s")
    return 0
