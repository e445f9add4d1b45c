"""Load what is new in the landing folder into the warehouse's ``raw`` schema, exactly once.

Every landed value is stored as text: typing and validation happen in dbt staging, so a row
with an unparseable number is quarantined with a reason instead of failing the load. What the
loader guarantees:

* a file is identified by its content hash; a file whose (name, hash) was seen adds nothing,
  and the same bytes under another name are logged as a ``duplicate_file`` and add no rows;
* one file is one transaction: its rows and its ``raw.load_log`` row commit together;
* a file that cannot be read (truncated Parquet, a missing or repeated column, bad CSV line,
  not UTF-8) raises :class:`LoadError` naming the file and the problem; nothing of it is written.
  Files sorted before it are committed, files after it are left for the next load, so load
  order (which decides which delivery of a key wins) is never changed by a failure;
* a file with columns the contract does not name (upstream added a field) loads: the extra
  columns are ignored, named in ``raw.load_log.extra_columns`` and logged as a schema-drift
  warning (``LoadReport.schema_drift``; the dbt test on ``stg_loader__load_log`` warns too).

DuckDB's own Parquet reader does the Parquet work; CSV goes through pyarrow's multi-threaded
reader (every column as text, each row's position kept, because rejected rows must name their
line); Python's ``csv`` module only reads the header and, on the error path, finds the line
that breaks the file.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import re
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv

from loyalty.failpoints import failpoint
from loyalty.landing.contract import FILE_SUFFIXES, LOAD_COLUMNS, SOURCES, LandingSource
from loyalty.warehouse import execute

log = logging.getLogger(__name__)

LOAD_LOG_DDL = """
create table if not exists raw.load_log (
    file_sequence bigint,
    source varchar not null,
    source_file varchar not null,
    file_size_bytes bigint not null,
    content_hash varchar not null,
    rows_delivered bigint not null,
    load_id varchar not null,
    loaded_at timestamp not null,
    outcome varchar not null,
    duplicate_of varchar,
    extra_columns varchar
)
"""
# a load log written before schema drift was recorded (docs/landing.md#file-level-errors)
LOAD_LOG_UPGRADE = "alter table raw.load_log add column if not exists extra_columns varchar"
LOAD_LOG_COLUMNS = (
    "file_sequence, source, source_file, file_size_bytes, content_hash, rows_delivered, load_id, loaded_at,"
    " outcome, duplicate_of, extra_columns"
)


class LoadError(RuntimeError):
    """A landing file could not be loaded; the message names the file and the problem.

    It never quotes a delivered row: the message goes to the terminal, the refresh log, Dagster's
    event log and the alert queue, which the published warehouse loads (docs/landing.md#personal-data).
    The reader's own error, which may quote the row (pyarrow: "Expected 5 columns, got 6: <the
    line>"), is neither chained nor the context of a LoadError, and its text is passed through
    ``redact_personal_text``."""


# an email address (local@domain.tld) inside a longer text
_EMAIL_IN_TEXT = re.compile(r"[^\s@,;:'\"()<>\[\]{}]+@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")


def redact_personal_text(text: str) -> str:
    """``text`` with every email address masked the way the quarantine masks a member's email
    (macros/sql/quarantine.sql mask_personal_text: 'chloe.123@example.net' -> '***@example.net')."""
    return _EMAIL_IN_TEXT.sub(r"***@\1", text)


@dataclass(frozen=True)
class LandingFile:
    source: LandingSource
    path: Path
    relative_path: str  # "<source>/<name>", as stored in the load log and rejected rows


@dataclass
class LoadReport:
    load_id: str
    loaded: list[tuple[str, int]] = field(default_factory=list)  # (file, rows)
    duplicate_files: list[tuple[str, str]] = field(default_factory=list)  # (file, copy of)
    schema_drift: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)  # (file, extra columns)
    already_loaded: int = 0
    ignored: list[str] = field(default_factory=list)

    @property
    def rows_loaded(self) -> int:
        return sum(rows for _, rows in self.loaded)


def discover(landing_dir: Path) -> tuple[list[LandingFile], list[str]]:
    """Landing files in load order (source, then name) and the paths that are not landing files."""
    if not landing_dir.is_dir():
        raise LoadError(f"landing folder {landing_dir} does not exist or is not a folder")
    files: list[LandingFile] = []
    ignored: list[str] = []
    for entry in sorted(landing_dir.iterdir()):
        source = SOURCES.get(entry.name)
        if source is None or not entry.is_dir():
            ignored.append(entry.name)
            continue
        for path in sorted(entry.iterdir()):
            relative = f"{entry.name}/{path.name}"
            if path.is_file() and path.suffix.lower() in FILE_SUFFIXES and not path.name.startswith("."):
                files.append(LandingFile(source, path, relative))
            else:
                ignored.append(relative)
    return files, ignored


def content_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def extra_columns(file: LandingFile) -> tuple[str, ...]:
    """The columns of a landing file that its source does not name (schema drift), in file
    order; () when it has none. Raises LoadError as the loader would for an unreadable file."""
    if file.path.suffix.lower() == ".parquet":
        with duckdb.connect() as connection:
            actual = [name for name in _text_rows(connection, file).columns if name != "file_row_number"]
    else:
        actual = _csv_header(file)
        _check_columns(file, actual)
    return tuple(name for name in actual if name not in file.source.columns)


def _csv_header(file: LandingFile) -> list[str]:
    """The header row of a landing CSV (names stripped, a UTF-8 byte-order mark dropped)."""
    problem = ""  # raised outside the except clause: the reader's error is not even its context
    try:
        with file.path.open(newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle, strict=True), None)
    except UnicodeDecodeError as error:
        problem = f"not valid UTF-8 ({error.reason} at byte {error.start})"
    except csv.Error as error:
        problem = f"malformed CSV ({redact_personal_text(str(error))})"
    if problem:
        raise LoadError(f"{file.relative_path}: {problem}")
    if header is None:
        raise LoadError(f"{file.relative_path}: the CSV file is empty (no header row)")
    return [name.strip().lstrip("\ufeff") for name in header]


def _count_quotes(path: Path) -> int:
    """How many double quotes the file holds: standard CSV quoting always pairs them."""
    count = 0
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            count += chunk.count(b'"')
    return count


def _first_short_or_long_line(file: LandingFile, expected: int) -> tuple[int | str, int]:
    """(line number, fields) of the first CSV record whose field count differs from the header's."""
    with file.path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        for row in reader:
            if len(row) != expected:
                return reader.line_num, len(row)
    return "?", expected


def read_csv_as_text(file: LandingFile) -> pa.Table:
    """Read a landing CSV (UTF-8, header, comma) into a table of text columns (empty = null)
    plus ``file_row_number`` (0-based), with pyarrow's multi-threaded CSV reader. Raises
    LoadError naming the file: wrong columns, a line with the wrong number of fields (its line
    number), not UTF-8, malformed quoting (an unclosed quote)."""
    header = _csv_header(file)
    _check_columns(file, header)
    if _count_quotes(file.path) % 2:
        # pyarrow would read an unclosed quote to the end of the file, swallowing the lines
        # after it into one field: rows would vanish without an error
        raise LoadError(
            f"{file.relative_path}: malformed CSV (a quoted field is not closed: the file has an odd number of '\"')"
        )
    bad_lines: list[tuple[int | None, int, int]] = []

    def invalid_row(row) -> str:
        bad_lines.append((row.number, row.actual_columns, row.expected_columns))
        return "error"

    problem = ""  # raised outside the except clause: the reader's error (quoting the line) is not chained
    try:
        table = pacsv.read_csv(
            file.path,
            read_options=pacsv.ReadOptions(column_names=header, skip_rows=1, block_size=16 << 20),
            parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=invalid_row),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in header},
                include_columns=list(file.source.columns),
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
    except pa.ArrowInvalid as error:
        if bad_lines:
            number, actual, expected = bad_lines[0]
            if number is None:  # the multi-threaded reader does not know it: find it (error path only)
                number, actual = _first_short_or_long_line(file, expected)
            problem = f"line {number} has {actual} fields, the header has {expected}"
        elif "UTF8" in str(error) or "utf-8" in str(error).lower():
            problem = f"not valid UTF-8 ({redact_personal_text(str(error))})"
        else:
            problem = f"malformed CSV ({redact_personal_text(str(error))})"
    if problem:
        raise LoadError(f"{file.relative_path}: {problem}")
    return table.append_column("file_row_number", pa.array(range(table.num_rows), type=pa.int64()))


