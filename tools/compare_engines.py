"""Do two warehouses hold the same marts? Row-by-row, engine-independent.

    python -m tools.compare_engines --duckdb warehouse/loyalty.duckdb   # vs the PG* database

Used to check a move between engines (DuckDB -> PostgreSQL) and by the end-to-end tests. Every
mart is read whole from both sides, each value normalised (decimals to their exact value,
timestamps to UTC, floats to 12 significant digits), and the two row multisets compared. The
columns that record *when the warehouse ran* rather than what the data says
(``RUN_TIME_COLUMNS``) are left out: two refreshes at different moments differ there by design.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from loyalty.warehouse import PgQueries, pg_connect

# Incentive evaluations are stamped with the dbt invocation's start (macros/incentives).
RUN_TIME_COLUMNS = frozenset({"evaluated_at", "published_evaluated_at", "detected_at"})
# The type-2 dimensions are valid from the load that delivered each version (raw _loaded_at):
# when the warehouse learned of it, which two loads of the same files differ in by design.
RUN_TIME_COLUMNS_OF_MART = {
    "dim_members": frozenset({"valid_from", "valid_to"}),
    "dim_stores": frozenset({"valid_from", "valid_to"}),
}


def compared_columns(mart: str, columns: list[str]) -> list[str]:
    """The columns of ``mart`` that say what the data says (run-time columns left out)."""
    skipped = RUN_TIME_COLUMNS | RUN_TIME_COLUMNS_OF_MART.get(mart, frozenset())
    return [name for name in columns if name not in skipped]


@dataclass
class MartComparison:
    mart: str
    left_rows: int
    right_rows: int
    only_left: list[tuple] = field(default_factory=list)
    only_right: list[tuple] = field(default_factory=list)
    columns_differ: str = ""
    left_checksum: str = ""
    right_checksum: str = ""

    @property
    def equal(self) -> bool:
        return not (self.only_left or self.only_right or self.columns_differ)


def _normalise(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format(value, ".12g")
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def mart_columns(connection, mart: str) -> list[str]:
    """The columns of ``marts.<mart>``, in table order."""
    rows = connection.execute(
        "select column_name from information_schema.columns where table_schema = 'marts' and table_name = ?"
        " order by ordinal_position",
        [mart],
    ).fetchall()
    return [name for (name,) in rows]


def _marts(connection) -> set[str]:
    rows = connection.execute(
        "select table_name from information_schema.tables where table_schema = 'marts' and table_type = 'BASE TABLE'"
    ).fetchall()
    # an incremental mart's undo log (`<mart>__undo`, docs/operations.md#rollback) is build state
    return {name for (name,) in rows if "__undo" not in name}


def normalised_rows(rows: list[tuple]) -> Counter:
    """A multiset of rows with every value normalised (``_normalise``), as compared."""
    return Counter(tuple(_normalise(value) for value in row) for row in rows)


def mart_rows(connection, mart: str, columns: list[str]) -> Counter:
    selected = ", ".join(f'"{name}"' for name in columns)
    return normalised_rows(connection.execute(f'select {selected} from marts."{mart}"').fetchall())


def checksum(rows: Counter) -> str:
    digest = hashlib.sha256()
    for row in sorted(rows.elements(), key=repr):
        digest.update(repr(row).encode())
    return digest.hexdigest()[:16]


def checksums(connection) -> dict[str, tuple[int, str]]:
    """Rows and checksum of every mart of one warehouse (run-time columns left out)."""
    result = {}
    for mart in sorted(_marts(connection)):
        columns = compared_columns(mart, mart_columns(connection, mart))
        rows = mart_rows(connection, mart, columns)
        result[mart] = (sum(rows.values()), checksum(rows))
    return result


def compare(left, right, *, sample: int = 5) -> list[MartComparison]:
    """Compare every mart of two connections (DuckDB or ``PgQueries``), both sides' marts."""
    results = []
    for mart in sorted(_marts(left) | _marts(right)):
        left_columns, right_columns = mart_columns(left, mart), mart_columns(right, mart)
        if left_columns != right_columns:
            results.append(MartComparison(mart, 0, 0, columns_differ=f"columns {left_columns} vs {right_columns}"))
            continue
        columns = compared_columns(mart, left_columns)
        left_rows, right_rows = mart_rows(left, mart, columns), mart_rows(right, mart, columns)
        only_left, only_right = left_rows - right_rows, right_rows - left_rows
        results.append(
            MartComparison(
                mart,
                sum(left_rows.values()),
                sum(right_rows.values()),
                only_left=sorted(only_left.elements(), key=repr)[:sample],
                only_right=sorted(only_right.elements(), key=repr)[:sample],
                left_checksum=checksum(left_rows),
                right_checksum=checksum(right_rows),
            )
        )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.compare_engines", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duckdb", required=True, type=Path, help="the DuckDB warehouse file (read-only)")
    args = parser.parse_args(argv)
    if not args.duckdb.is_file():
        parser.error(f"argument --duckdb: no such file: {args.duckdb}")
    with duckdb.connect(str(args.duckdb), read_only=True) as left, pg_connect() as connection:
        results = compare(left, PgQueries(connection))
    for result in results:
        verdict = "same" if result.equal else "DIFFERENT"
        print(f"{result.mart:40} {result.left_rows:>9} {result.right_rows:>9}  {result.left_checksum}  {verdict}")
        for row in result.only_left:
            print(f"    only in DuckDB:     {row}")
        for row in result.only_right:
            print(f"    only in PostgreSQL: {row}")
        if result.columns_differ:
            print(f"    {result.columns_differ}")
    return 0 if all(result.equal for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
