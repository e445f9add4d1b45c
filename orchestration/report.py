"""The reconciliation report: one self-contained HTML page (inline CSS and SVG, no network).

    python -m orchestration.report --warehouse warehouse/loyalty.duckdb --out reconciliation.html [--top 25]

It reads a built warehouse read-only and shows: the summary figures per balance type and
currency (marts.rpt_reconciliation_summary) with the order accrual and expiry status counts,
charts of the balances by drift status and of the out-of-balance drift by likely cause
(marts.fct_balance_reconciliation), the top balances out of balance (largest |drift| first),
and, per such balance, its ledger timeline (marts.fct_account_ledger_timeline) drawn against
the snapshot, with the explanation and the last movements. A warehouse without marts gets a
"no reconciliation yet" page. Exit status: 0 written, 2 on a bad argument or unreadable file.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from html import escape
from pathlib import Path
from typing import Any

import duckdb

SUMMARY = "rpt_reconciliation_summary"
BALANCES = "fct_balance_reconciliation"
TIMELINE = "fct_account_ledger_timeline"
ACCRUALS = "fct_order_accrual_reconciliation"
EXPIRY = "fct_expiry_reconciliation"

STATUSES = ("in_balance", "minor_drift", "material_mismatch", "missing_snapshot")
STATUS_LABELS = {
    "in_balance": "in balance",
    "minor_drift": "minor drift",
    "material_mismatch": "material mismatch",
    "missing_snapshot": "missing snapshot",
}
STATUS_COLOURS = {
    "in_balance": "#2e7d32",
    "minor_drift": "#e0a100",
    "material_mismatch": "#c62828",
    "missing_snapshot": "#78909c",
}
# The precedence of seeds/drift_causes.csv; causes not listed here follow, by name.
CAUSE_ORDER = ("double_posted_event", "missing_correction", "stale_snapshot", "missing_ledger_event", "unexplained")
LAST_MOVEMENTS = 10
MAX_CHART_POINTS = 2000


# --------------------------------------------------------------------------------------------
# What the page shows, read from the warehouse
# --------------------------------------------------------------------------------------------


@dataclass
class Movement:
    movement_id: str
    movement_type: str
    amount: Decimal
    occurred_at: datetime | None
    recorded_at: datetime
    running_balance: Decimal
    sequence: int


@dataclass
class Balance:
    account_id: str
    balance_type: str
    currency: str | None
    snapshot_as_of: datetime | None
    snapshot_balance: Decimal | None
    computed_balance: Decimal | None
    drift: Decimal | None
    drift_status: str
    likely_cause: str
    explanation: str
    evidence_movement_id: str | None = None
    movements_count: int | None = None
    late_recorded_movements: int | None = None
    in_balance_tolerance: Decimal | None = None
    minor_drift_tolerance: Decimal | None = None
    movements: list[Movement] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        return "balance-" + "-".join(
            "".join(char if char.isalnum() else "_" for char in part)
            for part in (self.account_id, self.balance_type, self.currency or "")
            if part
        )

    @property
    def unit(self) -> str:
        return unit(self.balance_type, self.currency)


@dataclass
class ReportData:
    summary: list[dict[str, Any]] | None = None
    accruals: list[tuple[str, int]] | None = None
    expiry: list[tuple[str, int, Any]] | None = None
    # (balance_type, currency, drift_status, likely_cause, accounts, sum |drift|)
    drift_breakdown: list[tuple[str, str | None, str, str, int, Decimal]] | None = None
    top: list[Balance] = field(default_factory=list)
    out_of_balance: int = 0
    latest_snapshot: datetime | None = None
    has_timeline: bool = False


def _tables(connection: duckdb.DuckDBPyConnection) -> set[str]:
    rows = connection.execute("select table_name from information_schema.tables where table_schema = 'marts'")
    return {name for (name,) in rows.fetchall()}


def _dicts(cursor: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def read_report_data(connection: duckdb.DuckDBPyConnection, *, top: int = 25) -> ReportData:
    """Everything the page shows: only aggregates, the top balances and their own movements."""
    tables = _tables(connection)
    data = ReportData(has_timeline=TIMELINE in tables)
    if SUMMARY in tables:
        data.summary = _dicts(
            connection.execute(f"select * from marts.{SUMMARY} order by balance_type, currency nulls first")
        )
    if ACCRUALS in tables:
        data.accruals = connection.execute(
            f"select accrual_status, count(*) from marts.{ACCRUALS}"
            " group by accrual_status order by accrual_status = 'ok' desc, count(*) desc, accrual_status"
        ).fetchall()
    if EXPIRY in tables:
        data.expiry = connection.execute(
            f"select expiry_status, count(*), sum(expiry_difference) from marts.{EXPIRY}"
            " group by expiry_status order by expiry_status = 'ok' desc, count(*) desc, expiry_status"
        ).fetchall()
    if BALANCES in tables:
        data.drift_breakdown = connection.execute(
            f"""
            select balance_type, currency, drift_status, likely_cause, count(*), coalesce(sum(abs(drift)), 0)
            from marts.{BALANCES}
            where drift_status in ('minor_drift', 'material_mismatch')
            group by balance_type, currency, drift_status, likely_cause
            order by balance_type, currency nulls first, drift_status, likely_cause
            """
        ).fetchall()
        data.out_of_balance, data.latest_snapshot = connection.execute(
            f"select count(*) filter (where drift_status <> 'in_balance'), max(snapshot_as_of) from marts.{BALANCES}"
        ).fetchone()
        rows = _dicts(
            connection.execute(
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
        )
        data.top = [Balance(**row) for row in rows]
        if data.has_timeline and data.top:
            _attach_movements(connection, data.top)
    return data


def _attach_movements(connection: duckdb.DuckDBPyConnection, balances: list[Balance]) -> None:
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
# Formatting
# --------------------------------------------------------------------------------------------


def unit(balance_type: str, currency: str | None) -> str:
    return currency or ("points" if balance_type == "points" else balance_type)


def number(value: Any, balance_type: str = "", *, signed: bool = False) -> str:
    """Counts with thousands separators; points without decimals when whole; money with two."""
    if value is None:
        return "—"
    if isinstance(value, int):
        text = f"{value:,}"
    else:
        value = Decimal(value)
        whole = value == value.to_integral_value()
        text = f"{int(value):,}" if balance_type == "points" and whole else f"{value:,.2f}"
    if signed and value > 0:
        text = "+" + text
    return text


def amount(value: Any, balance_type: str, currency: str | None, *, signed: bool = False) -> str:
    if value is None:
        return "—"
    return f"{number(value, balance_type, signed=signed)} {unit(balance_type, currency)}"


def moment(value: datetime | date | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return value.isoformat()


def label(value: str | None) -> str:
    return STATUS_LABELS.get(value or "", (value or "—").replace("_", " "))


def balance_name(balance_type: str, currency: str | None) -> str:
    return f"{balance_type} {currency}" if currency else balance_type


def chip(status: str) -> str:
    colour = STATUS_COLOURS.get(status, "#546e7a")
    return f'<span class="chip" style="background:{colour}">{escape(label(status))}</span>'


def _cause_rank(cause: str) -> tuple[int, str]:
    return (CAUSE_ORDER.index(cause) if cause in CAUSE_ORDER else len(CAUSE_ORDER), cause)


# --------------------------------------------------------------------------------------------
# Inline SVG
# --------------------------------------------------------------------------------------------


def _f(value: float) -> str:
    return f"{value:.1f}"


def _text(x: float, y: float, text: str, *, css: str = "", anchor: str = "start", extra: str = "") -> str:
    cls = f' class="{css}"' if css else ""
    return f'<text x="{_f(x)}" y="{_f(y)}" text-anchor="{anchor}"{cls}{extra}>{escape(text)}</text>'


def nice_ticks(low: float, high: float, count: int = 6) -> list[float]:
    """Round axis ticks (steps of 1, 2 or 5 × 10^n) from at or below `low` to at or above `high`."""
    if high <= low:
        high = low + 1
    raw = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw * 0.999)
    tick = math.floor(low / step) * step
    ticks = [round(tick, 10)]
    while ticks[-1] < high:
        tick += step
        ticks.append(round(tick, 10))
    return ticks


def status_chart(summary: list[dict[str, Any]]) -> str:
    """Per balance type/currency: one stacked bar of its balances by drift status."""
    columns = {
        "in_balance": "accounts_in_balance",
        "minor_drift": "accounts_minor_drift",
        "material_mismatch": "accounts_material_mismatch",
        "missing_snapshot": "accounts_missing_snapshot",
    }
    left, width, row_height, top = 120, 760, 34, 34
    height = top + row_height * len(summary) + 8
    parts = [_legend(STATUSES, 0, 14)]
    for index, row in enumerate(summary):
        y = top + index * row_height
        checked = row["accounts_checked"] or 0
        parts.append(_text(left - 10, y + 17, balance_name(row["balance_type"], row["currency"]), anchor="end"))
        x = float(left)
        for status in STATUSES:
            count = row[columns[status]] or 0
            if not count or not checked:
                continue
            span = width * count / checked
            colour = STATUS_COLOURS[status]
            parts.append(
                f'<rect class="bar" x="{_f(x)}" y="{y}" width="{_f(span)}" height="24" fill="{colour}">'
                f"<title>{escape(balance_name(row['balance_type'], row['currency']))}: {count} {label(status)}"
                "</title></rect>"
            )
            if span >= 8 * len(str(count)) + 6:
                parts.append(_text(x + span / 2, y + 17, str(count), css="on-bar", anchor="middle"))
            x += span
        parts.append(_text(left + width + 8, y + 17, f"{checked:,} checked"))
    return _svg(left + width + 110, height, parts, "Balances by drift status")


def cause_charts(breakdown: list[tuple[str, str | None, str, str, int, Decimal]]) -> str:
    """Per balance type/currency: total |drift| by likely cause, stacked by status (own unit)."""
    panels: dict[tuple[str, str | None], list[tuple[str, str, int, Decimal]]] = {}
    for balance_type, currency, status, cause, accounts, drift in breakdown:
        panels.setdefault((balance_type, currency), []).append((status, cause, accounts, drift))
    charts = []
    for (balance_type, currency), rows in panels.items():
        causes = sorted({cause for _, cause, _, _ in rows}, key=_cause_rank)
        longest = max((sum(d for _, c, _, d in rows if c == cause) for cause in causes), default=Decimal(0))
        total = sum((d for _, _, _, d in rows), Decimal(0))
        left, width, row_height, top = 140, 100, 30, 44
        height = top + row_height * len(causes) + 6
        parts = [
            _text(0, 16, balance_name(balance_type, currency), css="h"),
            _text(0, 34, f"|drift| out of balance: {amount(total, balance_type, currency)}", css="muted"),
        ]
        for index, cause in enumerate(causes):
            y = top + index * row_height
            parts.append(_text(left - 8, y + 15, label(cause), anchor="end"))
            x = float(left)
            accounts = 0
            cause_total = Decimal(0)
            for status in ("material_mismatch", "minor_drift"):
                for row_status, row_cause, count, drift in rows:
                    if row_status != status or row_cause != cause:
                        continue
                    accounts += count
                    cause_total += drift
                    span = width * float(drift / longest) if longest else 0.0
                    parts.append(
                        f'<rect class="bar" x="{_f(x)}" y="{y + 2}" width="{_f(max(span, 1.5))}" height="18" '
                        f'fill="{STATUS_COLOURS[status]}"><title>{escape(label(cause))}, {label(status)}: '
                        f"{count} balance(s), |drift| {escape(amount(drift, balance_type, currency))}</title></rect>"
                    )
                    x += span
            plural = "" if accounts == 1 else "s"
            caption = f"{number(cause_total, balance_type)} · {accounts} balance{plural}"
            parts.append(_text(x + 6, y + 15, caption, css="small"))
        charts.append(_svg(left + width + 135, height, parts, f"Drift by likely cause, {balance_type}"))
    legend = _svg(420, 22, [_legend(("material_mismatch", "minor_drift"), 0, 14)], "legend")
    return legend + '<div class="panels">' + "".join(f'<div class="panel">{c}</div>' for c in charts) + "</div>"


def _legend(statuses: Iterable[str], x: float, y: float) -> str:
    parts = []
    for status in statuses:
        parts.append(f'<rect x="{_f(x)}" y="{_f(y - 10)}" width="12" height="12" fill="{STATUS_COLOURS[status]}"/>')
        parts.append(_text(x + 17, y, label(status), css="small"))
        x += 30 + 7.2 * len(label(status))
    return "".join(parts)


def _svg(width: float, height: float, parts: list[str], title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_f(width)} {_f(height)}" width="{_f(width)}" '
        f'height="{_f(height)}" role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>'
        + "".join(parts)
        + "</svg>"
    )


def timeline_chart(balance: Balance) -> str:
    """The ledger's running balance (a step line by recorded_at) against the snapshot balance."""
    movements = balance.movements
    stride = max(1, -(-len(movements) // MAX_CHART_POINTS))
    drawn = movements[::stride]
    if movements and drawn[-1] is not movements[-1]:
        drawn.append(movements[-1])
    times = [m.recorded_at for m in drawn]
    if balance.snapshot_as_of is not None:
        times.append(balance.snapshot_as_of)
    if not times:
        return '<p class="muted">No movements and no snapshot to draw.</p>'
    start, end = min(times), max(times)
    if not drawn:  # no ledger movement at all: show the month before the snapshot
        start -= timedelta(days=30)
    span = (end - start).total_seconds()
    pad = timedelta(seconds=span * 0.03) if span else timedelta(days=1)
    start, end = start - pad, end + pad
    values = [0.0] + [float(m.running_balance) for m in drawn]
    for extra in (balance.snapshot_balance, balance.computed_balance if balance.snapshot_as_of else None):
        if extra is not None:
            values.append(float(extra))
    ticks = nice_ticks(min(values), max(values))
    low, high = ticks[0], ticks[-1]

    width, height = 720, 270
    left, right, top, bottom = 74, 16, 14, 40
    plot_w, plot_h = width - left - right, height - top - bottom

    def x_of(moment_: datetime) -> float:
        return left + plot_w * (moment_ - start).total_seconds() / (end - start).total_seconds()

    def y_of(value: float) -> float:
        return top + plot_h * (1 - (value - low) / (high - low))

    parts = [f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" class="plot"/>']
    for tick in ticks:
        y = y_of(tick)
        css = "zero" if tick == 0 else "grid"
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{_f(y)}" y2="{_f(y)}" class="{css}"/>')
        parts.append(_text(left - 6, y + 4, number(Decimal(str(tick)), balance.balance_type), css="axis", anchor="end"))
    for index in range(5):
        moment_ = start + (end - start) * (index + 0.5) / 5
        x = x_of(moment_)
        parts.append(f'<line x1="{_f(x)}" x2="{_f(x)}" y1="{top + plot_h}" y2="{top + plot_h + 4}" class="grid"/>')
        parts.append(_text(x, top + plot_h + 17, moment_.strftime("%Y-%m-%d"), css="axis", anchor="middle"))
    parts.append(_text(left + plot_w / 2, height - 4, "recorded at", css="axis muted", anchor="middle"))

    if drawn:
        path = [f"M{_f(x_of(drawn[0].recorded_at))} {_f(y_of(0.0))}"]
        for movement in drawn:
            path.append(f"H{_f(x_of(movement.recorded_at))} V{_f(y_of(float(movement.running_balance)))}")
        path.append(f"H{_f(left + plot_w)}")
        parts.append(f'<path class="ledger" d="{" ".join(path)}"><title>ledger running balance</title></path>')
    else:
        y0 = _f(y_of(0.0))
        parts.append(
            f'<path class="ledger" d="M{left} {y0} H{left + plot_w}"><title>ledger balance: no movement</title></path>'
        )
        parts.append(_text(left + 6, y_of(0.0) - 6, "no ledger movement: the ledger balance is 0", css="small"))

    evidence = next((m for m in movements if m.movement_id == balance.evidence_movement_id), None)
    if evidence is not None:
        parts.append(
            f'<circle class="evidence-dot" cx="{_f(x_of(evidence.recorded_at))}" '
            f'cy="{_f(y_of(float(evidence.running_balance)))}" r="5"><title>evidence {escape(evidence.movement_id)} '
            f"({escape(evidence.movement_type)} {escape(number(evidence.amount, balance.balance_type, signed=True))})"
            "</title></circle>"
        )

    if balance.snapshot_as_of is not None and balance.snapshot_balance is not None:
        xs = x_of(balance.snapshot_as_of)
        ys = y_of(float(balance.snapshot_balance))
        yc = y_of(float(balance.computed_balance or 0))
        snap_text = amount(balance.snapshot_balance, balance.balance_type, balance.currency)
        parts.append(f'<line class="snapshot" x1="{left}" x2="{left + plot_w}" y1="{_f(ys)}" y2="{_f(ys)}"/>')
        parts.append(f'<line class="asof" x1="{_f(xs)}" x2="{_f(xs)}" y1="{top}" y2="{top + plot_h}"/>')
        if abs(ys - yc) > 1:
            parts.append(f'<line class="drift" x1="{_f(xs)}" x2="{_f(xs)}" y1="{_f(yc)}" y2="{_f(ys)}"/>')
        if balance.drift:
            drift_text = "drift " + amount(balance.drift, balance.balance_type, balance.currency, signed=True)
            anchor = "end" if xs > left + plot_w * 0.6 else "start"
            # beside the drift bar when it is tall enough, else above both markers
            label_y = (ys + yc) / 2 + 4 if abs(ys - yc) >= 24 else min(ys, yc) - 10
            if label_y < top + 10:
                label_y = max(ys, yc) + 20
            parts.append(
                _text(xs + (-10 if anchor == "end" else 10), label_y, drift_text, css="drift-label", anchor=anchor)
            )
        parts.append(
            f'<circle class="ledger-dot" cx="{_f(xs)}" cy="{_f(yc)}" r="5"><title>ledger at the snapshot time: '
            f"{escape(amount(balance.computed_balance, balance.balance_type, balance.currency))}</title></circle>"
        )
        parts.append(
            f'<circle class="snapshot-dot" cx="{_f(xs)}" cy="{_f(ys)}" r="5"><title>snapshot {escape(snap_text)} '
            f"as of {escape(moment(balance.snapshot_as_of))}</title></circle>"
        )
        label_y = ys - 7 if ys - 7 > top + 10 else ys + 15
        parts.append(_text(left + 6, label_y, f"snapshot {snap_text}", css="snapshot-label"))
    title = f"Ledger running balance of {balance.account_id} {balance_name(balance.balance_type, balance.currency)}"
    chart = _svg(width, height, parts, title)
    note = f" (every {stride}th of {len(movements):,} movements drawn)" if stride > 1 else ""
    keys = [
        '<span class="key"><i class="k-ledger"></i>ledger running balance (by recorded_at)</span>',
    ]
    if balance.snapshot_as_of is not None:
        keys += [
            '<span class="key"><i class="k-snapshot"></i>snapshot balance</span>',
            '<span class="key"><i class="k-asof"></i>snapshot as of</span>',
            '<span class="key"><i class="k-drift"></i>drift at the snapshot time</span>',
        ]
    if evidence is not None:
        keys.append('<span class="key"><i class="k-evidence"></i>evidence movement</span>')
    return chart + f'<div class="keys">{"".join(keys)}{escape(note)}</div>'


# --------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------

CSS = """
:root { --ink:#1f2933; --muted:#616e7c; --line:#d9e2ec; --soft:#f5f7fa; --accent:#1565c0; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  color: var(--ink); background: #fff; }
main { max-width: 1240px; margin: 0 auto; padding: 20px 28px 48px; }
h1 { font-size: 24px; margin: 0 0 2px; }
h2 { font-size: 18px; margin: 30px 0 8px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 15px; margin: 0 0 6px; }
.meta, .muted { color: var(--muted); }
.meta code { font-size: 12px; }
.headline { font-size: 17px; margin: 14px 0 10px; padding: 10px 14px; background: var(--soft);
  border-left: 4px solid var(--accent); }
.headline.bad { border-left-color: #c62828; }
.headline.good { border-left-color: #2e7d32; }
.cards { display: flex; gap: 12px; flex-wrap: wrap; margin: 8px 0 4px; }
.card { flex: 1 1 150px; border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px;
  border-top: 4px solid var(--c, var(--accent)); }
.card .value { font-size: 24px; font-weight: 650; }
.card .what { color: var(--muted); font-size: 13px; }
table { border-collapse: collapse; margin: 6px 0 10px; }
th, td { padding: 4px 9px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { background: var(--soft); font-weight: 600; font-size: 13px; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.pos { color: #b71c1c; } td.neg { color: #0d47a1; }
.side-by-side { display: flex; gap: 36px; flex-wrap: wrap; align-items: flex-start; }
.chip { display: inline-block; color: #fff; border-radius: 10px; padding: 0 8px; font-size: 12px;
  white-space: nowrap; }
.top td.explanation { max-width: 430px; font-size: 13px; }
a { color: var(--accent); }
svg { display: block; max-width: 100%; height: auto; font: 12px system-ui, "DejaVu Sans", sans-serif; }
svg text { fill: var(--ink); }
svg .on-bar { fill: #fff; font-weight: 600; }
svg .small { font-size: 11.5px; } svg .muted { fill: var(--muted); font-size: 11.5px; }
svg .h { font-weight: 650; font-size: 13px; }
svg .axis { font-size: 11px; fill: var(--muted); }
svg .plot { fill: #fbfcfd; stroke: var(--line); }
svg .grid { stroke: #e4e9ef; } svg .zero { stroke: #9aa5b1; }
svg .ledger { fill: none; stroke: var(--accent); stroke-width: 2; }
svg .snapshot { stroke: #c62828; stroke-width: 1.5; stroke-dasharray: 6 4; }
svg .asof { stroke: #9aa5b1; stroke-dasharray: 2 3; }
svg .drift { stroke: #c62828; stroke-width: 3; }
svg .drift-label { fill: #b71c1c; font-weight: 650; font-size: 12.5px; }
svg .snapshot-label { fill: #b71c1c; font-size: 11.5px; }
svg .drift-label, svg .snapshot-label { paint-order: stroke; stroke: #fff; stroke-width: 4px; stroke-linejoin: round; }
svg .snapshot-dot { fill: #c62828; } svg .evidence-dot { fill: #ef6c00; stroke: #fff; stroke-width: 1.5; }
svg .ledger-dot { fill: #fff; stroke: var(--accent); stroke-width: 2.5; }
.panels { display: flex; gap: 20px; flex-wrap: wrap; }
.account { border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; margin: 16px 0;
  break-inside: avoid; }
.account-body { display: flex; gap: 22px; flex-wrap: wrap; }
.timeline { flex: 0 1 720px; max-width: 100%; }
.account aside { flex: 1 1 300px; min-width: 280px; }
.explanation-text { font-size: 14.5px; background: var(--soft); padding: 9px 12px; border-radius: 6px;
  margin: 0 0 10px; }
dl.facts { display: grid; grid-template-columns: auto 1fr; gap: 2px 12px; margin: 0; font-size: 13px; }
dl.facts dt { color: var(--muted); } dl.facts dd { margin: 0; font-variant-numeric: tabular-nums; }
.keys { color: var(--muted); font-size: 12px; margin: 4px 0 0; }
.key { margin-right: 14px; white-space: nowrap; }
.key i { display: inline-block; width: 22px; height: 0; vertical-align: middle; margin-right: 5px; }
.k-ledger { border-top: 2px solid var(--accent); } .k-snapshot { border-top: 2px dashed #c62828; }
.k-asof { border-top: 2px dotted #9aa5b1; } .k-drift { border-top: 4px solid #c62828; }
.k-evidence { width: 10px !important; height: 10px !important; border-radius: 50%; background: #ef6c00; }
table.movements { font-size: 12.5px; margin-top: 12px; }
tr.evidence td { background: #fff3e0; font-weight: 600; }
tr.after td { color: var(--muted); }
.tag { font-size: 11px; color: var(--muted); font-weight: normal; }
.empty { margin: 40px 0; padding: 24px; border: 2px dashed var(--line); border-radius: 8px; font-size: 16px; }
footer { margin-top: 30px; color: var(--muted); font-size: 12px; }
"""


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], *, numeric: Iterable[int] = (), css: str = "") -> str:
    numeric = set(numeric)
    head = "".join(f"<th{' class=num' if i in numeric else ''}>{escape(h)}</th>" for i, h in enumerate(headers))
    body = []
    for row in rows:
        cells = "".join(f"<td{' class=num' if i in numeric else ''}>{cell}</td>" for i, cell in enumerate(row))
        body.append(f"<tr>{cells}</tr>")
    cls = f' class="{css}"' if css else ""
    return f"<table{cls}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _drift_cell(value: Any, balance_type: str) -> str:
    css = "pos" if value is not None and value > 0 else "neg" if value is not None and value < 0 else ""
    return f'<td class="num {css}">{escape(number(value, balance_type, signed=True))}</td>'


def _summary_section(data: ReportData) -> str:
    summary = data.summary or []
    totals = {status: 0 for status in STATUSES}
    columns = ("accounts_in_balance", "accounts_minor_drift", "accounts_material_mismatch", "accounts_missing_snapshot")
    for row in summary:
        for status, column in zip(STATUSES, columns, strict=True):
            totals[status] += row[column] or 0
    checked = sum(row["accounts_checked"] or 0 for row in summary)
    out = checked - totals["in_balance"]
    if out:
        headline = (
            f'<p class="headline bad"><b>{out:,} of {checked:,} balances are out of balance</b>: '
            f"{totals['material_mismatch']:,} material mismatch, {totals['minor_drift']:,} minor drift, "
            f"{totals['missing_snapshot']:,} without a snapshot.</p>"
        )
    else:
        headline = f'<p class="headline good"><b>All {checked:,} balances are in balance.</b></p>'
    cards = [f'<div class="card"><div class="value">{checked:,}</div><div class="what">balances checked</div></div>']
    for status in STATUSES:
        share = f" ({100 * totals[status] / checked:.0f}%)" if checked else ""
        cards.append(
            f'<div class="card" style="--c:{STATUS_COLOURS[status]}"><div class="value">{totals[status]:,}</div>'
            f'<div class="what">{escape(label(status))}{share}</div></div>'
        )
    rows = []
    for row in summary:
        balance_type = row["balance_type"]
        rows.append(
            "<tr>"
            f"<td>{escape(balance_type)}</td><td>{escape(row['currency'] or '—')}</td>"
            + "".join(f'<td class="num">{number(row[c] or 0)}</td>' for c in ("accounts_checked", *columns))
            + _drift_cell(row["largest_positive_drift"], balance_type)
            + _drift_cell(row["largest_negative_drift"], balance_type)
            + _drift_cell(row["net_drift"], balance_type)
            + f'<td class="num">{escape(number(row["total_abs_drift"], balance_type))}</td>'
            "</tr>"
        )
    headers = [
        "balance",
        "currency",
        "checked",
        "in balance",
        "minor drift",
        "material mismatch",
        "missing snapshot",
        "largest + drift",
        "largest − drift",
        "net drift",
        "total |drift|",
    ]
    head = "".join(f"<th{' class=num' if i >= 2 else ''}>{escape(h)}</th>" for i, h in enumerate(headers))
    table = f'<table id="summary"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    note = (
        '<p class="muted">Drift = snapshot − ledger, in the balance\'s own unit (points, or the wallet currency). '
        "Positive: the operational system reports more than the ledger explains.</p>"
    )
    return (
        '<section id="summary-section"><h2>Summary</h2>'
        + headline
        + f'<div class="cards">{"".join(cards)}</div>'
        + table
        + note
        + _other_checks(data)
        + "</section>"
    )