def _check_columns(file: LandingFile, actual: list[str]) -> None:
    """Raise LoadError naming the file when a contract column is missing or a column repeats
    (docs/landing.md#file-level-errors); the message then also names the columns the contract
    does not know (a file of another source, delivered into the wrong folder, says so). A column
    the contract does not name beside all of its columns is schema drift, not an error
    (``extra_columns``)."""
    expected = file.source.columns
    missing = [name for name in expected if name not in actual]
    unexpected = [name for name in actual if name not in expected]
    duplicated = sorted({name for name in actual if actual.count(name) > 1})
    problems = []
    if missing:
        problems.append(f"missing column(s) {', '.join(missing)}")
        if unexpected:
            problems.append(f"unexpected column(s) {', '.join(unexpected)}")
    if duplicated:
        problems.append(f"repeated column(s) {', '.join(duplicated)}")
    if problems:
        raise LoadError(
            f"{file.relative_path}: wrong columns for source '{file.source.name}': "
            f"{'; '.join(problems)} (expected {', '.join(expected)})"
        )


class RawStore:
    """The ``raw`` schema of a warehouse: load log, one text table per source.

    The bookkeeping SQL is the same on every engine (``?`` placeholders, run through
    ``warehouse.execute``); subclasses only say how a file's rows get into the table."""

    def __init__(self, connection) -> None:
        self.con = connection
        self._exec("set TimeZone = 'UTC'")
        self._exec("create schema if not exists raw")
        self._exec(LOAD_LOG_DDL)
        self._exec(LOAD_LOG_UPGRADE)
        for source in SOURCES.values():
            columns = ", ".join(f'"{name}" varchar' for name in source.columns)
            self._exec(
                f"create table if not exists raw.{source.name} ({columns}, _file_sequence bigint, "
                "_source_file varchar, _source_row_number bigint, _load_id varchar, _loaded_at timestamp)"
            )

    def _exec(self, sql: str, parameters: list | None = None) -> None:
        execute(self.con, sql, parameters)

    def _one(self, sql: str, parameters: list | None = None) -> tuple | None:
        rows = execute(self.con, sql, parameters)
        return rows[0] if rows else None

    def _insert_rows(self, file: LandingFile, sequence: int, load_id: str, loaded_at: datetime) -> None:
        raise NotImplementedError

    def seen(self, source: str, relative_path: str, digest: str) -> bool:
        row = self._one(
            "select count(*) from raw.load_log where source = ? and source_file = ? and content_hash = ?"
            " and outcome in ('loaded', 'duplicate_file')",
            [source, relative_path, digest],
        )
        return bool(row and row[0])

    def loaded_copy_of(self, source: str, digest: str) -> str | None:
        row = self._one(
            "select min(source_file) from raw.load_log where source = ? and content_hash = ? and outcome = 'loaded'",
            [source, digest],
        )
        return row[0] if row else None

    def next_sequence(self) -> int:
        row = self._one("select coalesce(max(file_sequence), 0) + 1 from raw.load_log")
        return int(row[0]) if row else 1

    def write_file(
        self,
        file: LandingFile,
        digest: str,
        size: int,
        load_id: str,
        loaded_at: datetime,
        extra: tuple[str, ...] = (),
    ) -> int:
        sequence = self.next_sequence()
        self._exec("begin transaction")
        try:
            self._insert_rows(file, sequence, load_id, loaded_at)
            rows = self._count(file.source.name, file.relative_path, sequence)
            self._log(sequence, file, size, digest, rows, load_id, loaded_at, "loaded", None, extra)
            failpoint("load.mid_file")
            self._exec("commit")
        except BaseException:
            self._exec("rollback")
            raise
        return rows

    def log_duplicate_file(
        self, file: LandingFile, digest: str, size: int, copy_of: str, load_id: str, loaded_at: datetime
    ) -> None:
        rows = self._one(
            "select rows_delivered from raw.load_log where source_file = ? and content_hash = ? and outcome = 'loaded'",
            [copy_of, digest],
        )
        self._exec("begin transaction")
        self._log(
            self.next_sequence(),
            file,
            size,
            digest,
            rows[0] if rows else 0,
            load_id,
            loaded_at,
            "duplicate_file",
            copy_of,
        )
        self._exec("commit")

    def _count(self, table: str, relative_path: str, sequence: int) -> int:
        row = self._one(
            f"select count(*) from raw.{table} where _source_file = ? and _file_sequence = ?",
            [relative_path, sequence],
        )
        return int(row[0]) if row else 0

    def _log(self, sequence, file, size, digest, rows, load_id, loaded_at, outcome, duplicate_of, extra=()) -> None:
        self._exec(
            f"insert into raw.load_log ({LOAD_LOG_COLUMNS}) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                sequence,
                file.source.name,
                file.relative_path,
                size,
                digest,
                rows,
                load_id,
                loaded_at,
                outcome,
                duplicate_of,
                ", ".join(extra) or None,
            ],
        )


