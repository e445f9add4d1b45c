"""The reconciliation report: one self-contained HTML page (inline CSS and SVG, no network).

    python -m loyalty.reporting.report --warehouse warehouse/loyalty.duckdb --out reconciliation.html [--top 25]

It reads a built warehouse read-only and shows: the summary figures per balance type and
currency with the order accrual and expiry status counts, charts of the balances by drift
status and of the out-of-balance drift by likely cause and the warehouse's as-of (all from
marts.rpt_warehouse_summary, the figures the refresh summary prints too), the top balances
out of balance (largest |drift| first, marts.fct_balance_reconciliation), and, per such balance, its ledger timeline
(marts.fct_account_ledger_timeline) drawn against the snapshot, with the explanation and the
last movements. A warehouse without those figures gets a "no reconciliation yet" page.
The page is rendered from templates/*.html.j2 with static/report.css inlined. Exit status:
0 written, 2 on a bad argument or unreadable file.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import duckdb
import jinja2
from markupsafe import Markup

from loyalty.reporting import charts, formatting
from loyalty.reporting.balances import Balance, Movement
from loyalty.reporting.charts import nice_ticks
from loyalty.reporting.cli import write_from_published
from loyalty.reporting.formatting import STATUS_COLUMNS, STATUSES
from loyalty.reporting.summary import FIGURES_MODEL, figure_rows, table_exists

__all__ = ["main", "nice_ticks", "read_report_data", "render", "write_report", "write_report_from"]

BALANCES = "fct_balance_reconciliation"
TIMELINE = "fct_account_ledger_timeline"


# --------------------------------------------------------------------------------------------
# What the page shows, read from the warehouse
# --------------------------------------------------------------------------------------------


@dataclass
class ReportData:
    """Everything the page shows. `figures`: marts.rpt_warehouse_summary by figure set (see
    ``summary.figure_rows``), None when the warehouse has none; `top`: the balances detailed."""

    figures: dict[str, list[dict[str, Any]]] | None = None
    top: list[Balance] = field(default_factory=list)
    has_timeline: bool = False

    @property
    def balances(self) -> list[dict[str, Any]]:
        """Per balance type and currency: the counts by drift status and the drift figures."""
        return (self.figures or {}).get("balances", [])

    @property
    def drift_by_cause(self) -> list[dict[str, Any]]:
        """Balances out of balance per balance type, currency, status (category) and likely
        cause, the causes in the seed drift_causes' precedence."""
        return (self.figures or {}).get("drift_by_cause", [])

    @property
    def accruals(self) -> list[dict[str, Any]] | None:
        """Member orders per accrual status ("ok" first); None when there are none."""
        return (self.figures or {}).get("order_accruals") or None

    @property
    def expiry(self) -> list[dict[str, Any]] | None:
        """Account-months per expiry status ("ok" first); None when there are none."""
        return (self.figures or {}).get("points_expiry") or None

    @property
    def causes(self) -> list[tuple[str, str | None]]:
        """(likely_cause, meaning) of the causes in the drift charts, in their order."""
        return list(dict.fromkeys((row["likely_cause"], row["cause_meaning"]) for row in self.drift_by_cause))

    @property
    def status_totals(self) -> dict[str, int]:
        """Balances per drift status, all balance types together."""
        return {status: sum(row[STATUS_COLUMNS[status]] or 0 for row in self.balances) for status in STATUSES}

    @property
    def checked(self) -> int:
        return sum(row["accounts_checked"] or 0 for row in self.balances)

    @property
    def out_of_balance(self) -> int:
        """Balances not in balance, missing snapshots included."""
        return self.checked - self.status_totals["in_balance"]

    @property
    def as_of(self) -> dict[str, Any] | None:
        """The warehouse's as-of: {"as_of": timestamp (naive UTC), "category": "data" or "var",
        "period_month": the last month evaluated at its end}; None when the warehouse has none."""
        rows = (self.figures or {}).get("warehouse_as_of") or []
        return rows[0] if rows else None

    @property
    def latest_snapshot(self) -> datetime | None:
        moments = [row["latest_snapshot_at"] for row in self.balances if row["latest_snapshot_at"] is not None]
        return max(moments, default=None)


def read_report_data(connection, *, top: int = 25) -> ReportData:
    """What the page shows, from an open connection (DuckDB, or PostgreSQL through
    ``warehouse.PgQueries``): the figures of marts.rpt_warehouse_summary and the `top`
    balances out of balance (largest |drift| first, missing snapshots last) with their own
    movements. Raises the driver's error when a mart cannot be read."""
    data = ReportData(figures=figure_rows(connection), has_timeline=table_exists(connection, "marts", TIMELINE))
    if data.figures is None or not table_exists(connection, "marts", BALANCES):
        return data
    cursor = connection.execute(
        f"""
        select account_id, balance_type, currency, snapshot_as_of, snapshot_balance, computed_balance,
            drift, drift_status, likely_cause, explanation, evidence_movement_id, movements_count,
            late_recorded_movements, in_balance_tolerance, minor_drift_tolerance
        from marts.{BALANCES}
        where drift_status <> 'in_balance'
        order by abs(drift) desc nulls last, drift_status = 'material_mismatch' desc,
            account_id, balance_type, currency nulls first
        limit ?
        """,
        [max(top, 0)],
    )
    names = [column[0] for column in cursor.description]
    data.top = [Balance(**dict(zip(names, row, strict=True))) for row in cursor.fetchall()]
    if data.has_timeline and data.top:
        _attach_movements(connection, data.top)
    return data


