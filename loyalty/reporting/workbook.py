"""The month-end roll-forwards as an Excel workbook finance can file (.xlsx, openpyxl).

    python -m loyalty.reporting.workbook --warehouse warehouse/loyalty.duckdb --out month_end_rollforwards.xlsx

Each publish writes it beside the report, ``Settings.workbook_path`` in the state folder
(docs/operations.md#state), from the same read-only connection as the report. It holds the two
finance marts of docs/marts.md#finance (the data contract's "Marts", finance part), row for row
and column for column, and a cover sheet:

* **Cover**: the warehouse's as-of (``marts.rpt_warehouse_as_of``, UTC; docs/operations.md#as-of):
  the as-of, where it comes from, the last month of the roll-forwards and whether it is
  month-to-date, the last month ended; the generation time (UTC); the source (the warehouse
  described: a DuckDB file, or ``postgresql://…`` and its schema); and a table naming each sheet,
  its mart, its grain, its row count and what it is.
* **Points liability**: ``marts.fct_points_liability_monthly``, one row per month × reporting
  currency, ordered by month then currency.
* **Wallet liability**: ``marts.fct_wallet_liability_monthly``, one row per month × wallet
  currency, ordered by month then currency.

Every data sheet has one header row (the mart's column names, as docs/marts.md lists them),
frozen, with an autofilter; then the mart's rows. Cells keep the mart's types: points
(``bigint``) are integers shown ``#,##0``; money (``decimal(18,2)``, in the row's currency) is a
number shown ``#,##0.00``; the point value (``decimal(12,6)``, currency per point) a number shown
``0.000000``; the breakage rate (``decimal(9,6)``, a fraction) a number shown ``0.0000%``; months
are dates (``yyyy-mm-dd``, the first day of the month); ``is_month_to_date`` is a boolean; a null
is an empty cell. Nothing is written as text that is a number.

Errors: :class:`WorkbookError` when a mart the workbook reads is missing or lacks a column, or
a value is not of its column's kind (a number read as text, say); the driver's error
(``duckdb.Error``, ``psycopg.Error``) when a mart cannot be read; ``OSError`` when the file cannot
be written. The command line exits 0 once written, 2 on a bad argument or an unreadable
warehouse, naming the argument.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from loyalty.reporting.cli import write_from_published

__all__ = [
    "SHEETS",
    "Column",
    "Sheet",
    "WorkbookError",
    "main",
    "read_workbook_data",
    "render",
    "write_workbook",
    "write_workbook_from",
]

AS_OF_MODEL = "rpt_warehouse_as_of"
AS_OF_COLUMNS = ("as_of", "as_of_source", "as_of_month", "last_ended_month", "is_as_of_month_to_date")
COVER_TITLE = "Cover"
# The label of the cover's row that holds the warehouse's as-of (tests and readers find it by it).
AS_OF_LABEL = "Warehouse as-of (UTC)"
GENERATED_LABEL = "Generated at (UTC)"
SOURCE_LABEL = "Source"

# kind -> (Python type(s) a value must have, Excel number format). Money and rates stay
# Decimal from both drivers; openpyxl writes a Decimal as its exact digits.
KINDS: dict[str, tuple[tuple[type, ...], str]] = {
    "month": ((date,), "yyyy-mm-dd"),
    "text": ((str,), "General"),
    "flag": ((bool,), "General"),
    "points": ((int,), "#,##0"),
    "money": ((Decimal,), "#,##0.00"),
    "point_value": ((Decimal,), "0.000000"),
    "rate": ((Decimal,), "0.0000%"),
}
HEADER_FILL = PatternFill("solid", fgColor="DDE3EA")
MIN_WIDTH, MAX_WIDTH = 9, 60


class WorkbookError(RuntimeError):
    """The warehouse cannot give the workbook what it shows; the message names the mart and column."""


@dataclass(frozen=True)
class Column:
    """One column of a data sheet: the mart's column ``name`` and its ``kind`` (a key of KINDS)."""

    name: str
    kind: str


@dataclass(frozen=True)
class Sheet:
    """One data sheet: its ``title`` (at most 31 characters, Excel's limit), the mart it copies
    (``marts.<table>``), the mart's grain and what it is (shown on the cover), where it is
    documented, and its columns in the mart's order (docs/marts.md)."""

    title: str
    table: str
    grain: str
    about: str
    documented: str
    columns: tuple[Column, ...]


