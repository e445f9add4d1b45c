"""The loader's promises (loyalty/landing/loader.py), on small hand-written landing folders."""

from __future__ import annotations

import shutil
import traceback
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from loyalty.landing.contract import SOURCES
from loyalty.landing.loader import LoadError, discover, load_landing
from loyalty.warehouse import pg_conninfo

HEADER = "event_id,account_id,event_type,points,occurred_at,recorded_at,order_id,reverses_event_id,source\n"
ROWS = [
    "E1,A1,earn,100,2024-02-01T12:00:00Z,2024-02-01T12:00:05Z,O1,,pos\n",
    "E2,A1,redeem,-50,2024-03-01T12:00:00Z,2024-03-01T12:00:05Z,,,web\n",
]


def write_csv(landing: Path, name: str, rows: list[str], header: str = HEADER) -> Path:
    path = landing / "ledger_events" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + "".join(rows), encoding="utf-8")
    return path


def raw_rows(connection: duckdb.DuckDBPyConnection) -> int:
    return connection.execute("select count(*) from raw.ledger_events").fetchall()[0][0]


@pytest.fixture(params=["duckdb", "postgres"])
def connection(request: pytest.FixtureRequest, tmp_path: Path):
    """Every loader promise holds on both engines: a DuckDB file, and a PostgreSQL database
    written over psycopg with COPY."""
    if request.param == "duckdb":
        with duckdb.connect(str(tmp_path / "w.duckdb")) as connection:
            yield connection
        return
    import psycopg

    pg_env = request.getfixturevalue("pg_database")
    with psycopg.connect(**pg_conninfo(pg_env), autocommit=True) as connection:
        yield connection


def test_discover_orders_by_source_then_name_and_reports_strays(tmp_path: Path) -> None:
    write_csv(tmp_path, "b.csv", ROWS)
    write_csv(tmp_path, "a.csv", ROWS)
    (tmp_path / "ledger_events" / "notes.txt").write_text("x")
    (tmp_path / "unknown_source").mkdir()
    files, ignored = discover(tmp_path)
    assert [file.relative_path for file in files] == ["ledger_events/a.csv", "ledger_events/b.csv"]
    assert set(ignored) == {"ledger_events/notes.txt", "unknown_source"}


def test_missing_landing_folder_is_a_named_error(tmp_path: Path, connection) -> None:
    with pytest.raises(LoadError, match="does-not-exist"):
        load_landing(connection, tmp_path / "does-not-exist")


def test_a_file_loads_once_and_its_copy_adds_nothing(tmp_path: Path, connection) -> None:
    first = write_csv(tmp_path, "2024-01.csv", ROWS)
    report = load_landing(connection, tmp_path)
    assert report.loaded == [("ledger_events/2024-01.csv", 2)]
    shutil.copyfile(first, tmp_path / "ledger_events" / "2024-01-again.csv")
    again = load_landing(connection, tmp_path)
    assert again.loaded == []
    assert again.duplicate_files == [("ledger_events/2024-01-again.csv", "ledger_events/2024-01.csv")]
    third = load_landing(connection, tmp_path)
    assert (third.loaded, third.duplicate_files, third.already_loaded) == ([], [], 2)
    assert raw_rows(connection) == 2
    log = connection.execute("select outcome, rows_delivered from raw.load_log order by file_sequence").fetchall()
    assert log == [("loaded", 2), ("duplicate_file", 2)]


def test_rows_keep_their_file_and_line(tmp_path: Path, connection) -> None:
    write_csv(tmp_path, "2024-01.csv", ROWS)
    load_landing(connection, tmp_path)
    rows = connection.execute(
        "select _source_file, _source_row_number, event_id, points from raw.ledger_events order by 2"
    ).fetchall()
    assert rows == [("ledger_events/2024-01.csv", 1, "E1", "100"), ("ledger_events/2024-01.csv", 2, "E2", "-50")]


