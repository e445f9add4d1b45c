"""Fault campaign, part "bad input" (docs/reliability.md#bad-input): a catalogue of the bad
input the landing zone meets, each kind with its documented outcome (docs/landing.md#quarantine,
docs/landing.md#file-level-errors), and a property-based mix of them (part "property-based").

``CATALOGUE`` is the one registry of kinds. Each kind writes one file into a landing folder
from valid template rows and says what must become of it:

* ``quarantined`` — the bad row is rejected with ``reason`` (audit.rejected_source_rows);
* ``staged`` — the file's odd-looking rows are valid and staged (``values`` pins the typed
  values that prove it, e.g. an offset converted to UTC);
* ``loaded_with_warning`` — the file loads, its rows are staged, and the load log names the
  extra columns (schema drift);
* ``refused`` — the loader refuses the whole file with a LoadError whose message holds
  ``reason``; nothing of it is written, the files before it stay loaded.

Row-level kinds put valid rows (fresh keys, copies of a clean row) beside the bad one: they
must be staged exactly as the clean row they copy. Every row-level kind is one file of ONE
landing folder built once; each refused kind is tried with the loader alone in its own folder.
"""

from __future__ import annotations

import csv
import io
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from loyalty.landing.contract import SOURCES
from loyalty.landing.loader import LoadError, load_landing
from tools.faults import Result
from tools.faults.harness import accounting, build, clean_rows, generate, write_csv

OUTCOMES = ("quarantined", "staged", "refused", "loaded_with_warning")
Row = dict[str, str | None]
Rows = dict[str, list[Row]]


