"""The short summary a refresh prints (docs/operations.md#refresh): rows, rejects, checks, balances."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

# The one model both the terminal summary and the HTML report read their figures from.
FIGURES_MODEL = "rpt_warehouse_summary"
# The counts and net drift of the figure set "balances" that the summary's reconciliation table shows.
RECONCILIATION_COLUMNS = (
    "accounts_checked",
    "accounts_in_balance",
    "accounts_minor_drift",
    "accounts_material_mismatch",
    "accounts_missing_snapshot",
    "net_drift",
)


def table_exists(connection, schema: str, table: str) -> bool:
    """Whether `schema`.`table` exists, on an open DuckDB or ``warehouse.PgQueries`` connection."""
    rows = connection.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchall()
    return bool(rows[0][0])


def figure_rows(connection) -> dict[str, list[dict[str, Any]]] | None:
    """The rows of marts.rpt_warehouse_summary as {figure_set: [row as {column: value}, ...]},
    each set in its figure_order (counts int, amounts Decimal in the balance's unit, months
    date, times naive UTC datetime); None when the warehouse has no such model (not built yet).
    Raises the driver's error (duckdb.Error, psycopg.Error) when it cannot be read."""
    if not table_exists(connection, "marts", FIGURES_MODEL):
        return None
    cursor = connection.execute(f"select * from marts.{FIGURES_MODEL} order by figure_set, figure_order")
    names = [column[0] for column in cursor.description]
    sets: dict[str, list[dict[str, Any]]] = {}
    for values in cursor.fetchall():
        row = dict(zip(names, values, strict=True))
        sets.setdefault(row["figure_set"], []).append(row)
    return sets


def warehouse_figures(source: Path | Any) -> dict[str, Any]:
    """The figures a refresh prints, read from marts.rpt_warehouse_summary of a built
    warehouse: a DuckDB file (opened read-only) or an open connection (DuckDB, or PostgreSQL
    through ``warehouse.PgQueries``). {name: [row tuple, ...]} with the names and columns
    rows_by_source (source, files, delivered, staged, rejected, exact duplicates),
    as_of (as-of as naive UTC datetime, source "data" or "var", last month evaluated at its end;
    no row before any data), rejected_by_reason (reason, rows), reconciliation (balance type, currency or "-", checked,
    in balance, minor, material, no snapshot, net drift), accruals (status, member orders),
    expiry (status, account-months, posted − expected points) and incentives (month,
    eligible stores, stores; no row without incentives). {} when the file does not exist or
    the model is not built."""
    if not isinstance(source, Path):
        return _figures(source)
    if not source.exists():
        return {}
    with duckdb.connect(str(source), read_only=True) as connection:
        return _figures(connection)


def _figures(connection) -> dict[str, Any]:
    sets = figure_rows(connection)
    if sets is None:
        return {}

    def rows(figure_set: str, *columns: str) -> list[tuple]:
        return [tuple(row[column] for column in columns) for row in sets.get(figure_set, [])]

    return {
        "rows_by_source": rows(
            "source_rows",
            "category",
            "item_count",
            "rows_delivered",
            "rows_staged",
            "rows_rejected",
            "rows_exact_duplicate",
        ),
        "as_of": rows("warehouse_as_of", "as_of", "category", "period_month"),
        "rejected_by_reason": rows("rejected_rows", "category", "item_count"),
        "reconciliation": [
            (row["balance_type"], row["currency"] or "-", *(row[column] for column in RECONCILIATION_COLUMNS))
            for row in sets.get("balances", [])
        ],
        "accruals": rows("order_accruals", "category", "item_count"),
        "expiry": rows("points_expiry", "category", "item_count", "expiry_difference_points"),
        "incentives": rows("store_incentives", "period_month", "stores_eligible", "item_count"),
    }


def jsonable(figures: dict[str, Any]) -> dict[str, list[list[Any]]]:
    """`warehouse_figures` as JSON-friendly lists: ints, floats, text and None kept, anything
    else (Decimal, date) as its text, for Dagster metadata."""
    return {
        name: [
            [value if isinstance(value, int | float | str) or value is None else str(value) for value in row]
            for row in rows
        ]
        for name, rows in figures.items()
    }