def test_parquet_values_land_as_text(tmp_path: Path, connection) -> None:
    columns = SOURCES["ledger_events"].columns
    table = pa.table({name: pa.array(["x"], type=pa.string()) for name in columns}).set_column(
        3, "points", pa.array([12], type=pa.int64())
    )
    (tmp_path / "ledger_events").mkdir()
    pq.write_table(table, tmp_path / "ledger_events" / "a.parquet")
    load_landing(connection, tmp_path)
    assert connection.execute("select points, _source_row_number from raw.ledger_events").fetchall() == [("12", 1)]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (HEADER.replace("points", "pts") + ROWS[0], "wrong columns.*missing column\\(s\\) points.*unexpected.*pts"),
        (HEADER + ROWS[0] + "E3,A1,earn\n", "line 3 has 3 fields"),
        ("", "empty"),
        (
            HEADER + ROWS[0] + 'E3,A1,earn,5,2024-02-01T12:00:00Z,2024-02-01T12:00:05Z,,,"pos\n' + ROWS[1],
            "a quoted field is not closed",
        ),
        (HEADER.rstrip("\n") + ",points\n" + ROWS[0].rstrip("\n") + ",1\n", "repeated column\\(s\\) points"),
    ],
    ids=["wrong-columns", "short-line", "empty-file", "unclosed-quote", "repeated-column"],
)
def test_unreadable_csv_names_the_file_and_loads_nothing_of_it(
    tmp_path: Path, connection, content: str, message: str
) -> None:
    write_csv(tmp_path, "a-good.csv", ROWS)
    bad = tmp_path / "ledger_events" / "b-bad.csv"
    bad.write_text(content, encoding="utf-8")
    write_csv(tmp_path, "c-later.csv", ["E9,A1,earn,5,2024-02-01T12:00:00Z,2024-02-01T12:00:05Z,,,pos\n"])
    with pytest.raises(LoadError, match=f"ledger_events/b-bad.csv.*{message}"):
        load_landing(connection, tmp_path)
    # the file before it is committed; nothing of the bad file, and the later file waits its turn
    assert raw_rows(connection) == 2
    files = connection.execute("select source_file from raw.load_log").fetchall()
    assert files == [("ledger_events/a-good.csv",)]


def test_extra_columns_load_with_a_schema_drift_warning(tmp_path: Path, connection, caplog) -> None:
    """docs/landing.md#file-level-errors: the extra column is ignored and named in the load log."""
    write_csv(tmp_path, "a.csv", [row.rstrip("\n") + ",gold\n" for row in ROWS], header=HEADER.rstrip("\n") + ",tier\n")
    columns = SOURCES["ledger_events"].columns
    table = pa.table({name: pa.array(["E7" if name == "event_id" else "1"]) for name in columns} | {"x": pa.array([1])})
    pq.write_table(table, tmp_path / "ledger_events" / "b.parquet")
    with caplog.at_level("WARNING"):
        report = load_landing(connection, tmp_path)
    assert report.schema_drift == [("ledger_events/a.csv", ("tier",)), ("ledger_events/b.parquet", ("x",))]
    assert "schema drift: ledger_events/a.csv" in caplog.text
    assert raw_rows(connection) == 3
    logged = connection.execute("select source_file, extra_columns from raw.load_log order by file_sequence").fetchall()
    assert logged == [("ledger_events/a.csv", "tier"), ("ledger_events/b.parquet", "x")]


def test_an_unreadable_line_is_named_without_quoting_it(tmp_path: Path) -> None:
    """docs/landing.md#personal-data: the error names the file and line, and neither its message
    nor the exception chain (which Dagster logs) carries the delivered row and its email."""
    path = tmp_path / "members" / "bad.csv"
    path.parent.mkdir()
    path.write_text(
        "account_id,email,enrolled_at,home_store_id,status\n"
        "A1,chloe.123@example.net,2024-01-01T00:00:00Z,,active,extra\n",
        encoding="utf-8",
    )
    with duckdb.connect() as connection, pytest.raises(LoadError) as caught:
        load_landing(connection, tmp_path)
    assert "members/bad.csv: line 2 has 6 fields, the header has 5" in str(caught.value)
    chain = [caught.value, caught.value.__cause__, caught.value.__context__]
    shown = "".join(traceback.format_exception(caught.value)) + " ".join(str(error) for error in chain if error)
    assert "chloe.123" not in shown, shown


def test_not_utf8_is_a_named_error(tmp_path: Path, connection) -> None:
    path = write_csv(tmp_path, "latin1.csv", [])
    path.write_bytes(
        HEADER.encode() + "E1,A1,earn,1,2024-02-01T12:00:00Z,2024-02-01T12:00:05Z,,,caf\xe9\n".encode("latin-1")
    )
    with pytest.raises(LoadError, match="ledger_events/latin1.csv: not valid UTF-8"):
        load_landing(connection, tmp_path)
    assert raw_rows(connection) == 0


def test_truncated_parquet_is_a_named_error_and_nothing_is_loaded(tmp_path: Path, connection) -> None:
    columns = SOURCES["ledger_events"].columns
    table = pa.table({name: pa.array(["x"] * 1000, type=pa.string()) for name in columns})
    (tmp_path / "ledger_events").mkdir()
    path = tmp_path / "ledger_events" / "broken.parquet"
    pq.write_table(table, path)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(LoadError, match="ledger_events/broken.parquet: cannot read as Parquet"):
        load_landing(connection, tmp_path)
    assert raw_rows(connection) == 0
    assert connection.execute("select count(*) from raw.load_log").fetchall()[0][0] == 0


def test_a_fixed_file_loads_on_the_next_run(tmp_path: Path, connection) -> None:
    bad = write_csv(tmp_path, "a.csv", [], header="wrong\n")
    with pytest.raises(LoadError):
        load_landing(connection, tmp_path)
    bad.write_text(HEADER + ROWS[0], encoding="utf-8")
    assert load_landing(connection, tmp_path).loaded == [("ledger_events/a.csv", 1)]