def _other_checks(data: ReportData) -> str:
    blocks = []
    if data.accruals is not None:
        rows = [(escape(label(status)), number(count)) for status, count in data.accruals]
        total = sum(count for _, count in data.accruals)
        bad = total - sum(count for status, count in data.accruals if status == "ok")
        blocks.append(
            f'<div id="accruals"><h3>Order accruals</h3><p class="muted">{bad:,} of {total:,} member orders '
            "did not accrue as expected</p>" + _table(["accrual status", "member orders"], rows, numeric=[1]) + "</div>"
        )
    if data.expiry is not None:
        rows = [
            (escape(label(status)), number(count), escape(number(difference, "points", signed=True)))
            for status, count, difference in data.expiry
        ]
        total = sum(count for _, count, _ in data.expiry)
        bad = total - sum(count for status, count, _ in data.expiry if status == "ok")
        blocks.append(
            f'<div id="expiry"><h3>Points expiry</h3><p class="muted">{bad:,} of {total:,} account-months '
            "expired differently from the FIFO schedule</p>"
            + _table(["expiry status", "account-months", "posted − expected (points)"], rows, numeric=[1, 2])
            + "</div>"
        )
    return f'<div class="side-by-side">{"".join(blocks)}</div>' if blocks else ""


def _charts_section(data: ReportData) -> str:
    parts = ['<section id="charts"><h2>Where the drift is</h2>']
    if data.summary:
        parts.append('<div class="chart" id="status-chart">' + status_chart(data.summary) + "</div>")
    if data.drift_breakdown:
        parts.append('<div class="chart" id="cause-chart">' + cause_charts(data.drift_breakdown) + "</div>")
        parts.append(
            '<p class="muted">Bars: total |drift| of the balances out of balance, per likely cause, in each '
            "balance's own unit. Balances without a snapshot have no drift and are not in these bars.</p>"
        )
    elif data.drift_breakdown is not None:
        parts.append('<p class="muted">No balance drifts: nothing to break down by likely cause.</p>')
    parts.append("</section>")
    return "".join(parts)