def _text_rows(con: duckdb.DuckDBPyConnection, file: LandingFile) -> duckdb.DuckDBPyRelation:
    """A file's rows as text columns plus ``file_row_number`` (0-based), read by DuckDB."""
    if file.path.suffix.lower() == ".parquet":
        try:
            relation = con.read_parquet(str(file.path), file_row_number=True)
            actual = [name for name in relation.columns if name != "file_row_number"]
        except duckdb.Error as error:
            raise LoadError(
                f"{file.relative_path}: cannot read as Parquet: {redact_personal_text(str(error))}"
            ) from None
        _check_columns(file, actual)
        return relation
    return con.from_arrow(read_csv_as_text(file))


def _select_with_load_columns(file: LandingFile, sequence: int, load_id: str, loaded_at: datetime) -> str:
    def literal(value: str) -> str:
        return "'" + value.replace("'", "''") + "'"

    casts = ", ".join(f'cast("{name}" as varchar)' for name in file.source.columns)
    return (
        f"select {casts}, {int(sequence)}, {literal(file.relative_path)}, file_row_number + 1, "
        f"{literal(load_id)}, cast({literal(loaded_at.isoformat(sep=' '))} as timestamp) from landed"
    )


class DuckDBRawStore(RawStore):
    """The raw schema inside a DuckDB warehouse file."""

    def _insert_rows(self, file: LandingFile, sequence: int, load_id: str, loaded_at: datetime) -> None:
        names = ", ".join(f'"{name}"' for name in (*file.source.columns, *LOAD_COLUMNS))
        landed = _text_rows(self.con, file)
        self.con.register("landed", landed)
        try:
            self._exec(
                f"insert into raw.{file.source.name} ({names}) "
                + _select_with_load_columns(file, sequence, load_id, loaded_at)
            )
        except duckdb.Error as error:
            raise LoadError(f"{file.relative_path}: cannot read: {redact_personal_text(str(error))}") from None
        finally:
            self.con.unregister("landed")