@dataclass(frozen=True)
class Written:
    """What a builder wrote: the file (relative to the landing folder) and, per data row
    (1 = first), what must become of it — ``("staged", template_key)`` (staged exactly as the
    clean row with that key), ``("staged", None)`` (staged; ``values`` checked), or
    ``(row_status, reason)`` for a bad row."""

    file: str
    rows: dict[int, tuple[str, str | None]] = field(default_factory=dict)
    values: dict[int, dict[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Kind:
    """One kind of bad input (docs/reliability.md#bad-input).

    name: unique, snake_case; source: the landing folder it is delivered into; file_format:
    ``csv`` or ``parquet``; outcome: one of ``OUTCOMES``; reason: the rejection reason
    (quarantined), a substring of the LoadError (refused), else ""; description and example:
    one line each for the docs table; build(landing, templates, tag) writes the file and
    returns ``Written``; mix: a bad row for the property-based part (a rejected row with a
    fresh key), or None when the kind cannot be mixed into a delivery without changing it."""

    name: str
    source: str
    file_format: str
    outcome: str
    reason: str
    description: str
    example: str
    build: Callable[[Path, Rows, str], Written]
    mix: Callable[[Row, str], Row] | None = None

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES or self.source not in SOURCES or self.file_format not in ("csv", "parquet"):
            raise ValueError(f"bad input kind {self.name!r}: outcome, source or format is not one the registry knows")
        if (self.outcome in ("quarantined", "refused")) != bool(self.reason):
            raise ValueError(f"bad input kind {self.name!r}: a reason goes with quarantined and refused, only")


# ---------------------------------------------------------------------------------------------
# Templates: valid rows with fresh keys.


def template(templates: Rows, source: str) -> Row:
    """The clean row every kind of ``source`` copies (chosen by ``pick_templates``)."""
    return dict(templates[source][0])


def fresh(source: str, row: Row, tag: str) -> Row:
    """``row`` under a key no clean row has (``tag`` makes it unique), payload unchanged
    except the key: an id ``FLT-<tag>``, a metric ``flt_<tag>``, or for a snapshot an as_of at
    23:mm:ss of its day (mm:ss from the tag)."""
    row = dict(row)
    if source in ("store_operations", "store_targets"):
        row["metric"] = f"flt_{tag}"
    elif source == "balance_snapshots":
        number = sum(ord(ch) * 31**i for i, ch in enumerate(tag)) % 3600
        row["as_of"] = f"{row['as_of'][:10]}T23:{number // 60:02d}:{number % 60:02d}Z"
    else:
        name = {
            "members": "account_id",
            "stores": "store_id",
            "orders": "order_id",
            "ledger_events": "event_id",
            "wallet_transactions": "txn_id",
        }[source]
        row[name] = f"FLT-{tag}"
    return row


def row_key(source: str, row: Row) -> str:
    """The row_key the staging base models give a row (key columns joined by '|')."""
    return "|".join((row.get(name) or "").strip() for name in SOURCES[source].key)


def pick_templates(clean: Rows) -> Rows:
    """One clean row per source that every kind of it can copy: an earn, a top_up, a
    completed member order, an active member with a home store, an open store, a wallet
    snapshot (first of each)."""
    wanted: dict[str, Callable[[Row], bool]] = {
        "members": lambda r: r["status"] == "active" and bool(r["home_store_id"]),
        "stores": lambda r: not r["closed_on"],
        "orders": lambda r: r["status"] == "completed" and bool(r["account_id"]),
        "ledger_events": lambda r: r["event_type"] == "earn",
        "wallet_transactions": lambda r: r["txn_type"] == "top_up",
        "balance_snapshots": lambda r: r["balance_type"] == "wallet",
        "store_operations": lambda r: True,
        "store_targets": lambda r: True,
    }
    return {source: [next(row for row in clean[source] if wanted[source](row))] for source in SOURCES}


# ---------------------------------------------------------------------------------------------
# Builders.


def _csv_text(columns: tuple[str, ...], rows: list[Row]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(name) is None else row[name] for name in columns])
    return out.getvalue()


def _with_valid_neighbours(source: str, templates: Rows, tag: str, bad: list[Row]) -> tuple[list[Row], dict]:
    """[valid, *bad, valid]: the valid rows are the template under fresh keys."""
    base = template(templates, source)
    first, last = fresh(source, base, tag + "a"), fresh(source, base, tag + "z")
    rows = [first, *bad, last]
    expected = {1: ("staged", row_key(source, base)), len(rows): ("staged", row_key(source, base))}
    return rows, expected


def bad_row(source: str, mutate: Callable[[Row], Row], mix: bool = True) -> tuple[Callable, Callable | None]:
    """A builder (and a mixer) for a kind whose bad row is the template, under a fresh key,
    changed by ``mutate``; quarantined kinds only."""

    def make(base: Row, tag: str) -> Row:
        return mutate(fresh(source, base, tag + "b"))

    def builder(landing: Path, templates: Rows, tag: str, *, kind: Kind) -> Written:
        bad = make(template(templates, source), tag)
        rows, expected = _with_valid_neighbours(source, templates, tag, [bad])
        expected[2] = ("rejected", kind.reason)
        relative = f"{source}/zz_{tag}.csv"
        write_csv(landing / relative, SOURCES[source].columns, rows)
        return Written(relative, expected)

    return builder, (make if mix else None)


def staged_text(source: str, mutate: Callable[[Row], Row], values: dict[str, str]) -> Callable:
    """A builder for a kind whose odd row is valid: staged with the typed ``values``."""

    def builder(landing: Path, templates: Rows, tag: str, *, kind: Kind) -> Written:
        odd = mutate(fresh(source, template(templates, source), tag + "b"))
        rows, expected = _with_valid_neighbours(source, templates, tag, [odd])
        expected[2] = ("staged", None)
        relative = f"{source}/zz_{tag}.csv"
        write_csv(landing / relative, SOURCES[source].columns, rows)
        return Written(relative, expected, {2: values})

    return builder


def raw_csv(source: str, render: Callable[[str], bytes], rows_expected: int) -> Callable:
    """A builder for a CSV formatting kind: ``render`` turns the clean CSV text of
    [valid, valid] rows into the file's bytes (BOM, CRLF, ...). ``rows_expected`` rows must be
    staged, the first and last as the template."""

    def builder(landing: Path, templates: Rows, tag: str, *, kind: Kind) -> Written:
        base = template(templates, source)
        rows = [fresh(source, base, tag + "a"), fresh(source, base, tag + "z")]
        relative = f"{source}/zz_{tag}.csv"
        path = landing / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(render(_csv_text(SOURCES[source].columns, rows)))
        key = row_key(source, base)
        expected = {number: ("staged", key) for number in range(1, rows_expected + 1)}
        return Written(relative, expected)

    return builder


def _store_name(name: str) -> Callable[[Row], Row]:
    return lambda row: {**row, "store_name": name}


def _set(**changes: str | None) -> Callable[[Row], Row]:
    return lambda row: {**row, **changes}


def _recorded_before(row: Row) -> Row:
    return {**row, "occurred_at": "2031-01-02T00:00:00Z", "recorded_at": "2031-01-01T00:00:00Z"}


def _parquet_builder(source: str, table_of: Callable[[list[Row]], pa.Table], expected_of: Callable) -> Callable:
    def builder(landing: Path, templates: Rows, tag: str, *, kind: Kind) -> Written:
        base = template(templates, source)
        rows = [fresh(source, base, tag + "a"), fresh(source, base, tag + "z")]
        relative = f"{source}/zz_{tag}.parquet"
        (landing / source).mkdir(parents=True, exist_ok=True)
        pq.write_table(table_of(rows), landing / relative)
        return Written(relative, expected_of(row_key(source, base), kind))

    return builder


def _text_table(rows: list[Row], columns: tuple[str, ...], extra: dict[str, list] | None = None) -> pa.Table:
    data = {name: pa.array([row[name] for row in rows], type=pa.string()) for name in columns}
    return pa.table({**data, **(extra or {})})


def _points_as_double(rows: list[Row]) -> pa.Table:
    table = _text_table(rows, SOURCES["ledger_events"].columns)
    index = table.column_names.index("points")
    return table.set_column(index, "points", pa.array([float(row["points"]) for row in rows], type=pa.float64()))


def _typed_timestamps(rows: list[Row]) -> pa.Table:
    table = _text_table(rows, SOURCES["ledger_events"].columns)
    for name in ("occurred_at", "recorded_at"):
        stamps = [datetime.fromisoformat(row[name].replace("Z", "+00:00")).astimezone(UTC) for row in rows]
        table = table.set_column(
            table.column_names.index(name), name, pa.array(stamps, type=pa.timestamp("us", tz="UTC"))
        )
    points = pa.array([int(row["points"]) for row in rows], type=pa.int64())
    return table.set_column(table.column_names.index("points"), "points", points)


def refused(source: str, suffix: str, content: Callable[[Rows], bytes]) -> Callable:
    """A builder for a refused kind: writes ``content(templates)`` as ``<source>/b_<tag>.<suffix>``,
    which ``run_refused_kind`` puts between a good file (``a_good.csv``) and a later one."""

    def builder(landing: Path, templates: Rows, tag: str, *, kind: Kind) -> Written:
        relative = f"{source}/b_{tag}.{suffix}"
        (landing / source).mkdir(parents=True, exist_ok=True)
        (landing / relative).write_bytes(content(templates))
        return Written(relative)

    return builder


def _clean_csv(source: str, templates: Rows, tag: str = "r") -> str:
    base = template(templates, source)
    return _csv_text(SOURCES[source].columns, [fresh(source, base, tag + "1"), fresh(source, base, tag + "2")])


def _parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def _missing_column(templates: Rows) -> bytes:
    rows = [fresh("ledger_events", template(templates, "ledger_events"), "m1")]
    return _parquet_bytes(_text_table(rows, SOURCES["ledger_events"].columns).drop_columns(["recorded_at"]))


def _truncated(templates: Rows) -> bytes:
    rows = [fresh("ledger_events", template(templates, "ledger_events"), "t1")]
    whole = _parquet_bytes(_text_table(rows, SOURCES["ledger_events"].columns))
    return whole[: len(whole) // 2]


def _short_line(templates: Rows) -> bytes:
    text = _clean_csv("wallet_transactions", templates)
    lines = text.splitlines()
    lines[2] = ",".join(lines[2].split(",")[:-2])
    return ("\n".join(lines) + "\n").encode()


def _not_utf8(templates: Rows) -> bytes:
    return _clean_csv("stores", templates).replace("FLT-", "FLT-\xe9").encode("latin-1")


def _repeated_column(templates: Rows) -> bytes:
    text = _clean_csv("orders", templates)
    lines = text.splitlines()
    return ("\n".join(f"{line},{line.split(',')[0]}" for line in lines[:1]) + "\n").encode() + (
        "\n".join(f"{line},x" for line in lines[1:]) + "\n"
    ).encode()


def _unterminated_quote(templates: Rows) -> bytes:
    lines = _clean_csv("ledger_events", templates).splitlines()
    fields = lines[1].split(",")
    fields[-1] = '"pos'
    lines[1] = ",".join(fields)
    return ("\n".join(lines) + "\n").encode()


# ---------------------------------------------------------------------------------------------
# The catalogue.

_L, _W, _O = "ledger_events", "wallet_transactions", "orders"
_M, _S, _B = "members", "stores", "balance_snapshots"
_OPS, _T = "store_operations", "store_targets"


def _q(name, source, reason, description, example, mutate, mix=True) -> Kind:
    builder, mixer = bad_row(source, mutate, mix)
    kind: Kind
    kind = Kind(
        name, source, "csv", "quarantined", reason, description, example, lambda *a: builder(*a, kind=kind), mixer
    )
    return kind


def _k(name, source, file_format, outcome, reason, description, example, builder) -> Kind:
    kind: Kind
    kind = Kind(name, source, file_format, outcome, reason, description, example, lambda *a: builder(*a, kind=kind))
    return kind


CATALOGUE: tuple[Kind, ...] = (
    # keys and required values
    _q("empty_key", _L, "missing_key", "empty event_id", "`event_id` empty", _set(event_id="")),
    _q(
        "blank_key",
        _W,
        "missing_key",
        "key of spaces only (blank after trimming)",
        "`txn_id` = three spaces",
        _set(txn_id="   "),
    ),
    _q("empty_account", _W, "missing_key", "a movement without account_id", "`account_id` empty", _set(account_id="")),
    _q(
        "empty_required_value",
        _O,
        "missing_value",
        "order without net_amount",
        "`net_amount` empty",
        _set(net_amount=""),
    ),
    _q(
        "wallet_snapshot_without_currency",
        _B,
        "missing_key",
        "wallet snapshot, empty currency",
        "`currency` empty",
        _set(currency=""),
    ),
    # enums
    _q(
        "unknown_event_type",
        _L,
        "unknown_enum",
        "event_type outside the list",
        "`event_type` = `bonus`",
        _set(event_type="bonus"),
    ),
    _q(
        "unknown_order_status",
        _O,
        "unknown_enum",
        "order status outside the list",
        "`status` = `shipped`",
        _set(status="shipped"),
    ),
    _q(
        "enum_wrong_case",
        _M,
        "unknown_enum",
        "enum values are case-sensitive",
        "`status` = `Active`",
        _set(status="Active"),
    ),
    _q(
        "currency_not_iso_4217",
        _W,
        "unknown_enum",
        "three letters that are no ISO 4217 code",
        "`currency` = `XYZ`",
        _set(currency="XYZ"),
    ),
    _q("currency_lower_case", _O, "unknown_enum", "ISO code in lower case", "`currency` = `eur`", _set(currency="eur")),
    _q(
        "points_snapshot_with_currency",
        _B,
        "unknown_enum",
        "a points snapshot names a currency",
        "`balance_type` = `points`, `currency` = `EUR`",
        _set(balance_type="points", balance="10.00"),
    ),
    # signs
    _q("negative_earn", _L, "wrong_sign", "earn with negative points", "`earn`, `points` = `-50`", _set(points="-50")),
    _q("zero_points", _L, "wrong_sign", "an event of 0 points", "`points` = `0`", _set(points="0")),
    _q(
        "positive_spend",
        _W,
        "wrong_sign",
        "spend with a positive amount",
        "`spend`, `amount` = `5.00`",
        _set(txn_type="spend", amount="5.00"),
    ),
    _q(
        "negative_order_amount",
        _O,
        "wrong_sign",
        "negative net_amount",
        "`net_amount` = `-10.00`",
        _set(net_amount="-10.00"),
    ),
    # numbers
    _q(
        "points_not_a_number",
        _L,
        "unparseable_number",
        "points that are not a number",
        "`points` = `12abc`",
        _set(points="12abc"),
    ),
    _q(
        "points_with_fraction",
        _L,
        "unparseable_number",
        "points with a fraction",
        "`points` = `12.5`",
        _set(points="12.5"),
    ),
    _q(
        "money_three_decimals",
        _W,
        "unparseable_number",
        "money with 3 decimal places",
        "`amount` = `5.125`",
        _set(amount="5.125"),
    ),
    _q(
        "money_as_float",
        _O,
        "unparseable_number",
        "money in exponent notation",
        "`net_amount` = `1e3`",
        _set(net_amount="1e3"),
    ),
    _q(
        "money_decimal_comma",
        _W,
        "unparseable_number",
        "a decimal comma (quoted field)",
        '`amount` = `"5,00"`',
        _set(amount="5,00"),
    ),
    _q(
        "huge_points",
        _L,
        "unparseable_number",
        "points beyond 18 digits",
        "`points` = `99999999999999999999`",
        _set(points="99999999999999999999"),
    ),
    _q(
        "huge_money",
        _O,
        "unparseable_number",
        "money beyond 16 integer digits",
        "`net_amount` = `12345678901234567.00`",
        _set(net_amount="12345678901234567.00"),
    ),
    _q(
        "metric_value_not_a_number",
        _OPS,
        "unparseable_number",
        "a store metric value that is not a number",
        "`value` = `n/a`",
        _set(value="n/a"),
    ),
    # timestamps and dates
    _q(
        "timestamp_not_iso",
        _L,
        "unparseable_timestamp",
        "a timestamp that is not ISO 8601",
        "`occurred_at` = `03/01/2024 10:00`",
        _set(occurred_at="03/01/2024 10:00"),
    ),
    _q(
        "impossible_date_time",
        _W,
        "unparseable_timestamp",
        "a calendar day that does not exist",
        "`recorded_at` = `2024-02-30T10:00:00Z`",
        _set(recorded_at="2024-02-30T10:00:00Z"),
    ),
    _q(
        "date_only_timestamp",
        _M,
        "unparseable_timestamp",
        "a timestamp without its time part",
        "`enrolled_at` = `2024-01-05`",
        _set(enrolled_at="2024-01-05"),
    ),
    _q(
        "date_not_iso",
        _S,
        "unparseable_timestamp",
        "a date in another format",
        "`opened_on` = `01/02/2024`",
        _set(opened_on="01/02/2024"),
    ),
    _q(
        "target_month_not_first_day",
        _T,
        "unparseable_timestamp",
        "period_month not the first of a month",
        "`period_month` = `2024-03-15`",
        _set(period_month="2024-03-15"),
    ),
    _q(
        "recorded_before_occurred",
        _L,
        "recorded_before_occurred",
        "recorded a day before it occurred",
        "`occurred_at` = `2031-01-02…`, `recorded_at` = `2031-01-01…`",
        _recorded_before,
    ),
    _q(
        "store_closed_before_opened",
        _S,
        "recorded_before_occurred",
        "closed_on before opened_on",
        "`opened_on` = `2024-03-01`, `closed_on` = `2024-02-01`",
        _set(opened_on="2024-03-01", closed_on="2024-02-01"),
    ),
    _q(
        "far_future_timestamp",
        _L,
        "future_timestamp",
        "dated far beyond the file's load time",
        "`occurred_at`, `recorded_at` = `9999-12-31T00:00:00Z`",
        _set(occurred_at="9999-12-31T00:00:00Z", recorded_at="9999-12-31T00:00:00Z"),
    ),
    _q(
        "far_future_snapshot",
        _B,
        "future_timestamp",
        "a snapshot as_of in year 2999",
        "`as_of` = `2999-01-01T00:00:00Z`",
        _set(as_of="2999-01-01T00:00:00Z"),
    ),
    # references
    _q(
        "unknown_account",
        _L,
        "unknown_account",
        "an account no member file delivered",
        "`account_id` = `NOPE-1`",
        _set(account_id="NOPE-1"),
    ),
    _q(
        "unknown_store",
        _O,
        "unknown_store",
        "a store no store file delivered",
        "`store_id` = `NOPE-S`",
        _set(store_id="NOPE-S"),
    ),
    _q(
        "unknown_home_store",
        _M,
        "unknown_store",
        "a member's home store is unknown",
        "`home_store_id` = `NOPE-S`",
        _set(home_store_id="NOPE-S"),
    ),
    _k(
        "conflicting_duplicate",
        _L,
        "csv",
        "quarantined",
        "conflicting_duplicate",
        "a fact's key again with another payload (first delivery kept)",
        "`event_id` of an earlier row, other `points`",
        lambda landing, templates, tag, *, kind: _conflict(landing, templates, tag, kind),
    ),
    _k(
        "dimension_update",
        _M,
        "csv",
        "staged",
        "",
        "a member's key again with another payload: a new version",
        "same `account_id`, `status` = `closed`",
        lambda landing, templates, tag, *, kind: _dimension_update(landing, templates, tag),
    ),
    # valid after all: converted or kept as delivered
    _k(
        "timestamp_with_offset",
        _L,
        "csv",
        "staged",
        "",
        "an explicit offset is converted to UTC",
        "`occurred_at` = `2024-03-01T12:00:00-02:00` → 14:00 UTC",
        staged_text(
            _L,
            _set(occurred_at="2024-03-01T12:00:00-02:00", recorded_at="2024-03-01T15:30:00+0130"),
            {"occurred_at": "2024-03-01 14:00:00", "recorded_at": "2024-03-01 14:00:00"},
        ),
    ),
    _k(
        "timestamp_without_zone",
        _W,
        "csv",
        "staged",
        "",
        "no zone means UTC",
        "`occurred_at` = `2024-03-01 12:00:00`",
        staged_text(
            _W,
            _set(occurred_at="2024-03-01 12:00:00", recorded_at="2024-03-01T12:00:00.123456"),
            {"occurred_at": "2024-03-01 12:00:00", "recorded_at": "2024-03-01 12:00:00.123456"},
        ),
    ),
    _k(
        "huge_text",
        _L,
        "csv",
        "staged",
        "",
        "a 100 000-character text value is kept whole",
        "`source` = `xxx…` (100 000)",
        staged_text(_L, _set(source="x" * 100_000), {"source": "x" * 100_000}),
    ),
    _k(
        "csv_quoted_comma",
        _S,
        "csv",
        "staged",
        "",
        "a quoted field with commas",
        '`"Shop, Downtown, 2"`',
        staged_text(_S, _store_name("Shop, Downtown, 2"), {"store_name": "Shop, Downtown, 2"}),
    ),
    _k(
        "csv_embedded_newline",
        _S,
        "csv",
        "staged",
        "",
        "a quoted field with a line break",
        '`"Line one\\nLine two"`',
        staged_text(_S, _store_name("Line one\nLine two"), {"store_name": "Line one\nLine two"}),
    ),
    _k(
        "csv_doubled_quotes",
        _S,
        "csv",
        "staged",
        "",
        'a quote escaped as `""`',
        '`"The ""Big"" Shop"`',
        staged_text(_S, _store_name('The "Big" Shop'), {"store_name": 'The "Big" Shop'}),
    ),
    _k(
        "csv_byte_order_mark",
        _W,
        "csv",
        "staged",
        "",
        "UTF-8 with a byte-order mark",
        "`EF BB BF` before the header",
        raw_csv(_W, lambda text: b"\xef\xbb\xbf" + text.encode(), 2),
    ),
    _k(
        "csv_crlf",
        _W,
        "csv",
        "staged",
        "",
        "Windows line ends",
        "`\\r\\n` after every line",
        raw_csv(_W, lambda text: text.replace("\n", "\r\n").encode(), 2),
    ),
    _k(
        "csv_no_final_newline",
        _L,
        "csv",
        "staged",
        "",
        "the last line has no line end",
        "file ends without `\\n`",
        raw_csv(_L, lambda text: text.rstrip("\n").encode(), 2),
    ),
    _k(
        "csv_header_only",
        _W,
        "csv",
        "staged",
        "",
        "a header and no rows: loads 0 rows",
        "header line only",
        raw_csv(_W, lambda text: text.splitlines(keepends=True)[0].encode(), 0),
    ),
    _k(
        "parquet_typed_columns",
        _L,
        "parquet",
        "staged",
        "",
        "typed Parquet (timestamp with zone, int64 points) is read as text",
        "`occurred_at` timestamp[us, UTC], `points` int64",
        _parquet_builder(_L, _typed_timestamps, lambda key, kind: {1: ("staged", key), 2: ("staged", key)}),
    ),
    _k(
        "parquet_wrong_physical_type",
        _L,
        "parquet",
        "quarantined",
        "unparseable_number",
        "points written as a float column: every row names the value",
        "`points` double (`120.0`)",
        _parquet_builder(
            _L, _points_as_double, lambda key, kind: {1: ("rejected", kind.reason), 2: ("rejected", kind.reason)}
        ),
    ),
    _k(
        "parquet_extra_column",
        _L,
        "parquet",
        "loaded_with_warning",
        "",
        "a column the contract does not name: ignored, recorded in the load log, warns",
        "extra column `loyalty_tier`",
        _parquet_builder(
            _L,
            lambda rows: _text_table(rows, SOURCES[_L].columns, {"loyalty_tier": pa.array(["gold"] * len(rows))}),
            lambda key, kind: {1: ("staged", key), 2: ("staged", key)},
        ),
    ),
    # refused: the loader refuses the whole file
    _k(
        "parquet_missing_column",
        _L,
        "parquet",
        "refused",
        "missing column(s) recorded_at",
        "a contract column is missing",
        "no `recorded_at`",
        refused(_L, "parquet", _missing_column),
    ),
    _k(
        "parquet_truncated",
        _L,
        "parquet",
        "refused",
        "cannot read as Parquet",
        "a Parquet file cut in half",
        "first half of the bytes",
        refused(_L, "parquet", _truncated),
    ),
    _k(
        "parquet_not_parquet",
        _W,
        "parquet",
        "refused",
        "cannot read as Parquet",
        "a CSV named .parquet",
        "CSV text in `x.parquet`",
        refused(_W, "parquet", lambda t: _clean_csv(_W, t).encode()),
    ),
    _k(
        "csv_not_utf8",
        _S,
        "csv",
        "refused",
        "not valid UTF-8",
        "Latin-1 bytes",
        "`é` as byte `E9`",
        refused(_S, "csv", _not_utf8),
    ),
    _k(
        "csv_empty_file",
        _M,
        "csv",
        "refused",
        "the CSV file is empty",
        "zero bytes",
        "empty file",
        refused(_M, "csv", lambda t: b""),
    ),
    _k(
        "csv_short_line",
        _W,
        "csv",
        "refused",
        "line 3 has 6 fields, the header has 8",
        "a line with fewer fields",
        "second row missing its last two fields",
        refused(_W, "csv", _short_line),
    ),
    _k(
        "csv_repeated_column",
        _O,
        "csv",
        "refused",
        "repeated column(s) order_id",
        "a column named twice",
        "header `…,order_id`",
        refused(_O, "csv", _repeated_column),
    ),
    _k(
        "csv_unterminated_quote",
        _L,
        "csv",
        "refused",
        "a quoted field is not closed",
        "a quote that never closes",
        '`"pos` to the end of the file',
        refused(_L, "csv", _unterminated_quote),
    ),
    _k(
        "file_in_wrong_source_folder",
        _W,
        "csv",
        "refused",
        "wrong columns for source 'wallet_transactions'",
        "ledger events delivered into wallet_transactions/",
        "ledger_events header in `wallet_transactions/`",
        refused(_W, "csv", lambda t: _clean_csv(_L, t).encode()),
    ),
)


def _conflict(landing: Path, templates: Rows, tag: str, kind: Kind) -> Written:
    """The template's own key (delivered in the clean file, earlier in load order) with other points."""
    base = template(templates, _L)
    conflict = {**base, "points": str(int(base["points"]) + 7)}
    rows, expected = _with_valid_neighbours(_L, templates, tag, [conflict])
    expected[2] = ("rejected", kind.reason)
    relative = f"{_L}/zz_{tag}.csv"
    write_csv(landing / relative, SOURCES[_L].columns, rows)
    return Written(relative, expected)


def _dimension_update(landing: Path, templates: Rows, tag: str) -> Written:
    """A new member and, later in the same file, its next state (closed): two versions."""
    base = template(templates, _M)
    first = fresh(_M, base, tag + "a")
    rows = [first, fresh(_M, base, tag + "z"), {**first, "status": "closed"}]
    relative = f"{_M}/zz_{tag}.csv"
    write_csv(landing / relative, SOURCES[_M].columns, rows)
    key = row_key(_M, base)
    return Written(relative, {1: ("staged", key), 2: ("staged", key), 3: ("staged", None)}, {3: {"status": "closed"}})


def _tag(index: int) -> str:
    return f"k{index:02d}"


# ---------------------------------------------------------------------------------------------
# Running the catalogue.


@dataclass
class Prepared:
    """Generated data, built once, and its staged rows as a clean delivery."""

    clean: Rows
    templates: Rows
    clean_landing: Path


_PREPARED: dict[Path, Prepared] = {}


def prepare(workdir: Path) -> Prepared:
    """Generate small data into ``workdir``, build it once, and keep its staged rows as a
    clean landing folder (one ``clean.csv`` per source); cached per workdir."""
    workdir = workdir.resolve()
    if workdir in _PREPARED:
        return _PREPARED[workdir]
    generated, truth = workdir / "generated", workdir / "truth"
    if not generated.exists():
        generate(generated, truth)
    database = workdir / "prepare.duckdb"
    database.unlink(missing_ok=True)
    build(generated, database, workdir / "dbt")
    clean = clean_rows(database)
    clean_landing = workdir / "clean"
    shutil.rmtree(clean_landing, ignore_errors=True)
    for source, rows in clean.items():
        write_csv(clean_landing / source / "clean.csv", SOURCES[source].columns, rows)
    _PREPARED[workdir] = Prepared(clean, pick_templates(clean), clean_landing)
    return _PREPARED[workdir]


def _staged_payload(connection, source: str, where: str, parameters: list) -> list[tuple]:
    """Typed payload (key columns left out) of the staged rows that match ``where``."""
    columns = [name for name in SOURCES[source].columns if name not in SOURCES[source].key]
    if source in ("store_operations", "store_targets"):
        columns = [name for name in SOURCES[source].columns if name != "metric"]
    if source == "balance_snapshots":
        columns = [name for name in SOURCES[source].columns if name != "as_of"]
    selected = ", ".join(f"cast({name} as varchar)" for name in columns)
    return connection.execute(
        f"select {selected} from staging.{SOURCES[source].base_model} where row_status = 'staged' and {where}",
        parameters,
    ).fetchall()


def check_row_kind(connection, kind: Kind, written: Written, counts: dict) -> list[str]:
    """Mismatches of one row-level kind in a built warehouse: per-row outcome, the valid rows
    against their clean template, the typed values, the per-file accounting identity."""
    source = SOURCES[kind.source]
    problems: list[str] = []
    rows = connection.execute(
        f"select _source_row_number, row_status, reason, {', '.join(f'cast({c} as varchar)' for c in source.columns)}"
        f" from staging.{source.base_model} where _source_file = ?",
        [written.file],
    ).fetchall()
    by_number = {row[0]: row for row in rows}
    for number, (status, detail) in written.rows.items():
        got = by_number.get(number)
        if got is None:
            problems.append(f"{written.file} row {number}: not in staging")
            continue
        if status == "staged" and got[1] != "staged":
            problems.append(f"{written.file} row {number}: {got[1]} ({got[2]}), expected staged")
        elif status == "rejected" and (got[1], got[2]) != ("rejected", detail):
            problems.append(f"{written.file} row {number}: {got[1]} ({got[2]}), expected rejected ({detail})")
        if status == "staged" and detail is not None:
            mine = _staged_payload(
                connection, kind.source, "_source_file = ? and _source_row_number = ?", [written.file, number]
            )
            clean = _staged_payload(
                connection, kind.source, "_source_file like '%/clean.csv' and row_key = ?", [detail]
            )
            if not mine or mine != clean[:1]:
                problems.append(f"{written.file} row {number}: staged as {mine}, the clean row as {clean[:1]}")
        for column, value in written.values.get(number, {}).items():
            actual = got[3 + source.columns.index(column)]
            if actual != value:
                problems.append(f"{written.file} row {number}: {column} = {actual!r:.80}, expected {value!r:.80}")
    if len(rows) != len(written.rows):
        problems.append(f"{written.file}: {len(rows)} rows in staging, expected {len(written.rows)}")
    delivered, staged, rejected, duplicates = counts.get(written.file, (0, 0, 0, 0))
    if delivered != staged + rejected + duplicates or delivered != len(written.rows):
        problems.append(
            f"{written.file}: delivered {delivered} != staged {staged} + rejected {rejected} + dup {duplicates}"
        )
    if kind.outcome == "loaded_with_warning":
        extra = connection.execute(
            "select extra_columns from raw.load_log where source_file = ?", [written.file]
        ).fetchone()
        if not extra or not extra[0]:
            problems.append(f"{written.file}: the load log names no extra column")
    return problems


def run_row_kinds(workdir: Path, prepared: Prepared) -> list[Result]:
    """Every row-level kind, one file each, on top of the clean delivery, in ONE build."""
    started = time.perf_counter()
    landing = workdir / "row_kinds"
    shutil.rmtree(landing, ignore_errors=True)
    shutil.copytree(prepared.clean_landing, landing)
    kinds = [(index, kind) for index, kind in enumerate(CATALOGUE) if kind.outcome != "refused"]
    written = {kind.name: kind.build(landing, prepared.templates, _tag(index)) for index, kind in kinds}
    database = workdir / "row_kinds.duckdb"
    database.unlink(missing_ok=True)
    report = build(landing, database, workdir / "dbt")
    counts = accounting(database)
    seconds = (time.perf_counter() - started) / max(len(kinds), 1)
    results = []
    with duckdb.connect(str(database), read_only=True) as connection:
        clean_problems = _clean_files_untouched(connection, prepared)
        for _, kind in kinds:
            problems = check_row_kind(connection, kind, written[kind.name], counts) + clean_problems
            if kind.outcome == "loaded_with_warning" and not any(
                f == written[kind.name].file for f, _ in report.schema_drift
            ):
                problems.append(f"{written[kind.name].file}: the loader reported no schema drift")
            if kind.reason == "future_timestamp":
                # the point of the reason: a far-future row does not move the warehouse's as-of
                (as_of,) = connection.execute("select as_of from marts.rpt_warehouse_as_of").fetchone()
                if as_of.year >= 2100:
                    problems.append(f"the warehouse's as-of moved to {as_of}")
            delivered, staged, rejected, duplicates = counts.get(written[kind.name].file, (0, 0, 0, 0))
            results.append(
                Result(
                    "bad input",
                    kind.name,
                    1,
                    int(not problems),
                    delivered,
                    staged,
                    rejected,
                    duplicates,
                    problems,
                    seconds,
                )
            )
    return results


def _clean_files_untouched(connection, prepared: Prepared) -> list[str]:
    """Every row of every clean file is staged (the bad files beside them change nothing)."""
    problems = []
    for source, rows in prepared.clean.items():
        staged = connection.execute(
            f"select count(*) from staging.{SOURCES[source].base_model}"
            " where _source_file = ? and row_status = 'staged'",
            [f"{source}/clean.csv"],
        ).fetchone()[0]
        if staged != len(rows):
            problems.append(f"{source}/clean.csv: {staged} of {len(rows)} clean rows staged")
    return problems


def run_refused_kind(workdir: Path, prepared: Prepared, index: int, kind: Kind) -> Result:
    """One refused kind with the loader alone: a good file before it loads, the refused file
    raises a LoadError naming it and the problem, nothing of it (or after it) is written."""
    started = time.perf_counter()
    landing = workdir / "refused" / kind.name
    shutil.rmtree(landing, ignore_errors=True)
    tag = _tag(index)
    source = SOURCES[kind.source]
    write_csv(
        landing / kind.source / "a_good.csv",
        source.columns,
        [fresh(kind.source, template(prepared.templates, kind.source), tag + "g")],
    )
    written = kind.build(landing, prepared.templates, tag)
    write_csv(
        landing / kind.source / "c_after.csv",
        source.columns,
        [fresh(kind.source, template(prepared.templates, kind.source), tag + "h")],
    )
    problems: list[str] = []
    with duckdb.connect() as connection:
        try:
            load_landing(connection, landing)
            problems.append(f"{written.file}: loaded, expected a LoadError ({kind.reason})")
        except LoadError as error:
            message = str(error)
            if written.file not in message or kind.reason not in message:
                problems.append(f"{written.file}: LoadError {message!r} does not name the file and {kind.reason!r}")
        logged = connection.execute("select source_file from raw.load_log order by file_sequence").fetchall()
        if [name for (name,) in logged] != [f"{kind.source}/a_good.csv"]:
            problems.append(f"load log holds {logged}, expected only the good file before {written.file}")
        files = connection.execute(f"select distinct _source_file from raw.{kind.source}").fetchall()
        if [name for (name,) in files] != [f"{kind.source}/a_good.csv"]:
            problems.append(f"raw.{kind.source} holds rows of {files}, expected only the good file")
    return Result(
        "bad input", kind.name, 1, int(not problems), mismatches=problems, seconds=time.perf_counter() - started
    )


# ---------------------------------------------------------------------------------------------
# Property-based: random bad rows mixed into random file splits and delivery batches.

# What the comparison with the clean delivery leaves out, and why (by design, not a fault):
# * rpt_warehouse_summary's figure sets that count delivered and rejected rows per source and
#   reason depend on the bad rows by definition;
# * dim_members / dim_stores name the file that delivered each version (source_file): the
#   random file split renames the files;
# * fct_store_incentive_evaluations / fct_store_incentive_rule_evaluations are the log of
#   evaluation runs, one row per refresh that evaluated a month: delivering in batches adds
#   runs. Their latest state, fct_store_incentive_eligibility and _rule_results, is compared,
#   and so are what was published and restated.
ROW_COUNT_FIGURE_SETS = ("source_rows", "rejected_rows")
SKIPPED_COLUMNS = {"dim_members": ("source_file",), "dim_stores": ("source_file",)}
SKIPPED_MARTS = ("fct_store_incentive_evaluations", "fct_store_incentive_rule_evaluations")
# the movements of a mixed-in bad row happen after every snapshot's as_of (and within the
# future_timestamp tolerance), so no quarantined movement can explain a drift (rejected_movement)
AFTER_EVERY_SNAPSHOT = {"occurred_at": "2031-01-01T00:00:00Z", "recorded_at": "2031-01-02T00:00:00Z"}


def mart_checksums(connection) -> dict[str, tuple[int, str]]:
    """Rows and checksum per mart as tools.compare_engines.checksums computes them (run-time
    columns left out, values normalised), less what depends on the bad rows or on the file
    split and the number of refreshes (``ROW_COUNT_FIGURE_SETS``, ``SKIPPED_COLUMNS``,
    ``SKIPPED_MARTS``)."""
    from tools.compare_engines import (
        checksum,
        checksums,
        compared_columns,
        mart_columns,
        mart_rows,
        normalised_rows,
    )

    result = {mart: value for mart, value in checksums(connection).items() if mart not in SKIPPED_MARTS}
    for mart, skipped in SKIPPED_COLUMNS.items():
        columns = [name for name in compared_columns(mart, mart_columns(connection, mart)) if name not in skipped]
        rows = mart_rows(connection, mart, columns)
        result[mart] = (sum(rows.values()), checksum(rows))
    columns = compared_columns("rpt_warehouse_summary", mart_columns(connection, "rpt_warehouse_summary"))
    selected = ", ".join(f'"{name}"' for name in columns)
    rows = normalised_rows(
        connection.execute(
            f"select {selected} from marts.rpt_warehouse_summary where figure_set not in {ROW_COUNT_FIGURE_SETS}"
        ).fetchall()
    )
    result["rpt_warehouse_summary"] = (sum(rows.values()), checksum(rows))
    return result


def _register_profiles() -> None:
    from hypothesis import HealthCheck, settings

    common = {"deadline": None, "database": None, "suppress_health_check": list(HealthCheck)}
    settings.register_profile(BOUNDED_PROFILE, max_examples=2, derandomize=True, **common)
    settings.register_profile(FULL_PROFILE, max_examples=5, derandomize=False, **common)


# hypothesis profiles: bounded for `make test` (2 examples, derandomized: the same examples on
# every run), full for `make faults` (5 examples, fresh randomness)
BOUNDED_PROFILE, FULL_PROFILE = "faults-bad-input-bounded", "faults-bad-input-full"
_register_profiles()


def mixable() -> list[Kind]:
    """The catalogue's kinds whose bad row can be mixed into any delivery (fresh key, rejected)."""
    return [kind for kind in CATALOGUE if kind.mix is not None]


def property_campaign(workdir: Path, prepared: Prepared, *, full: bool) -> list[Result]:
    """Hypothesis mixes bad rows of every mixable kind into the clean rows, split into random
    files and batches, and checks conservation, each clean row staged exactly once, and the
    marts of a clean one-batch delivery (tests_py/test_faults_bad_input.py states the choices)."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    started = time.perf_counter()
    baseline_db = workdir / "baseline.duckdb"
    baseline_db.unlink(missing_ok=True)
    build(prepared.clean_landing, baseline_db, workdir / "dbt")
    with duckdb.connect(str(baseline_db), read_only=True) as connection:
        baseline = mart_checksums(connection)
    kinds = mixable()
    results: list[Result] = []
    counter = {"n": 0}

    @settings(settings.get_profile(FULL_PROFILE if full else BOUNDED_PROFILE))
    @given(
        batches=st.integers(1, 3 if full else 2),
        chosen=st.lists(st.sampled_from(kinds), min_size=1, max_size=len(kinds), unique_by=lambda k: k.name),
        seed=st.integers(0, 2**32 - 1),
    )
    def example(batches: int, chosen: list[Kind], seed: int) -> None:
        # a seed, not st.randoms(): shuffling thousands of rows would overrun hypothesis's buffer
        rng = random.Random(seed)
        counter["n"] += 1
        case = workdir / f"mix{counter['n']}"
        shutil.rmtree(case, ignore_errors=True)
        result = mixed_delivery(case, prepared, batches, chosen, rng, baseline)
        results.append(result)

    try:
        example()
    except Exception as error:  # a failure of the run itself, not a mismatch: report it
        results.append(Result("property-based", "run", 1, 0, mismatches=[f"{type(error).__name__}: {error}"]))
    total = Result("property-based", "bad rows mixed into random splits and batches", 0, 0)
    for result in results:
        total.tried += result.tried
        total.survived += result.survived
        total.delivered += result.delivered
        total.staged += result.staged
        total.rejected += result.rejected
        total.duplicates += result.duplicates
        total.mismatches += result.mismatches
    total.seconds = time.perf_counter() - started
    return [total]


def mixed_delivery(
    case: Path, prepared: Prepared, batches: int, chosen: list[Kind], rng: random.Random, baseline: dict
) -> Result:
    """One example: split every source's clean rows into 1–3 files with bad rows of the chosen
    kinds mixed in, deliver the files in ``batches`` loads, check after the last."""
    files: list[tuple[int, str, list[Row]]] = []  # (batch, relative path, rows)
    bad_keys: dict[tuple[str, str], str] = {}  # (source, row_key) -> expected reason
    for source, rows in prepared.clean.items():
        shuffled = list(rows)
        rng.shuffle(shuffled)
        parts = rng.randint(1, 3)
        for part in range(parts):
            files.append(
                (rng.randint(1, batches), f"{source}/f{rng.randrange(1000):03d}_{part}.csv", shuffled[part::parts])
            )
    for number, kind in enumerate(chosen):
        base = template(prepared.templates, kind.source)
        if kind.source in (_L, _W):
            base = {**base, **AFTER_EVERY_SNAPSHOT}
        bad = kind.mix(base, f"mx{number}{kind.name[:6]}")
        bad_keys[(kind.source, row_key(kind.source, bad))] = kind.reason
        candidates = [index for index, (_, path, _) in enumerate(files) if path.startswith(kind.source + "/")]
        target = files[rng.choice(candidates)][2]
        target.insert(rng.randint(0, len(target)), bad)
    # a conflicting re-delivery must come after the row it conflicts with: last batch, last name
    base = template(prepared.templates, _L)
    files.append((batches, f"{_L}/zzz_conflict.csv", [{**base, "points": str(int(base["points"]) + 3)}]))
    landing, database = case / "landing", case / "warehouse.duckdb"
    for batch in range(1, batches + 1):
        for _, relative, rows in (f for f in files if f[0] == batch):
            write_csv(landing / relative, SOURCES[relative.split("/")[0]].columns, rows)
        (landing / _L).mkdir(parents=True, exist_ok=True)
        build(landing, database, case.parent / "dbt")
    problems: list[str] = []
    counts = accounting(database)
    for name, (delivered, staged, rejected, duplicates) in counts.items():
        if delivered != staged + rejected + duplicates:
            problems.append(f"{name}: delivered {delivered} != {staged} + {rejected} + {duplicates}")
    expected_files = {relative for _, relative, _ in files}
    if set(counts) != expected_files:
        problems.append(f"files accounted {sorted(set(counts) ^ expected_files)} differ from the files delivered")
    with duckdb.connect(str(database), read_only=True) as connection:
        for source, rows in prepared.clean.items():
            model = SOURCES[source].base_model
            staged = dict(
                connection.execute(
                    f"select row_key, count(*) from staging.{model} where row_status = 'staged' group by row_key"
                ).fetchall()
            )
            wanted = {row_key(source, row) for row in rows}
            if set(staged) != wanted or any(count != 1 for count in staged.values()):
                extra = sorted(set(staged) - wanted)[:3]
                missing = sorted(wanted - set(staged))[:3]
                twice = sorted(k for k, c in staged.items() if c != 1)[:3]
                problems.append(
                    f"{source}: staged keys differ from the clean rows"
                    f" (extra {extra}, missing {missing}, twice {twice})"
                )
        for (source, key), reason in bad_keys.items():
            reasons = connection.execute(
                f"select distinct reason from staging.{SOURCES[source].base_model} where row_key = ?", [key]
            ).fetchall()
            if (reason,) not in reasons:
                problems.append(f"{source}: bad row {key!r} rejected as {reasons}, expected {reason}")
        conflict = connection.execute(
            f"select row_status, reason from staging.{SOURCES[_L].base_model} where _source_file = ?",
            [f"{_L}/zzz_conflict.csv"],
        ).fetchall()
        if conflict != [("rejected", "conflicting_duplicate")]:
            problems.append(f"{_L}/zzz_conflict.csv: {conflict}, expected rejected as conflicting_duplicate")
        marts = mart_checksums(connection)
    for mart in sorted(set(marts) | set(baseline)):
        if marts.get(mart) != baseline.get(mart):
            problems.append(f"marts.{mart}: {marts.get(mart)} differs from the clean delivery's {baseline.get(mart)}")
    totals = [sum(values) for values in zip(*counts.values(), strict=True)] if counts else [0, 0, 0, 0]
    return Result(
        "property-based",
        f"{batches} batch(es), {len(files)} files, {len(chosen)} bad kinds",
        1,
        int(not problems),
        *totals,
        problems,
    )


def campaign(workdir: Path, *, full: bool) -> list[Result]:
    """Run part "bad input" (one Result per kind of ``CATALOGUE``) and part "property-based"
    (one Result summing its examples) in ``workdir``; mismatches are reported, not raised.
    Raises HarnessError only when the data cannot be generated or built at all."""
    workdir.mkdir(parents=True, exist_ok=True)
    prepared = prepare(workdir)
    results = run_row_kinds(workdir, prepared)
    results += [run_refused_kind(workdir, prepared, i, k) for i, k in enumerate(CATALOGUE) if k.outcome == "refused"]
    order = {kind.name: index for index, kind in enumerate(CATALOGUE)}
    results.sort(key=lambda result: order[result.what])
    return results + property_campaign(workdir, prepared, full=full)


def catalogue_table() -> list[dict[str, str]]:
    """The catalogue as the rows of docs/reliability.md#bad-input (kind, example, outcome, reason or error)."""
    return [
        {"kind": kind.name, "example": kind.example, "outcome": kind.outcome, "reason": kind.reason or "—"}
        for kind in CATALOGUE
    ]