def _top_section(data: ReportData) -> str:
    if data.drift_breakdown is None:
        return ""
    shown = len(data.top)
    intro = (
        f"The {shown:,} of {data.out_of_balance:,} balances out of balance with the largest |drift| "
        "(balances without a snapshot last). Click an account for its timeline."
        if shown
        else "No balance is out of balance."
    )
    rows = []
    for balance in data.top:
        bt = balance.balance_type
        rows.append(
            "<tr>"
            f'<td><a href="#{balance.anchor}">{escape(balance.account_id)}</a></td>'
            f"<td>{escape(bt)}</td><td>{escape(balance.currency or '—')}</td>"
            f'<td class="num">{escape(number(balance.snapshot_balance, bt))}</td>'
            f'<td class="num">{escape(number(balance.computed_balance, bt))}</td>'
            + _drift_cell(balance.drift, bt)
            + f"<td>{chip(balance.drift_status)}</td><td>{escape(label(balance.likely_cause))}</td>"
            f'<td class="explanation">{escape(balance.explanation or "")}</td>'
            "</tr>"
        )
    headers = ["account", "balance type", "currency", "snapshot", "computed", "drift", "status", "likely cause"]
    head = "".join(f"<th{' class=num' if 3 <= i <= 5 else ''}>{h}</th>" for i, h in enumerate([*headers]))
    table = (
        f'<table class="top" id="top-accounts"><thead><tr>{head}<th>explanation</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
        if rows
        else ""
    )
    return (
        f'<section id="top"><h2>Top balances out of balance</h2><p class="muted">{escape(intro)}</p>{table}</section>'
    )


