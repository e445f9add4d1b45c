"""Tile a generated landing folder: N copies of every file's rows, identifiers unique per copy.

The generator holds a whole data set in memory, so it stops at about a million ledger events
(tools/bench.py's 1M). Larger bench data is that folder tiled: every landing file
``<source>/<name>`` of ``--source`` becomes one file of the same name and format in ``--out``
holding copy 0's rows, then copy 1's, ... (each copy in the source file's row order). In copy k
every identifier column of the landing registry (loyalty/landing/contract.py: the text columns
named ``*_id``) gets the suffix ``-c<k>`` (``-c007``; at least three digits) and every email the
prefix ``c<k>.`` on its local part, so keys, references between sources (orders, reversals,
stores, accounts) and emails stay unique and consistent within a copy and never meet across
copies. Nothing else changes: a null or blank identifier or email stays as it is (the
generator's missing-key rows stay missing-key rows), CSV is read as text and written as text
(unparseable values kept verbatim, same header), Parquet columns keep their types. The
copies of a source therefore have the same faults, the same dimension changes, the same
re-deliveries and the same timestamps as the source: the tiled folder is N independent
programs side by side, not N times more history.

Streaming: DuckDB (one connection, ``--threads`` 1, ``--memory-limit`` 1GB) runs one
``COPY (copy 0 UNION ALL copy 1 ...) TO <file>`` per file; UNION ALL and COPY keep the row
order, and on one thread the copies are read one after the other, so memory does not grow with
the copies (about 180 MB at 100 copies of a file) and the same arguments give the same bytes
(for the same DuckDB version). A file whose tiled size would exceed ``MAX_FILE_BYTES`` (about
2 GiB, estimated as the source file's size times the copies) is written in blocks of copies,
``<stem>_c000-c041<ext>``, ``<stem>_c042-c083<ext>``, ...

    python -m tools.sample_data.tile --source DIR --out DIR --copies N [--overwrite]
                                     [--threads 1] [--memory-limit 1GB]
"""

from __future__ import annotations

import argparse
import csv
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from loyalty.landing.contract import FILE_SUFFIXES, SOURCES

MAX_FILE_BYTES = 2 * 2**30
# one thread: with two, DuckDB runs copies side by side and buffers them to keep the order
# (about 1 GiB at 100 copies of one file, and slower); with one, memory stays flat
THREADS = 1
MEMORY_LIMIT = "1GB"
# identifier columns of each source: the registry's text columns named *_id
ID_COLUMNS: dict[str, tuple[str, ...]] = {
    source.name: tuple(c.name for c in source.fields if c.type == "text" and c.name.endswith("_id"))
    for source in SOURCES.values()
}
EMAIL_COLUMNS: dict[str, tuple[str, ...]] = {
    source.name: tuple(c.name for c in source.fields if c.name == "email") for source in SOURCES.values()
}


class TileError(Exception):
    """A bad argument or a source folder that cannot be tiled."""


@dataclass
class Summary:
    copies: int
    files_in: int = 0
    files_out: int = 0
    rows_in: dict[str, int] = field(default_factory=dict)
    rows_out: dict[str, int] = field(default_factory=dict)
    bytes_in: int = 0
    bytes_out: int = 0
    seconds: float = 0.0
    skipped: list[str] = field(default_factory=list)

    def line(self) -> str:
        rows = ", ".join(f"{name}={count:,}" for name, count in self.rows_out.items())
        return (
            f"tiled {self.copies} copies: {rows} rows in {self.files_out} files"
            f" ({self.bytes_out / 2**20:,.0f} MiB from {self.bytes_in / 2**20:,.0f} MiB) in {self.seconds:.1f} s"
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "copies": self.copies,
            "files_in": self.files_in,
            "files_out": self.files_out,
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "seconds": round(self.seconds, 1),
            "skipped": self.skipped,
        }


def copy_label(copy: int, copies: int) -> str:
    """``c007``: the copy's number, zero-padded to at least three digits."""
    return f"c{copy:0{max(3, len(str(copies - 1)))}d}"


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _select(source: str, columns: tuple[str, ...], rows: str, label: str) -> str:
    """One copy's rows: identifiers suffixed (before any trailing blanks), emails prefixed;
    a null or blank value and every other column as they are."""
    expressions = []
    for name in columns:
        column = _quote_ident(name)
        if name in ID_COLUMNS[source]:
            suffix = _literal(f"-{label}")
            value = f"concat(rtrim({column}), {suffix}, substr({column}, length(rtrim({column})) + 1))"
        elif name in EMAIL_COLUMNS[source]:
            prefix = _literal(f"{label}.")
            value = (
                f"concat(substr({column}, 1, length({column}) - length(ltrim({column}))), {prefix}, ltrim({column}))"
            )
        else:
            expressions.append(column)
            continue
        expressions.append(
            f"case when trim({column}) = '' or {column} is null then {column} else {value} end as {column}"
        )
    return f"select {', '.join(expressions)} from {rows}"


def relation(path: Path, columns: tuple[str, ...]) -> str:
    """DuckDB's reader of a landing file: CSV as text (the registry's columns), Parquet as typed."""
    if path.suffix.lower() == ".csv":
        spec = "{" + ", ".join(f"{_literal(name)}: 'varchar'" for name in columns) + "}"
        return (
            f"read_csv({_literal(str(path))}, header = true, all_varchar = true, auto_detect = false,"
            f" delim = ',', quote = '\"', escape = '\"', columns = {spec})"
        )
    return f"read_parquet({_literal(str(path))})"