def _attach_movements(connection, balances: list[Balance]) -> None:
    """Each shown balance's own movements, oldest first: one query filtered to the shown accounts
    (a single scan of the timeline, however many balances are shown)."""
    by_key = {(b.account_id, b.balance_type, b.currency): b for b in balances}
    rows = connection.execute(
        f"""
        select account_id, balance_type, currency, movement_id, movement_type, amount, occurred_at, recorded_at,
            running_balance, movement_sequence
        from marts.{TIMELINE}
        where account_id = any(?)
        order by account_id, balance_type, currency, movement_sequence
        """,
        [sorted({b.account_id for b in balances})],
    ).fetchall()
    for account_id, balance_type, currency, *movement in rows:
        balance = by_key.get((account_id, balance_type, currency))
        if balance is not None:
            balance.movements.append(Movement(*movement))


# --------------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------------


@cache
def _environment() -> jinja2.Environment:
    """Templates from the package (templates/*.html.j2), every value HTML-escaped unless Markup."""
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("loyalty.reporting", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters.update(
        number=formatting.number,
        amount=formatting.amount,
        moment=formatting.moment,
        label=formatting.label,
        balance_name=formatting.balance_name,
        status_colour=formatting.status_colour,
        drift_class=formatting.drift_class,
    )
    environment.globals.update(charts=charts, statuses=STATUSES)
    return environment


@cache
def _stylesheet() -> Markup:
    """static/report.css, to inline in <style> (trusted: it ships with the package)."""
    css = files("loyalty.reporting").joinpath("static", "report.css").read_text(encoding="utf-8")
    if "</" in css:
        raise ValueError("static/report.css must not contain '</': it is inlined in a <style> element")
    return Markup(css)


def render(data: ReportData, *, warehouse: Path | str, generated_at: datetime) -> str:
    """The page as one HTML document (str): CSS and SVG inline, no script, nothing fetched.
    `warehouse` names the source on the page; `generated_at` is shown as given (aware, UTC)."""
    stamp = generated_at.strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    template = _environment().get_template("report.html.j2")
    return template.render(
        data=data, warehouse=str(warehouse), stamp=stamp, css=_stylesheet(), figures_model=FIGURES_MODEL
    )


def write_report(warehouse: Path, out: Path, *, top: int = 25) -> Path:
    """Write the report of the DuckDB file `warehouse` (opened read-only, closed after) to
    `out`, one self-contained HTML file; returns `out`. Raises FileNotFoundError when
    `warehouse` is not a file, duckdb.Error when it is not a readable DuckDB warehouse,
    OSError when `out` cannot be written."""
    warehouse, out = Path(warehouse), Path(out)
    if not warehouse.is_file():
        raise FileNotFoundError(f"warehouse not found: {warehouse}")
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return write_report_from(connection, out, source=str(warehouse.resolve()), top=top)


def write_report_from(connection, out: Path, *, source: str, top: int = 25) -> Path:
    """Write the report from an open connection (DuckDB, or PostgreSQL through
    ``warehouse.PgQueries``) to `out` (folders created), detailing the `top` balances out of
    balance; `source` names the warehouse on the page. Returns `out`. Raises the driver's
    error when a mart cannot be read, OSError when `out` cannot be written."""
    out = Path(out)
    data = read_report_data(connection, top=top)
    page = render(data, warehouse=source, generated_at=datetime.now(UTC))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    """The command line (see the module docstring); returns 0, exits 2 on a bad argument."""
    parser = argparse.ArgumentParser(prog="python -m loyalty.reporting.report", description=__doc__.split("\n\n")[0])
    parser.add_argument("--warehouse", required=True, type=Path, help="the DuckDB warehouse file (read-only)")
    parser.add_argument("--out", required=True, type=Path, help="the HTML file to write")
    parser.add_argument("--top", type=int, default=25, help="how many balances out of balance to detail (25)")
    args = parser.parse_args(argv)  # argparse exits 2 on a missing or malformed option
    if args.top < 0:
        parser.error(f"argument --top: must be 0 or more, not {args.top}")
    return write_from_published(
        parser, args.warehouse, args.out, lambda warehouse, out: write_report(warehouse, out, top=args.top)
    )


if __name__ == "__main__":
    sys.exit(main())