def _account_section(balance: Balance, has_timeline: bool) -> str:
    bt, currency = balance.balance_type, balance.currency
    header = (
        f"<h3>{escape(balance.account_id)} · {escape(balance_name(bt, currency))} {chip(balance.drift_status)} "
        + (
            f'<span class="muted">likely cause: {escape(label(balance.likely_cause))}</span>'
            if balance.likely_cause not in (None, "none")
            else ""
        )
        + "</h3>"
    )
    if balance.snapshot_as_of is None:
        facts = [("snapshot", "none"), ("ledger balance", amount(balance.computed_balance, bt, currency))]
    else:
        facts = [
            ("snapshot", f"{amount(balance.snapshot_balance, bt, currency)} as of {moment(balance.snapshot_as_of)}"),
            ("ledger at that time", amount(balance.computed_balance, bt, currency)),
            ("drift", amount(balance.drift, bt, currency, signed=True)),
        ]
    facts.append(("movements", number(balance.movements_count)))
    if balance.late_recorded_movements:
        facts.append(("recorded late", f"{balance.late_recorded_movements:,} (occurred before, recorded after)"))
    if balance.evidence_movement_id:
        facts.append(("evidence", balance.evidence_movement_id))
    if balance.in_balance_tolerance is not None and balance.minor_drift_tolerance is not None:
        facts.append(
            (
                "tolerances",
                f"in balance ≤ {number(balance.in_balance_tolerance, bt)}, "
                f"minor ≤ {number(balance.minor_drift_tolerance, bt)}",
            )
        )
    facts_html = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in facts)
    aside = (
        f'<aside><p class="explanation-text">{escape(balance.explanation or "")}</p>'
        f'<dl class="facts">{facts_html}</dl></aside>'
    )
    if not has_timeline:
        chart = '<p class="muted">marts.fct_account_ledger_timeline is not in this warehouse.</p>'
        movements = ""
    else:
        chart = f'<div class="timeline">{timeline_chart(balance)}</div>'
        movements = _movements_table(balance)
    return (
        f'<article class="account" id="{balance.anchor}">{header}'
        f'<div class="account-body">{chart}{aside}</div>{movements}</article>'
    )


