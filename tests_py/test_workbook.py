"""The month-end roll-forwards workbook (loyalty/reporting/workbook.py) on a hand-made warehouse:
the marts row for row with their types, the cover, the errors, the command line. The workbook a
refresh publishes is checked in test_e2e.py (DuckDB) and test_postgres.py (PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
import yaml
from openpyxl import load_workbook

from loyalty.reporting.workbook import (
    AS_OF_LABEL,
    COVER_TITLE,
    GENERATED_LABEL,
    SHEETS,
    SOURCE_LABEL,
    WorkbookError,
    main,
    write_workbook,
    write_workbook_from,
)

from conftest import PROJECT_DIR, workbook_mismatches

AS_OF = datetime(2025, 8, 31, 23, 59, 58)

POINTS_DDL = """
create table marts.fct_points_liability_monthly (
    month date, currency varchar, is_month_to_date boolean, opening_points bigint, earned bigint,
    redeemed bigint, expired bigint, corrected bigint, reversed bigint, closing_points bigint,
    point_value decimal(12,6), closing_liability decimal(18,2), estimated_breakage_rate decimal(9,6),
    closing_liability_net_of_breakage decimal(18,2)
)"""
WALLET_DDL = """
create table marts.fct_wallet_liability_monthly (
    month date, currency varchar, is_month_to_date boolean, opening_balance decimal(18,2),
    top_ups decimal(18,2), spends decimal(18,2), refunds decimal(18,2), cashback decimal(18,2),
    adjustments decimal(18,2), closing_balance decimal(18,2)
)"""
AS_OF_DDL = """
create table marts.rpt_warehouse_as_of (
    as_of timestamp, as_of_source varchar, data_as_of timestamp, as_of_month date, last_ended_month date,
    is_as_of_month_to_date boolean
)"""


def make_warehouse(path: Path, *, as_of: bool = True, rows: bool = True) -> Path:
    with duckdb.connect(str(path)) as connection:
        connection.execute("create schema marts")
        for ddl in (POINTS_DDL, WALLET_DDL, AS_OF_DDL):
            connection.execute(ddl)
        if as_of:
            connection.execute(
                "insert into marts.rpt_warehouse_as_of values (?, 'data', ?, '2025-08-01', '2025-07-01', true)",
                [AS_OF, AS_OF],
            )
        if rows:
            # inserted out of order: the sheets are ordered by month, then currency
            connection.execute(
                """
                insert into marts.fct_points_liability_monthly values
                ('2025-08-01', 'EUR', true, 1200, 300, -150, -50, 7, -2, 1305, 0.010000, 13.05, 0.125000, 11.42),
                ('2025-07-01', 'EUR', false, 0, 1500, -300, 0, 0, 0, 1200, 0.010000, 12.00, null, 12.00),
                ('2025-06-01', 'EUR', false, 9876543210, 0, 0, 0, 0, 0, 9876543210, 0.012345, 121925925.93,
                 0.000001, 121925804.00)
                """
            )
            connection.execute(
                """
                insert into marts.fct_wallet_liability_monthly values
                ('2025-08-01', 'GBP', true, 10.00, 5.50, -3.25, 0.00, 0.10, -0.01, 12.34),
                ('2025-08-01', 'EUR', true, 100.00, 0.00, -20.00, 1.00, 0.00, 0.00, 81.00),
                ('2025-07-01', 'EUR', false, 0.00, 100.00, 0.00, 0.00, 0.00, 0.00, 100.00)
                """
            )
    return path


@pytest.fixture
def hand_made(tmp_path: Path) -> Path:
    return make_warehouse(tmp_path / "hand_made.duckdb")


def cover_values(path: Path) -> dict[str, object]:
    cover = load_workbook(path)[COVER_TITLE]
    return {row[0].value: row[1].value for row in cover.iter_rows(min_row=4, max_col=2) if row[0].value}


def test_every_cell_equals_the_marts_with_its_type(hand_made: Path, tmp_path: Path) -> None:
    out = write_workbook(hand_made, tmp_path / "out" / "month_end.xlsx")
    with duckdb.connect(str(hand_made), read_only=True) as connection:
        assert workbook_mismatches(out, connection) == []
    book = load_workbook(out)
    points = book["Points liability"]
    # spelled out once, so the comparison helper itself is checked
    months = [datetime(2025, 6, 1), datetime(2025, 7, 1), datetime(2025, 8, 1)]
    assert [cell.value for cell in points["A"]][1:] == months
    assert points["D2"].value == 9876543210 and type(points["D2"].value) is int
    assert points["L2"].value == pytest.approx(121925925.93) and points["L2"].number_format == "#,##0.00"
    assert points["M3"].value is None  # a null rate is an empty cell
    assert points["M4"].value == pytest.approx(0.125) and points["M4"].number_format == "0.0000%"
    assert points["C4"].value is True and points["C2"].value is False
    assert points.freeze_panes == "A2" and points.auto_filter.ref == "A1:N4"
    wallet = book["Wallet liability"]
    assert [(row[0].value.date(), row[1].value) for row in wallet.iter_rows(min_row=2)] == [
        (date(2025, 7, 1), "EUR"),
        (date(2025, 8, 1), "EUR"),
        (date(2025, 8, 1), "GBP"),
    ]
    # columns wide enough for their widest value, never narrower than the header
    assert points.column_dimensions["D"].width >= len("9,876,543,210")
    assert points.column_dimensions["N"].width >= len("closing_liability_net_of_breakage")


def test_the_cover_names_the_as_of_generation_time_source_and_sheets(hand_made: Path, tmp_path: Path) -> None:
    generated = datetime(2025, 9, 1, 6, 0, 12, 345678, tzinfo=UTC)
    with duckdb.connect(str(hand_made), read_only=True) as connection:
        out = write_workbook_from(connection, tmp_path / "w.xlsx", source="the test warehouse", generated_at=generated)
    values = cover_values(out)
    assert values[AS_OF_LABEL] == AS_OF
    assert values[GENERATED_LABEL] == datetime(2025, 9, 1, 6, 0, 12)
    assert values[SOURCE_LABEL] == "the test warehouse"
    assert values["As-of source"] == "data: the latest staged moment"
    assert values["Last month of the roll-forwards"] == datetime(2025, 8, 1)
    assert values["That month is month-to-date"] is True
    cover = load_workbook(out)[COVER_TITLE]
    sheets = {row[0].value: row for row in cover.iter_rows() if row[0].value in {sheet.title for sheet in SHEETS}}
    assert sheets["Points liability"][1].value == "marts.fct_points_liability_monthly"
    assert sheets["Points liability"][3].value == 3 and sheets["Wallet liability"][3].value == 3
    assert "roll-forward" in sheets["Wallet liability"][4].value


def test_a_warehouse_without_data_gets_headers_and_says_so(tmp_path: Path) -> None:
    empty = make_warehouse(tmp_path / "empty.duckdb", as_of=False, rows=False)
    out = write_workbook(empty, tmp_path / "w.xlsx")
    with duckdb.connect(str(empty), read_only=True) as connection:
        assert workbook_mismatches(out, connection) == []
    assert cover_values(out)[AS_OF_LABEL] == "none: no data staged yet"
    assert [cell.value for cell in load_workbook(out)["Wallet liability"][1]][:2] == ["month", "currency"]


def test_a_missing_mart_column_or_kind_is_a_named_error(tmp_path: Path) -> None:
    warehouse = make_warehouse(tmp_path / "w.duckdb")
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("alter table marts.fct_wallet_liability_monthly drop column cashback")
        with pytest.raises(WorkbookError, match=r"fct_wallet_liability_monthly lacks column\(s\) cashback"):
            write_workbook_from(connection, tmp_path / "a.xlsx", source="x")
        connection.execute("drop table marts.fct_wallet_liability_monthly")
        with pytest.raises(WorkbookError, match="no marts.fct_wallet_liability_monthly"):
            write_workbook_from(connection, tmp_path / "b.xlsx", source="x")
        connection.execute(WALLET_DDL)
        # points as text would be written as text: refused instead
        connection.execute("alter table marts.fct_points_liability_monthly alter earned type varchar")
        with pytest.raises(WorkbookError, match=r"fct_points_liability_monthly.earned returned str '0'"):
            write_workbook_from(connection, tmp_path / "c.xlsx", source="x")
    assert not list(tmp_path.glob("*.xlsx"))


def test_the_sheets_list_the_contract_columns_of_the_finance_marts() -> None:
    # a column added to a finance mart's contract must be added to the workbook too
    models = yaml.safe_load((PROJECT_DIR / "models/marts/finance/_finance__models.yml").read_text(encoding="utf-8"))
    contract = {model["name"]: [column["name"] for column in model["columns"]] for model in models["models"]}
    assert {sheet.table: [column.name for column in sheet.columns] for sheet in SHEETS} == contract


def test_the_warehouse_is_opened_read_only_and_closed(hand_made: Path, tmp_path: Path) -> None:
    before = hand_made.stat().st_mtime_ns, hand_made.read_bytes()
    write_workbook(hand_made, tmp_path / "w.xlsx")
    assert (hand_made.stat().st_mtime_ns, hand_made.read_bytes()) == before
    with duckdb.connect(str(hand_made)) as connection:  # a read-write open fails while one is still open
        assert connection.execute("select count(*) from marts.fct_points_liability_monthly").fetchone() == (3,)


def test_cli_writes_the_workbook_and_names_bad_arguments(
    hand_made: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cli.xlsx"
    assert main(["--warehouse", str(hand_made), "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out and out.exists()

    not_duckdb = tmp_path / "not.duckdb"
    not_duckdb.write_text("hello")
    no_marts = tmp_path / "no_marts.duckdb"
    duckdb.connect(str(no_marts)).close()
    cases = [
        (["--warehouse", str(tmp_path / "missing.duckdb"), "--out", str(out)], "--warehouse", "missing.duckdb"),
        (["--warehouse", str(not_duckdb), "--out", str(out)], "--warehouse", "not.duckdb"),
        (["--warehouse", str(no_marts), "--out", str(out)], "--warehouse", "no marts.rpt_warehouse_as_of"),
        (["--warehouse", str(hand_made), "--out", str(tmp_path)], "--out", str(tmp_path)),
        (["--warehouse", str(hand_made), "--out", str(tmp_path / "w.csv")], "--out", "must end in .xlsx"),
        (["--out", str(out)], "--warehouse", "required"),
    ]
    for argv, argument, detail in cases:
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 2, argv
        error = capsys.readouterr().err
        assert argument in error and detail in error, error


def test_decimals_keep_their_digits(tmp_path: Path) -> None:
    # openpyxl writes a Decimal's exact digits; Excel reads them as a double (15 significant digits)
    warehouse = make_warehouse(tmp_path / "w.duckdb")
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("update marts.fct_wallet_liability_monthly set closing_balance = 1234567890123.45")
        out = write_workbook_from(connection, tmp_path / "w.xlsx", source="x")
    values = [row[9].value for row in load_workbook(out)["Wallet liability"].iter_rows(min_row=2)]
    assert all(Decimal(str(value)) == Decimal("1234567890123.45") for value in values)
