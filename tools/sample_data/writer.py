"""Write landing files: Parquet with an explicit schema, CSV with the csv module.

The columns, their order and the keys come from the landing registry
(loyalty/landing/contract.py, docs/landing.md); each logical type maps to a physical one here.
Parquet: timestamps timestamp('us', tz='UTC'), decimals decimal128(18,2), integers int64, dates
date32, booleans bool, text and enums string. CSV: UTC timestamps as 2025-03-01T14:05:00Z,
decimals with exactly two places, dates YYYY-MM-DD, booleans true/false, an empty field is a
null. Same rows in => same bytes out.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from loyalty.landing.contract import SOURCES as LANDING_SOURCES
from tools.sample_data.config import NULL

# Physical type the generator writes for each logical type of the landing registry.
PHYSICAL_TYPES = {
    "text": "text",
    "enum": "text",
    "integer": "integer",
    "decimal": "money",
    "date": "date",
    "timestamp": "timestamp",
    "boolean": "boolean",
}
# (column, physical type) per source, in landing order, and the keys: both from the registry.
SCHEMAS: dict[str, tuple[tuple[str, str], ...]] = {
    source.name: tuple((column.name, PHYSICAL_TYPES[column.type]) for column in source.fields)
    for source in LANDING_SOURCES.values()
}
KEYS: dict[str, tuple[str, ...]] = {source.name: source.key for source in LANDING_SOURCES.values()}
ARROW_TYPES = {
    "text": pa.string(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "date": pa.date32(),
    "integer": pa.int64(),
    "money": pa.decimal128(18, 2),
    "boolean": pa.bool_(),
}


@dataclass(frozen=True)
class Raw:
    """A value written verbatim into a CSV cell (an unparseable number or timestamp)."""

    text: str


@dataclass
class BadRow:
    """A row given by value, placed among a file's frame rows: a bad row (``reason`` is its
    rejection reason) or, with ``reason`` None, a valid re-delivery that changes a dimension
    (tools/sample_data/changes.py)."""

    values: dict  # column -> typed value (str, int, None) or Raw
    reason: str | None
    position: int  # inserted before the valid row at this position
    row_number: int = 0  # 1-based, filled in when the file is laid out


@dataclass
class FilePlan:
    source: str
    name: str  # file name inside the source folder
    rows: np.ndarray  # indexes into the source's frame, in file order
    bad: list[BadRow] = field(default_factory=list)
    copy_of: str | None = None  # written as a byte-identical copy of this file name

    @property
    def csv(self) -> bool:
        return self.name.endswith(".csv")

    @property
    def relative(self) -> str:
        return f"{self.source}/{self.name}"


# --- formatting ------------------------------------------------------------------------------
def format_timestamps(seconds: np.ndarray) -> list[str]:
    text = np.datetime_as_string(np.where(seconds == NULL, 0, seconds).astype("datetime64[s]"), unit="s")
    return ["" if s == NULL else t + "Z" for s, t in zip(seconds.tolist(), text.tolist(), strict=True)]


def format_dates(days: np.ndarray) -> list[str]:
    text = np.datetime_as_string(np.where(days == NULL, 0, days).astype("datetime64[D]"), unit="D")
    return ["" if d == NULL else t for d, t in zip(days.tolist(), text.tolist(), strict=True)]


def format_money(cents: np.ndarray) -> list[str]:
    return ["" if c == NULL else f"{'-' if c < 0 else ''}{abs(c) // 100}.{abs(c) % 100:02d}" for c in cents.tolist()]


def format_integers(values: np.ndarray) -> list[str]:
    return ["" if v == NULL else str(v) for v in values.tolist()]


def format_booleans(values: np.ndarray) -> list[str]:
    return ["" if v == NULL else ("true" if v else "false") for v in values.tolist()]


def format_text(values: np.ndarray) -> list[str]:
    return ["" if v is None else v for v in values.tolist()]


FORMATTERS = {
    "timestamp": format_timestamps,
    "date": format_dates,
    "money": format_money,
    "integer": format_integers,
    "boolean": format_booleans,
    "text": format_text,
}


def format_value(kind: str, value) -> str:
    if isinstance(value, Raw):
        return value.text
    if value is None:
        return ""
    if kind == "text":
        return value
    return FORMATTERS[kind](np.array([value], dtype=np.int64))[0]


def row_key(source: str, values: dict) -> str:
    """The key of a row as text (key columns joined by '|', each as written in CSV)."""
    kinds = dict(SCHEMAS[source])
    return "|".join(format_value(kinds[name], values.get(name)) for name in KEYS[source])


# --- laying out a file -----------------------------------------------------------------------
def layout(plan: FilePlan) -> list[int]:
    """Place the bad rows among the valid ones; returns their 0-based file positions (and sets
    each bad row's 1-based row_number). Bad rows at one position keep their planned order."""
    order = sorted(range(len(plan.bad)), key=lambda i: (min(plan.bad[i].position, len(plan.rows)), i))
    positions = [0] * len(plan.bad)
    for rank, i in enumerate(order):
        positions[i] = min(plan.bad[i].position, len(plan.rows)) + rank
        plan.bad[i].row_number = positions[i] + 1
    return positions


def write_file(directory: Path, plan: FilePlan, frame: dict[str, np.ndarray]) -> int:
    """Write one planned file; returns its row count."""
    path = directory / plan.source / plan.name
    path.parent.mkdir(parents=True, exist_ok=True)
    schema = SCHEMAS[plan.source]
    positions = layout(plan)
    bad_at = sorted(zip(positions, plan.bad, strict=True), key=lambda item: item[0])
    rows = plan.rows
    if plan.csv:
        columns = []
        for name, kind in schema:
            cells = FORMATTERS[kind](frame[name][rows])
            for pos, bad in bad_at:
                cells.insert(pos, format_value(kind, bad.values.get(name)))
            columns.append(cells)
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([name for name, _ in schema])
        writer.writerows(zip(*columns, strict=True))
        path.write_bytes(buffer.getvalue().encode("utf-8"))
    else:
        arrays = []
        for name, kind in schema:
            values = frame[name][rows]
            for pos, bad in bad_at:
                value = bad.values.get(name)
                if isinstance(value, Raw):
                    raise ValueError(f"{plan.relative}: unparseable values belong in CSV files")
                if value is None and kind != "text":
                    value = NULL
                values = np.insert(values, pos, np.array([value], dtype=values.dtype))
            arrays.append(to_arrow(values, kind))
        table = pa.Table.from_arrays(arrays, schema=pa.schema([(name, ARROW_TYPES[kind]) for name, kind in schema]))
        pq.write_table(table, path, compression="zstd")
    return len(rows) + len(plan.bad)


def to_arrow(values: np.ndarray, kind: str) -> pa.Array:
    if kind == "text":
        return pa.array(values, type=pa.string())
    mask = values == NULL
    if kind == "money":
        unscaled = np.where(mask, 0, values).astype(np.int64)
        words = np.empty((len(unscaled), 2), dtype=np.int64)  # little-endian 128-bit two's complement
        words[:, 0] = unscaled
        words[:, 1] = unscaled >> 63
        validity = pa.array(~mask).buffers()[1] if mask.any() else None
        return pa.Array.from_buffers(
            pa.decimal128(18, 2), len(unscaled), [validity, pa.py_buffer(words.tobytes())], null_count=int(mask.sum())
        )
    if kind == "timestamp":
        return pa.array(np.where(mask, 0, values) * 1_000_000, type=ARROW_TYPES[kind], mask=mask)
    if kind == "date":
        return pa.array(np.where(mask, 0, values).astype(np.int32), type=pa.date32(), mask=mask)
    if kind == "boolean":
        return pa.array(np.where(mask, 0, values) != 0, type=pa.bool_(), mask=mask)
    return pa.array(np.where(mask, 0, values), type=pa.int64(), mask=mask)