def _movements_table(balance: Balance) -> str:
    last = balance.movements[-LAST_MOVEMENTS:]
    shown_ids = {m.movement_id for m in last}
    evidence = [
        m for m in balance.movements if m.movement_id == balance.evidence_movement_id and m.movement_id not in shown_ids
    ]
    if not last:
        return '<p class="muted">No ledger movements for this balance.</p>'
    rows = []
    for movement in evidence + last:
        classes = []
        tag = ""
        if movement.movement_id == balance.evidence_movement_id:
            classes.append("evidence")
            tag = ' <span class="tag">evidence</span>'
        if balance.snapshot_as_of is not None and movement.recorded_at > balance.snapshot_as_of:
            classes.append("after")
            tag += ' <span class="tag">after the snapshot</span>'
        cls = f' class="{" ".join(classes)}"' if classes else ""
        rows.append(
            f"<tr{cls}><td>{escape(movement.movement_id)}{tag}</td><td>{escape(movement.movement_type)}</td>"
            f'<td class="num">{escape(number(movement.amount, balance.balance_type, signed=True))}</td>'
            f"<td>{escape(moment(movement.occurred_at))}</td><td>{escape(moment(movement.recorded_at))}</td>"
            f'<td class="num">{escape(number(movement.running_balance, balance.balance_type))}</td></tr>'
        )
    caption = f"Last {len(last)} of {len(balance.movements):,} movements" + (
        ", with the evidence movement first" if evidence else ""
    )
    head = "".join(
        f"<th{' class=num' if h in ('amount', 'running balance') else ''}>{h}</th>"
        for h in ("movement", "type", "amount", "occurred at", "recorded at", "running balance")
    )
    return (
        f'<table class="movements"><caption class="muted" style="text-align:left">{escape(caption)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def render(data: ReportData, *, warehouse: Path | str, generated_at: datetime) -> str:
    stamp = generated_at.strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    title = f"Loyalty reconciliation report — {stamp}"
    meta = f"Generated {escape(stamp)} from <code>{escape(str(warehouse))}</code>"
    if data.latest_snapshot is not None:
        meta += f" · latest snapshot {escape(moment(data.latest_snapshot))}"
    if data.summary is None and data.drift_breakdown is None:
        body = (
            '<div class="empty" id="no-reconciliation"><b>No reconciliation yet.</b> This warehouse has no '
            "reconciliation marts (marts.rpt_reconciliation_summary, marts.fct_balance_reconciliation). "
            "Run a refresh first: <code>python -m orchestration.cli refresh</code>.</div>"
        )
    else:
        accounts = "".join(_account_section(balance, data.has_timeline) for balance in data.top)
        body = (
            (_summary_section(data) if data.summary is not None else "")
            + _charts_section(data)
            + _top_section(data)
            + (f'<section id="timelines"><h2>Account timelines</h2>{accounts}</section>' if accounts else "")
        )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body><main>"
        f'<header><h1>Loyalty reconciliation report</h1><p class="meta">{meta}</p></header>'
        f"{body}"
        "<footer>Read-only from the warehouse marts: rpt_reconciliation_summary, fct_balance_reconciliation, "
        "fct_account_ledger_timeline, fct_order_accrual_reconciliation, fct_expiry_reconciliation.</footer>"
        "</main></body></html>\n"
    )


