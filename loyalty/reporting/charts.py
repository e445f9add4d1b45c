"""The report's charts as inline SVG (no script, no network): balances by drift status, drift
by likely cause, and one balance's ledger timeline against its snapshot.

Each chart function returns ``markupsafe.Markup`` (every text in it is escaped here), sized in
CSS pixels by its viewBox and scaled down by the page's CSS on narrow screens. Colours of the
statuses come from ``formatting.STATUS_COLOURS``; everything else is styled by class in
``static/report.css``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from markupsafe import Markup, escape

from loyalty.reporting.balances import Balance
from loyalty.reporting.formatting import (
    STATUS_COLOURS,
    STATUS_COLUMNS,
    STATUSES,
    amount,
    balance_name,
    label,
    moment,
    number,
)

# A timeline draws at most this many movements (every n-th beyond), so a very busy balance
# stays a light page.
MAX_CHART_POINTS = 2000


# --------------------------------------------------------------------------------------------
# SVG elements
# --------------------------------------------------------------------------------------------


def _f(value: float) -> str:
    return f"{value:.1f}"


def _element(tag: str, attributes: Mapping[str, Any], content: str = "") -> Markup:
    """`<tag a="…">content</tag>`; floats with one decimal, attribute values escaped, None left
    out. `content` is escaped unless it is already Markup."""
    attrs = "".join(
        f' {name}="{escape(_f(value) if isinstance(value, float) else value)}"'
        for name, value in attributes.items()
        if value is not None
    )
    return Markup(f"<{tag}{attrs}>{escape(content)}</{tag}>")


def _title(text: str) -> Markup:
    return _element("title", {}, text)


def _text(x: float, y: float, text: str, *, css: str | None = None, anchor: str = "start") -> Markup:
    return _element("text", {"x": float(x), "y": float(y), "text-anchor": anchor, "class": css}, text)


def _svg(width: float, height: float, parts: Iterable[Markup], title: str) -> Markup:
    attributes = {
        "xmlns": "http://www.w3.org/2000/svg",
        "viewBox": f"0 0 {_f(width)} {_f(height)}",
        "width": float(width),
        "height": float(height),
        "role": "img",
        "aria-label": title,
    }
    return _element("svg", attributes, _title(title) + Markup("").join(parts))


def _legend(statuses: Iterable[str], x: float, y: float) -> list[Markup]:
    parts = []
    for status in statuses:
        parts.append(
            _element(
                "rect", {"x": float(x), "y": float(y - 10), "width": 12, "height": 12, "fill": STATUS_COLOURS[status]}
            )
        )
        parts.append(_text(x + 17, y, label(status), css="small"))
        x += 30 + 7.2 * len(label(status))
    return parts


def nice_ticks(low: float, high: float, count: int = 6) -> list[float]:
    """Round axis ticks, steps of 1, 2 or 5 × 10^n, from at or below `low` to at or above `high`
    (about `count` of them; an empty range gets the unit above `low`). Raises nothing."""
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


# --------------------------------------------------------------------------------------------
# Balances by drift status
# --------------------------------------------------------------------------------------------


def status_chart(balances: Sequence[Mapping[str, Any]]) -> Markup:
    """One stacked bar per balance type and currency, its balances by drift status (widths
    proportional to the count), from rows with balance_type, currency, accounts_checked and
    the four accounts_<status> counts (rpt_warehouse_summary, figure set balances)."""
    left, width, row_height, top = 120, 760, 34, 34
    height = top + row_height * len(balances) + 8
    parts = _legend(STATUSES, 0, 14)
    for index, row in enumerate(balances):
        y = top + index * row_height
        name = balance_name(row["balance_type"], row["currency"])
        checked = row["accounts_checked"] or 0
        parts.append(_text(left - 10, y + 17, name, anchor="end"))
        x = float(left)
        for status in STATUSES:
            count = row[STATUS_COLUMNS[status]] or 0
            if not count or not checked:
                continue
            span = width * count / checked
            bar = {"class": "bar", "x": x, "y": y, "width": span, "height": 24, "fill": STATUS_COLOURS[status]}
            parts.append(_element("rect", bar, _title(f"{name}: {count} {label(status)}")))
            if span >= 8 * len(str(count)) + 6:
                parts.append(_text(x + span / 2, y + 17, str(count), css="on-bar", anchor="middle"))
            x += span
        parts.append(_text(left + width + 8, y + 17, f"{checked:,} checked"))
    return _svg(left + width + 110, height, parts, "Balances by drift status")


# --------------------------------------------------------------------------------------------
# Drift by likely cause
# --------------------------------------------------------------------------------------------


def cause_charts(drift_by_cause: Sequence[Mapping[str, Any]]) -> Markup:
    """Per balance type and currency, in its own unit: one bar per likely cause, its total
    |drift| stacked by status (material, then minor), causes in the order of the rows (the
    seed drift_causes' precedence). Rows: balance_type, currency, category (drift_status),
    likely_cause, cause_meaning, item_count (balances) and total_abs_drift
    (rpt_warehouse_summary, figure set drift_by_cause)."""
    panels: dict[tuple[str, str | None], list[Mapping[str, Any]]] = {}
    for row in drift_by_cause:
        panels.setdefault((row["balance_type"], row["currency"]), []).append(row)
    charts = [_cause_panel(balance_type, currency, rows) for (balance_type, currency), rows in panels.items()]
    legend = _svg(420, 22, _legend(("material_mismatch", "minor_drift"), 0, 14), "legend")
    return legend + Markup('<div class="panels">{}</div>').format(
        Markup("").join(Markup('<div class="panel">{}</div>').format(chart) for chart in charts)
    )


def _cause_panel(balance_type: str, currency: str | None, rows: list[Mapping[str, Any]]) -> Markup:
    causes = list(dict.fromkeys(row["likely_cause"] for row in rows))
    by_cause = {cause: [row for row in rows if row["likely_cause"] == cause] for cause in causes}
    longest = max((sum(row["total_abs_drift"] for row in by_cause[cause]) for cause in causes), default=Decimal(0))
    total = sum((row["total_abs_drift"] for row in rows), Decimal(0))
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
        for status in ("material_mismatch", "minor_drift"):
            for row in by_cause[cause]:
                if row["category"] != status:
                    continue
                drift, count = row["total_abs_drift"], row["item_count"]
                accounts += count
                span = width * float(drift / longest) if longest else 0.0
                meaning = f" — {row['cause_meaning']}" if row.get("cause_meaning") else ""
                tooltip = (
                    f"{label(cause)}, {label(status)}: {count} balance(s), "
                    f"|drift| {amount(drift, balance_type, currency)}{meaning}"
                )
                bar = {
                    "class": "bar",
                    "x": x,
                    "y": y + 2,
                    "width": max(span, 1.5),
                    "height": 18,
                    "fill": STATUS_COLOURS[status],
                }
                parts.append(_element("rect", bar, _title(tooltip)))
                x += span
        cause_total = sum((row["total_abs_drift"] for row in by_cause[cause]), Decimal(0))
        plural = "" if accounts == 1 else "s"
        parts.append(
            _text(x + 6, y + 15, f"{number(cause_total, balance_type)} · {accounts} balance{plural}", css="small")
        )
    return _svg(left + width + 135, height, parts, f"Drift by likely cause, {balance_type}")


# --------------------------------------------------------------------------------------------
# One balance's ledger timeline
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timeline:
    """A drawn timeline: the SVG (None when there is nothing to draw), every how many
    movements one is drawn, and whether the evidence movement is marked."""

    svg: Markup | None
    stride: int = 1
    has_evidence: bool = False


@dataclass(frozen=True)
class _Plot:
    """The plot area of a timeline (pixels) and the time and value ranges it spans."""

    start: datetime
    end: datetime
    low: float
    high: float
    left: float = 74
    top: float = 14
    width: float = 720 - 74 - 16
    height: float = 270 - 14 - 40

    @property
    def right(self) -> float:
        return self.left + self.width

    @property
    def bottom(self) -> float:
        return self.top + self.height

    def x(self, at: datetime) -> float:
        return self.left + self.width * (at - self.start).total_seconds() / (self.end - self.start).total_seconds()

    def y(self, value: float) -> float:
        return self.top + self.height * (1 - (value - self.low) / (self.high - self.low))


def _line(css: str, x1: float, x2: float, y1: float, y2: float) -> Markup:
    return _element("line", {"class": css, "x1": float(x1), "x2": float(x2), "y1": float(y1), "y2": float(y2)})


def _dot(css: str, x: float, y: float, tooltip: str) -> Markup:
    return _element("circle", {"class": css, "cx": float(x), "cy": float(y), "r": 5}, _title(tooltip))


def timeline_chart(balance: Balance) -> Timeline:
    """The ledger's running balance of one balance (a step line by recorded_at, in the
    balance's unit) against its snapshot balance and as-of time, the drift between them and
    the evidence movement; from ``Balance.movements`` (oldest first), at most
    MAX_CHART_POINTS of them drawn."""
    movements = balance.movements
    stride = max(1, -(-len(movements) // MAX_CHART_POINTS))
    drawn = movements[::stride]
    if movements and drawn[-1] is not movements[-1]:
        drawn.append(movements[-1])
    times = [movement.recorded_at for movement in drawn]
    if balance.snapshot_as_of is not None:
        times.append(balance.snapshot_as_of)
    if not times:
        return Timeline(None)
    start, end = min(times), max(times)
    if not drawn:  # no ledger movement at all: show the month before the snapshot
        start -= timedelta(days=30)
    span = (end - start).total_seconds()
    pad = timedelta(seconds=span * 0.03) if span else timedelta(days=1)
    values = [0.0] + [float(movement.running_balance) for movement in drawn]
    for extra in (balance.snapshot_balance, balance.computed_balance if balance.snapshot_as_of else None):
        if extra is not None:
            values.append(float(extra))
    ticks = nice_ticks(min(values), max(values))
    plot = _Plot(start - pad, end + pad, ticks[0], ticks[-1])
    width, height = 720, 270

    bt, currency = balance.balance_type, balance.currency
    area = {"x": plot.left, "y": plot.top, "width": plot.width, "height": plot.height, "class": "plot"}
    parts = [_element("rect", area)]
    for tick in ticks:
        y = plot.y(tick)
        parts.append(_line("zero" if tick == 0 else "grid", plot.left, plot.right, y, y))
        parts.append(_text(plot.left - 6, y + 4, number(Decimal(str(tick)), bt), css="axis", anchor="end"))
    for index in range(5):
        at = plot.start + (plot.end - plot.start) * (index + 0.5) / 5
        x = plot.x(at)
        parts.append(_line("grid", x, x, plot.bottom, plot.bottom + 4))
        parts.append(_text(x, plot.bottom + 17, at.strftime("%Y-%m-%d"), css="axis", anchor="middle"))
    parts.append(_text(plot.left + plot.width / 2, height - 4, "recorded at", css="axis muted", anchor="middle"))

    if drawn:
        path = [f"M{_f(plot.x(drawn[0].recorded_at))} {_f(plot.y(0.0))}"]
        path += [f"H{_f(plot.x(m.recorded_at))} V{_f(plot.y(float(m.running_balance)))}" for m in drawn]
        path.append(f"H{_f(plot.right)}")
        parts.append(_element("path", {"class": "ledger", "d": " ".join(path)}, _title("ledger running balance")))
    else:
        d = f"M{_f(plot.left)} {_f(plot.y(0.0))} H{_f(plot.right)}"
        parts.append(_element("path", {"class": "ledger", "d": d}, _title("ledger balance: no movement")))
        parts.append(_text(plot.left + 6, plot.y(0.0) - 6, "no ledger movement: the ledger balance is 0", css="small"))

    evidence = next((m for m in movements if m.movement_id == balance.evidence_movement_id), None)
    if evidence is not None:
        what = f"{evidence.movement_type} {number(evidence.amount, bt, signed=True)}"
        x, y = plot.x(evidence.recorded_at), plot.y(float(evidence.running_balance))
        parts.append(_dot("evidence-dot", x, y, f"evidence {evidence.movement_id} ({what})"))

    if balance.snapshot_as_of is not None and balance.snapshot_balance is not None:
        parts += _snapshot_marks(balance, plot)
    title = f"Ledger running balance of {balance.account_id} {balance_name(bt, currency)}"
    return Timeline(_svg(width, height, parts, title), stride=stride, has_evidence=evidence is not None)


def _snapshot_marks(balance: Balance, plot: _Plot) -> list[Markup]:
    """The snapshot line, its as-of line, the drift between ledger and snapshot and their dots."""
    bt, currency = balance.balance_type, balance.currency
    xs = plot.x(balance.snapshot_as_of)
    ys = plot.y(float(balance.snapshot_balance))
    yc = plot.y(float(balance.computed_balance or 0))
    snapshot_text = amount(balance.snapshot_balance, bt, currency)
    parts = [_line("snapshot", plot.left, plot.right, ys, ys), _line("asof", xs, xs, plot.top, plot.bottom)]
    if abs(ys - yc) > 1:
        parts.append(_line("drift", xs, xs, yc, ys))
    if balance.drift:
        anchor = "end" if xs > plot.left + plot.width * 0.6 else "start"
        # beside the drift bar when it is tall enough, else above both markers
        label_y = (ys + yc) / 2 + 4 if abs(ys - yc) >= 24 else min(ys, yc) - 10
        if label_y < plot.top + 10:
            label_y = max(ys, yc) + 20
        drift_text = "drift " + amount(balance.drift, bt, currency, signed=True)
        parts.append(
            _text(xs + (-10 if anchor == "end" else 10), label_y, drift_text, css="drift-label", anchor=anchor)
        )
    ledger_text = amount(balance.computed_balance, bt, currency)
    parts.append(_dot("ledger-dot", xs, yc, f"ledger at the snapshot time: {ledger_text}"))
    parts.append(_dot("snapshot-dot", xs, ys, f"snapshot {snapshot_text} as of {moment(balance.snapshot_as_of)}"))
    label_y = ys - 7 if ys - 7 > plot.top + 10 else ys + 15
    parts.append(_text(plot.left + 6, label_y, f"snapshot {snapshot_text}", css="snapshot-label"))
    return parts
