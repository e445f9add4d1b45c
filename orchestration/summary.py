"""The short summary a refresh prints (CONTRACT §1): rows, rejects, checks, balances."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb


def _table_exists(connection, schema: str, table: str) -> bool:
    rows = connection.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchall()
    return bool(rows[0][0])


def warehouse_figures(source: Path | Any) -> dict[str, Any]:
    """Figures read from a built warehouse: a DuckDB file (opened read-only) or an open
    connection (DuckDB, or PostgreSQL through ``warehouse.PgQueries``)."""
    if not isinstance(source, Path):
        return _figures(source)
    if not source.exists():
        return {}
    with duckdb.connect(str(source), read_only=True) as connection:
        return _figures(connection)


def _figures(connection) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    if _table_exists(connection, "audit", "source_row_accounting"):
        figures["rows_by_source"] = connection.execute(
            """
            select landing_source, count(*) as files, sum(rows_delivered), sum(rows_staged),
                sum(rows_rejected), sum(rows_exact_duplicate)
            from audit.source_row_accounting
            group by landing_source
            order by landing_source
            """
        ).fetchall()
    if _table_exists(connection, "audit", "rejected_source_rows"):
        figures["rejected_by_reason"] = connection.execute(
            "select reason, count(*) from audit.rejected_source_rows group by reason order by count(*) desc, reason"
        ).fetchall()
    if _table_exists(connection, "marts", "rpt_reconciliation_summary"):
        figures["reconciliation"] = connection.execute(
            """
            select balance_type, coalesce(currency, '-'), accounts_checked, accounts_in_balance,
                accounts_minor_drift, accounts_material_mismatch, accounts_missing_snapshot, net_drift
            from marts.rpt_reconciliation_summary
            order by balance_type, currency nulls first
            """
        ).fetchall()
    if _table_exists(connection, "marts", "fct_order_accrual_reconciliation"):
        figures["accruals"] = connection.execute(
            "select accrual_status, count(*) from marts.fct_order_accrual_reconciliation"
            " group by accrual_status order by accrual_status = 'ok' desc, count(*) desc"
        ).fetchall()
    if _table_exists(connection, "marts", "fct_expiry_reconciliation"):
        figures["expiry"] = connection.execute(
            "select expiry_status, count(*), sum(expiry_difference) from marts.fct_expiry_reconciliation"
            " group by expiry_status order by expiry_status = 'ok' desc, count(*) desc"
        ).fetchall()
    if _table_exists(connection, "marts", "fct_store_incentive_eligibility"):
        figures["incentives"] = connection.execute(
            """
            select max(period_month), count(*) filter (where eligible), count(*)
            from marts.fct_store_incentive_eligibility
            where period_month = (select max(period_month) from marts.fct_store_incentive_eligibility)
            """
        ).fetchall()
    return figures


def jsonable(figures: dict[str, Any]) -> dict[str, list[list[Any]]]:
    """Figures as JSON-friendly lists (decimals as text), for Dagster metadata."""
    return {
        name: [
            [value if isinstance(value, int | float | str) or value is None else str(value) for value in row]
            for row in rows
        ]
        for name, rows in figures.items()
    }


def reconciliation_markdown(figures: dict[str, Any]) -> str:
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
    lines = ["", "Loyalty warehouse refresh", "=========================", f"landing:   {landing_dir}"]
    lines.append(f"warehouse: {warehouse} ({'published' if published else 'NOT published: previous version kept'})")
    if published:
        lines.append(f"report:    {report}")
    if load:
        lines.append(
            f"files:     {load.get('files_loaded', 0)} loaded ({load.get('rows_loaded', 0)} rows), "
            f"{load.get('duplicate_files', 0)} duplicate file(s), {load.get('files_already_loaded', 0)} already loaded"
        )
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
            f"{outcome['tests_failed']} failed ({outcome['unit_tests']} unit tests ran)",
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