def _header(connection, path: Path) -> tuple[str, ...]:
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8") as handle:
            return tuple(next(csv.reader(handle), []))
    return tuple(row[0] for row in connection.execute(f"describe select * from {relation(path, ())}").fetchall())


def blocks(size: int, copies: int, max_bytes: int = MAX_FILE_BYTES) -> list[range]:
    """The copies written to each output file: all in one unless size x copies exceeds max_bytes."""
    per_file = max(1, max_bytes // max(size, 1))
    return [range(start, min(start + per_file, copies)) for start in range(0, copies, per_file)]


def tile(
    source: Path,
    out: Path,
    copies: int,
    *,
    overwrite: bool = False,
    threads: int = THREADS,
    memory_limit: str = MEMORY_LIMIT,
    max_file_bytes: int = MAX_FILE_BYTES,
) -> Summary:
    """Write ``copies`` copies of every landing file under ``source`` into ``out`` (see the module
    docstring). Raises TileError on a bad argument, an existing output without ``overwrite``, or a
    file whose columns are not its source's."""
    import duckdb

    source, out = Path(source), Path(out)
    if copies < 1:
        raise TileError(f"--copies must be at least 1 (got {copies})")
    if not source.is_dir():
        raise TileError(f"--source {source} is not a folder")
    if out.resolve() == source.resolve() or source.resolve() in out.resolve().parents:
        raise TileError(f"--out {out} must not be --source or inside it")
    existing = [out / name for name in SOURCES if (out / name).exists()]
    if existing and not overwrite:
        raise TileError(f"--out {out} already holds {existing[0]}; pass --overwrite to replace its source folders")
    for path in existing:
        shutil.rmtree(path) if path.is_dir() else path.unlink()

    started = time.perf_counter()
    summary = Summary(copies=copies)
    temp = out / ".tile-tmp"
    out.mkdir(parents=True, exist_ok=True)
    connection = duckdb.connect(
        config={
            "threads": threads,
            "memory_limit": memory_limit,
            "preserve_insertion_order": True,
            "temp_directory": str(temp),
        }
    )
    try:
        for folder in sorted(path for path in source.iterdir() if path.is_dir()):
            if folder.name not in SOURCES:
                summary.skipped.append(folder.name + "/")
                continue
            columns = SOURCES[folder.name].columns
            summary.rows_in.setdefault(folder.name, 0)
            summary.rows_out.setdefault(folder.name, 0)
            for path in sorted(folder.iterdir()):
                if not path.is_file() or path.suffix.lower() not in FILE_SUFFIXES:
                    summary.skipped.append(f"{folder.name}/{path.name}")
                    continue
                header = _header(connection, path)
                if header != columns:
                    raise TileError(f"{path}: columns {', '.join(header)} are not {folder.name}'s {', '.join(columns)}")
                rows_sql = relation(path, columns)
                rows = connection.execute(f"select count(*) from {rows_sql}").fetchone()[0]
                size = path.stat().st_size
                summary.files_in += 1
                summary.bytes_in += size
                summary.rows_in[folder.name] += rows
                (out / folder.name).mkdir(parents=True, exist_ok=True)
                options = (
                    "format csv, header true" if path.suffix.lower() == ".csv" else "format parquet, compression zstd"
                )
                parts = blocks(size, copies, max_file_bytes)
                for block in parts:
                    name = path.name
                    if len(parts) > 1:
                        first, last = copy_label(block[0], copies), copy_label(block[-1], copies)
                        name = f"{path.stem}_{first}-{last}{path.suffix}"
                    target = out / folder.name / name
                    query = " union all ".join(
                        _select(folder.name, columns, rows_sql, copy_label(k, copies)) for k in block
                    )
                    connection.execute(f"copy ({query}) to {_literal(str(target))} ({options})")
                    summary.files_out += 1
                    summary.bytes_out += target.stat().st_size
                    summary.rows_out[folder.name] += rows * len(block)
    finally:
        connection.close()
        shutil.rmtree(temp, ignore_errors=True)
    summary.seconds = time.perf_counter() - started
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.sample_data.tile", description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", required=True, type=Path, help="a generated landing folder")
    parser.add_argument("--out", required=True, type=Path, help="the tiled landing folder to write")
    parser.add_argument("--copies", required=True, type=int, help="copies of every file's rows")
    parser.add_argument("--overwrite", action="store_true", help="replace the source folders already in --out")
    parser.add_argument("--threads", type=int, default=THREADS, help="DuckDB threads (default %(default)s)")
    parser.add_argument("--memory-limit", default=MEMORY_LIMIT, help="DuckDB memory_limit (default %(default)s)")
    args = parser.parse_args(argv)
    try:
        summary = tile(
            args.source,
            args.out,
            args.copies,
            overwrite=args.overwrite,
            threads=args.threads,
            memory_limit=args.memory_limit,
        )
    except TileError as error:
        print(f"python -m tools.sample_data.tile: error: {error}", file=sys.stderr)
        return 2
    print(summary.line())
    for name in summary.skipped:
        print(f"skipped (not a landing file): {name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