class PostgresRawStore(RawStore):
    """The raw schema of a PostgreSQL warehouse, written over a psycopg connection in
    autocommit mode (transactions are explicit, one per file). DuckDB (in memory) reads the
    file and writes its rows as CSV; PostgreSQL's ``COPY`` streams them in."""

    def _insert_rows(self, file: LandingFile, sequence: int, load_id: str, loaded_at: datetime) -> None:
        names = ", ".join(f'"{name}"' for name in (*file.source.columns, *LOAD_COLUMNS))
        with tempfile.TemporaryDirectory(prefix="loyalty-load-") as folder:
            rows_csv = Path(folder) / "rows.csv"
            reader = duckdb.connect()
            try:
                reader.register("landed", _text_rows(reader, file))
                reader.sql(_select_with_load_columns(file, sequence, load_id, loaded_at)).write_csv(
                    str(rows_csv), header=False
                )
            except duckdb.Error as error:
                raise LoadError(f"{file.relative_path}: cannot read: {redact_personal_text(str(error))}") from None
            finally:
                reader.close()
            statement = f"copy raw.{file.source.name} ({names}) from stdin (format csv)"
            with self.con.cursor() as cursor, rows_csv.open("rb") as handle, cursor.copy(statement) as copy:
                while chunk := handle.read(1 << 20):
                    copy.write(chunk)