def _columns(*pairs: tuple[str, str]) -> tuple[Column, ...]:
    return tuple(Column(name, kind) for name, kind in pairs)


SHEETS: tuple[Sheet, ...] = (
    Sheet(
        title="Points liability",
        table="fct_points_liability_monthly",
        grain="month × reporting currency",
        about=(
            "The points liability roll-forward: opening points + earned + redeemed + expired + corrected "
            "+ reversed = closing points (points, whole numbers; movements signed, by recorded_at); "
            "closing_liability = closing_points × point_value and the liability net of estimated breakage, "
            "in the reporting currency."
        ),
        documented="docs/marts.md#fct_points_liability_monthly",
        columns=_columns(
            ("month", "month"),
            ("currency", "text"),
            ("is_month_to_date", "flag"),
            ("opening_points", "points"),
            ("earned", "points"),
            ("redeemed", "points"),
            ("expired", "points"),
            ("corrected", "points"),
            ("reversed", "points"),
            ("closing_points", "points"),
            ("point_value", "point_value"),
            ("closing_liability", "money"),
            ("estimated_breakage_rate", "rate"),
            ("closing_liability_net_of_breakage", "money"),
        ),
    ),
    Sheet(
        title="Wallet liability",
        table="fct_wallet_liability_monthly",
        grain="month × wallet currency",
        about=(
            "The stored-value (wallet) liability roll-forward: opening balance + top-ups + spends + refunds "
            "+ cashback + adjustments = closing balance, in the row's currency (movements signed, by "
            "recorded_at)."
        ),
        documented="docs/marts.md#fct_wallet_liability_monthly",
        columns=_columns(
            ("month", "month"),
            ("currency", "text"),
            ("is_month_to_date", "flag"),
            ("opening_balance", "money"),
            ("top_ups", "money"),
            ("spends", "money"),
            ("refunds", "money"),
            ("cashback", "money"),
            ("adjustments", "money"),
            ("closing_balance", "money"),
        ),
    ),
)


@dataclass
class WorkbookData:
    """What the workbook shows. ``as_of``: the row of marts.rpt_warehouse_as_of as
    {column: value} (as_of a naive UTC datetime, months dates), None when the warehouse has no
    data yet; ``rows``: per sheet title, the mart's rows as tuples in the sheet's column order."""

    as_of: dict[str, Any] | None
    rows: dict[str, list[tuple]] = field(default_factory=dict)


def _table_columns(connection, table: str) -> list[str]:
    cursor = connection.execute(
        "select column_name from information_schema.columns where table_schema = 'marts' and table_name = ? "
        "order by ordinal_position",
        [table],
    )
    return [name for (name,) in cursor.fetchall()]


def _require(connection, table: str, columns: Sequence[str], documented: str) -> None:
    present = _table_columns(connection, table)
    if not present:
        raise WorkbookError(f"the warehouse has no marts.{table} ({documented}): refresh it first")
    missing = [name for name in columns if name not in present]
    if missing:
        raise WorkbookError(
            f"marts.{table} lacks column(s) {', '.join(missing)} that the workbook shows "
            f"(loyalty/reporting/workbook.py SHEETS, {documented})"
        )


def _check_kinds(sheet: Sheet, rows: list[tuple]) -> None:
    for row in rows:
        for column, value in zip(sheet.columns, row, strict=True):
            types, _ = KINDS[column.kind]
            # bool is an int in Python: a flag read where points are expected is a wrong kind too
            wrong = value is not None and (
                not isinstance(value, types) or (column.kind != "flag" and isinstance(value, bool))
            )
            if wrong:
                raise WorkbookError(
                    f"marts.{sheet.table}.{column.name} returned {type(value).__name__} {value!r}, "
                    f"not a {column.kind} value ({sheet.documented})"
                )