def reconciliation_markdown(figures: dict[str, Any]) -> str:
    """The reconciliation rows of `warehouse_figures` (or their `jsonable` form) as a Markdown
    table, one line per balance type and currency (header only when there are none)."""
    rows = figures.get("reconciliation") or []
    lines = [
        "| balance | currency | checked | in balance | minor | material | no snapshot | net drift |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += ["| " + " | ".join(str(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def _table(headers: list[str], rows: list[tuple]) -> list[str]:
    cells = [headers] + [[str(value) for value in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  " + "  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "  " + "  ".join("-" * width for width in widths))
    return lines


def render(
    *,
    landing_dir: Path,
    warehouse: str,
    report: Path,
    published: bool,
    load: dict[str, Any] | None,
    outcome: dict[str, Any] | None,
    figures: dict[str, Any],
    error: str | None,
) -> str:
    """The refresh summary as terminal text (newline-terminated): where it read and wrote,
    the load counts (`load`: the load_landing metadata), the `warehouse_figures` (or their
    `jsonable` form) that are present, the check counts and failures (`outcome`: the dbt
    outcome file) and the run's `error`. Raises KeyError on an `outcome` without the counts."""
    lines = ["", "Loyalty warehouse refresh", "=========================", f"landing:   {landing_dir}"]
    lines.append(f"warehouse: {warehouse} ({'published' if published else 'NOT published: previous version kept'})")
    if published:
        lines.append(f"report:    {report}")
    if load:
        lines.append(
            f"files:     {load.get('files_loaded', 0)} loaded ({load.get('rows_loaded', 0)} rows), "
            f"{load.get('duplicate_files', 0)} duplicate file(s), {load.get('files_already_loaded', 0)} already loaded"
        )
    if figures.get("as_of"):
        as_of, source, last_ended = figures["as_of"][0]
        source = "dbt var as_of" if source == "var" else "latest staged moment"
        lines.append(f"as of:     {str(as_of)[:19]} UTC ({source}); month ends evaluated through {str(last_ended)[:7]}")
    if figures.get("rows_by_source"):
        lines += ["", "Rows by source (all deliveries so far)"]
        lines += _table(["source", "files", "delivered", "staged", "rejected", "exact dups"], figures["rows_by_source"])
    if figures.get("rejected_by_reason"):
        lines += ["", "Rejected rows by reason (audit.rejected_source_rows)"]
        lines += _table(["reason", "rows"], figures["rejected_by_reason"])
    if figures.get("reconciliation"):
        lines += ["", "Reconciliation (marts.rpt_reconciliation_summary)"]
        lines += _table(
            ["balance", "currency", "checked", "in balance", "minor", "material", "no snapshot", "net drift"],
            figures["reconciliation"],
        )
    if figures.get("accruals"):
        lines += ["", "Order accruals (marts.fct_order_accrual_reconciliation)"]
        lines += _table(["accrual status", "member orders"], figures["accruals"])
    if figures.get("expiry"):
        lines += ["", "Expiry (marts.fct_expiry_reconciliation: account x due month)"]
        lines += _table(["expiry status", "account-months", "posted - expected"], figures["expiry"])
    if figures.get("incentives") and figures["incentives"][0][0]:
        month, eligible, stores = figures["incentives"][0]
        month = str(month)[:7]
        lines += ["", f"Store incentives {month}: {eligible} of {stores} stores eligible"]
    if outcome:
        lines += [
            "",
            f"Checks: {outcome['tests_passed']} passed, {outcome['tests_warned']} warned, "
            f"{outcome['tests_failed']} failed"
            + (f" ({outcome['unit_tests']} unit tests ran)" if outcome["unit_tests"] else ""),
        ]
        for label, key in (
            ("integrity FAILED", "integrity_failures"),
            ("finding", "failed_findings"),
            ("warning", "warnings"),
            ("model ERROR", "node_errors"),
        ):
            for check in outcome.get(key, []):
                count = f", {check['failures']} failing row(s)" if check.get("failures") else ""
                lines.append(f"  {label}: {check['name']} on {check.get('model') or '-'}{count}")
    if error:
        lines += ["", f"ERROR: {error}"]
    return "\n".join(lines) + "\n"