def write_report(warehouse: Path, out: Path, *, top: int = 25) -> Path:
    """Write the report of `warehouse` (opened read-only) to `out`, one self-contained HTML file."""
    warehouse, out = Path(warehouse), Path(out)
    if not warehouse.is_file():
        raise FileNotFoundError(f"warehouse not found: {warehouse}")
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return write_report_from(connection, out, source=str(warehouse.resolve()), top=top)


def write_report_from(connection, out: Path, *, source: str, top: int = 25) -> Path:
    """Write the report from an open connection (DuckDB, or PostgreSQL through
    ``warehouse.PgQueries``); `source` names the warehouse on the page."""
    out = Path(out)
    data = read_report_data(connection, top=top)
    page = render(data, warehouse=source, generated_at=datetime.now(UTC))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestration.report", description=__doc__.split("\n\n")[0])
    parser.add_argument("--warehouse", required=True, type=Path, help="the DuckDB warehouse file (read-only)")
    parser.add_argument("--out", required=True, type=Path, help="the HTML file to write")
    parser.add_argument("--top", type=int, default=25, help="how many balances out of balance to detail (25)")
    args = parser.parse_args(argv)  # argparse exits 2 on a missing or malformed option
    if args.top < 0:
        parser.error(f"argument --top: must be 0 or more, not {args.top}")
    if not args.warehouse.is_file():
        parser.error(f"argument --warehouse: no such file: {args.warehouse}")
    if args.out.is_dir():
        parser.error(f"argument --out: is a folder, not a file: {args.out}")
    started = time.perf_counter()
    try:
        written = write_report(args.warehouse, args.out, top=args.top)
    except duckdb.Error as error:
        parser.error(f"argument --warehouse: cannot read {args.warehouse} as a DuckDB warehouse: {error}")
    except OSError as error:
        parser.error(f"argument --out: cannot write {args.out}: {error}")
    print(f"wrote {written} in {time.perf_counter() - started:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