def read_workbook_data(connection) -> WorkbookData:
    """The as-of and the rows of every sheet, from an open connection (DuckDB, or PostgreSQL
    through ``warehouse.PgQueries``), each mart ordered by month then currency. Raises
    :class:`WorkbookError` when a mart or column is missing or a value is of the wrong kind, the
    driver's error when a mart cannot be read."""
    _require(connection, AS_OF_MODEL, AS_OF_COLUMNS, "docs/marts.md#rpt_warehouse_as_of")
    cursor = connection.execute(f"select {', '.join(AS_OF_COLUMNS)} from marts.{AS_OF_MODEL}")
    as_of_rows = cursor.fetchall()
    if len(as_of_rows) > 1:
        raise WorkbookError(f"marts.{AS_OF_MODEL} holds {len(as_of_rows)} rows; its grain is one row")
    data = WorkbookData(as_of=dict(zip(AS_OF_COLUMNS, as_of_rows[0], strict=True)) if as_of_rows else None)
    for sheet in SHEETS:
        names = [column.name for column in sheet.columns]
        _require(connection, sheet.table, names, sheet.documented)
        rows = [
            tuple(row)
            for row in connection.execute(
                f"select {', '.join(names)} from marts.{sheet.table} order by month, currency"
            ).fetchall()
        ]
        _check_kinds(sheet, rows)
        data.rows[sheet.title] = rows
    return data


def _display_width(value: Any, kind: str) -> int:
    """How many characters a value takes once Excel formats it (for the column width)."""
    if value is None:
        return 0
    if kind == "month":
        return 10
    if kind == "flag":
        return 5
    if kind == "points":
        return len(f"{value:,}")
    if kind == "money":
        return len(f"{value:,.2f}")
    if kind == "point_value":
        return len(f"{value:.6f}")
    if kind == "rate":
        return len(f"{value * 100:.4f}%")
    return len(str(value))


def _fit_columns(worksheet: Worksheet, widths: Sequence[int]) -> None:
    for index, width in enumerate(widths, start=1):
        worksheet.column_dimensions[get_column_letter(index)].width = min(max(width + 2, MIN_WIDTH), MAX_WIDTH)


def _write_sheet(worksheet: Worksheet, sheet: Sheet, rows: list[tuple]) -> None:
    headers = [column.name for column in sheet.columns]
    worksheet.append(headers)
    for cell in worksheet[1]:
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=False)
    for row in rows:
        worksheet.append(list(row))
    for index, column in enumerate(sheet.columns, start=1):
        number_format = KINDS[column.kind][1]
        for (cell,) in worksheet.iter_rows(min_row=2, min_col=index, max_col=index):
            cell.number_format = number_format
    worksheet.freeze_panes = "A2"
    if rows:
        worksheet.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{len(rows) + 1}"
    _fit_columns(
        worksheet,
        [
            max([len(column.name)] + [_display_width(row[index], column.kind) for row in rows])
            for index, column in enumerate(sheet.columns)
        ],
    )


AS_OF_SOURCES = {"data": "data: the latest staged moment", "var": "var: the dbt var as_of"}


def _write_cover(worksheet: Worksheet, data: WorkbookData, *, source: str, generated_at: datetime) -> None:
    worksheet.append(["Month-end roll-forwards"])
    worksheet["A1"].font = Font(bold=True, size=14)
    worksheet.append(
        [
            "The loyalty warehouse's points and wallet liability roll-forwards, one sheet each, as "
            "published; column meanings in docs/marts.md#finance."
        ]
    )
    worksheet.append([])
    as_of = data.as_of or {}
    facts: list[tuple[str, Any, str]] = [
        (AS_OF_LABEL, as_of.get("as_of") if data.as_of else "none: no data staged yet", "yyyy-mm-dd hh:mm:ss"),
        ("As-of source", AS_OF_SOURCES.get(as_of.get("as_of_source"), as_of.get("as_of_source")), "General"),
        ("Last month of the roll-forwards", as_of.get("as_of_month"), "yyyy-mm"),
        ("That month is month-to-date", as_of.get("is_as_of_month_to_date"), "General"),
        ("Last month ended (evaluated)", as_of.get("last_ended_month"), "yyyy-mm"),
        (GENERATED_LABEL, generated_at, "yyyy-mm-dd hh:mm:ss"),
        (SOURCE_LABEL, source, "General"),
    ]
    for label, value, number_format in facts:
        worksheet.append([label, value])
        row = worksheet.max_row
        worksheet.cell(row, 1).font = Font(bold=True)
        worksheet.cell(row, 2).number_format = number_format
        worksheet.cell(row, 2).alignment = Alignment(horizontal="left")
    worksheet.append([])
    worksheet.append(["Sheet", "Mart", "Grain", "Rows", "What it is"])
    for cell in worksheet[worksheet.max_row]:
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
    for sheet in SHEETS:
        worksheet.append([sheet.title, f"marts.{sheet.table}", sheet.grain, len(data.rows[sheet.title]), sheet.about])
        worksheet.cell(worksheet.max_row, 4).number_format = "#,##0"
        worksheet.cell(worksheet.max_row, 5).alignment = Alignment(wrap_text=True, vertical="top")
    worksheet.append([])
    worksheet.append(
        [
            "Units: points are whole numbers; money is in the row's currency with 2 decimals; the point value "
            "is currency per point; the breakage rate is a fraction shown as a percentage; months are their "
            "first day; times are UTC. The latest month is month-to-date while the as-of's month has not ended."
        ]
    )
    widths = {"A": 32, "B": max(30, min(len(source) + 2, 70)), "C": 26, "D": 10, "E": 90}
    for letter, width in widths.items():
        worksheet.column_dimensions[letter].width = width