def raw_store(connection) -> RawStore:
    """The raw store for a DuckDB connection or a psycopg (PostgreSQL) connection."""
    if isinstance(connection, duckdb.DuckDBPyConnection):
        return DuckDBRawStore(connection)
    return PostgresRawStore(connection)


def iter_new_files(store: RawStore, files: list[LandingFile]) -> Iterator[tuple[LandingFile, str, int]]:
    for file in files:
        digest = content_hash(file.path)
        if not store.seen(file.source.name, file.relative_path, digest):
            yield file, digest, file.path.stat().st_size


def new_load_id() -> str:
    """A fresh load batch id (``raw.*._load_id``, ``raw.load_log.load_id``)."""
    return uuid.uuid4().hex


def load_landing(connection, landing_dir: Path, load_id: str | None = None) -> LoadReport:
    """Load every new landing file into ``raw`` of a DuckDB warehouse or a PostgreSQL database
    (a psycopg connection in autocommit mode); see the module docstring for the guarantees.

    ``load_id``: the batch id to write (default: a new one); a refresh journals it *before*
    loading, so that a refresh killed between two files is rolled back whole
    (docs/operations.md#rollback)."""
    store = raw_store(connection)
    files, ignored = discover(landing_dir)
    report = LoadReport(load_id=load_id or new_load_id(), ignored=ignored)
    loaded_at = datetime.now(UTC).replace(tzinfo=None)
    new = 0
    for file, digest, size in iter_new_files(store, files):
        new += 1
        copy_of = store.loaded_copy_of(file.source.name, digest)
        if copy_of is not None:
            store.log_duplicate_file(file, digest, size, copy_of, report.load_id, loaded_at)
            report.duplicate_files.append((file.relative_path, copy_of))
            log.info("%s is a copy of %s: nothing loaded", file.relative_path, copy_of)
            continue
        extra = extra_columns(file)
        rows = store.write_file(file, digest, size, report.load_id, loaded_at, extra)
        report.loaded.append((file.relative_path, rows))
        log.info("loaded %s: %d rows", file.relative_path, rows)
        if extra:
            report.schema_drift.append((file.relative_path, extra))
            log.warning(
                "schema drift: %s has column(s) the contract does not name, ignored: %s",
                file.relative_path,
                ", ".join(extra),
            )
        failpoint("load.between_files")
    report.already_loaded = len(files) - new
    for path in ignored:
        log.warning("ignored %s: not a landing file (expected <source>/<name>.parquet|.csv)", path)
    return report