def render(data: WorkbookData, *, source: str, generated_at: datetime) -> Workbook:
    """The workbook (openpyxl, not yet saved): the cover, then one sheet per entry of SHEETS.
    ``generated_at`` is shown in UTC to the second (an aware datetime is converted to UTC)."""
    if generated_at.tzinfo is not None:
        generated_at = generated_at.astimezone(UTC).replace(tzinfo=None)
    generated_at = generated_at.replace(microsecond=0)  # Excel keeps milliseconds at best
    workbook = Workbook()
    cover = workbook.active
    cover.title = COVER_TITLE
    _write_cover(cover, data, source=source, generated_at=generated_at)
    for sheet in SHEETS:
        _write_sheet(workbook.create_sheet(sheet.title), sheet, data.rows[sheet.title])
    workbook.properties.title = "Month-end roll-forwards"
    workbook.properties.creator = "loyalty warehouse (loyalty/reporting/workbook.py)"
    workbook.properties.created = generated_at
    return workbook


def write_workbook_from(connection, out: Path, *, source: str, generated_at: datetime | None = None) -> Path:
    """Write the workbook from an open connection (DuckDB, or PostgreSQL through
    ``warehouse.PgQueries``) to ``out`` (folders created); ``source`` names the warehouse on the
    cover, ``generated_at`` defaults to now (UTC). Returns ``out``. Raises as
    :func:`read_workbook_data`, and OSError when ``out`` cannot be written."""
    out = Path(out)
    data = read_workbook_data(connection)
    workbook = render(data, source=source, generated_at=generated_at or datetime.now(UTC))
    out.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(out)
    return out


def write_workbook(warehouse: Path, out: Path) -> Path:
    """Write the workbook of the DuckDB file ``warehouse`` (opened read-only, closed after) to
    ``out``; returns ``out``. Raises FileNotFoundError when ``warehouse`` is not a file,
    duckdb.Error when it is not a readable DuckDB file, as :func:`write_workbook_from` otherwise."""
    warehouse, out = Path(warehouse), Path(out)
    if not warehouse.is_file():
        raise FileNotFoundError(f"warehouse not found: {warehouse}")
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return write_workbook_from(connection, out, source=str(warehouse.resolve()))


def main(argv: list[str] | None = None) -> int:
    """The command line (see the module docstring); returns 0, exits 2 on a bad argument."""
    parser = argparse.ArgumentParser(prog="python -m loyalty.reporting.workbook", description=__doc__.split("\n\n")[0])
    parser.add_argument("--warehouse", required=True, type=Path, help="the DuckDB warehouse file (read-only)")
    parser.add_argument("--out", required=True, type=Path, help="the .xlsx file to write")
    args = parser.parse_args(argv)  # argparse exits 2 on a missing or malformed option
    if args.out.suffix.lower() != ".xlsx":
        parser.error(f"argument --out: must end in .xlsx (Excel opens a workbook by its extension): {args.out}")
    return write_from_published(parser, args.warehouse, args.out, write_workbook, content_errors=(WorkbookError,))


if __name__ == "__main__":
    sys.exit(main())
