"""How the report writes values: counts, points, money, moments, status and cause names.

Used by the templates (as Jinja filters) and by the charts, so a figure reads the same in a
table, a caption and a tooltip.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

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
# The column of rpt_warehouse_summary (figure set balances) that counts the balances of each status.
STATUS_COLUMNS = {
    "in_balance": "accounts_in_balance",
    "minor_drift": "accounts_minor_drift",
    "material_mismatch": "accounts_material_mismatch",
    "missing_snapshot": "accounts_missing_snapshot",
}
OTHER_COLOUR = "#546e7a"
NOTHING = "—"


def unit(balance_type: str, currency: str | None) -> str:
    """The unit a balance is counted in: its currency (wallet) or "points"."""
    return currency or ("points" if balance_type == "points" else balance_type)


def number(value: Any, balance_type: str = "", *, signed: bool = False) -> str:
    """A value as text: ints with thousands separators, points without decimals when whole,
    anything else (money) with two decimals; "+" before a positive value when `signed`;
    "—" for None. Raises decimal.InvalidOperation for a value that is not a number."""
    if value is None:
        return NOTHING
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
    """`number` followed by the balance's unit ("1,479 points", "-3.50 EUR"); "—" for None."""
    if value is None:
        return NOTHING
    return f"{number(value, balance_type, signed=signed)} {unit(balance_type, currency)}"


def moment(value: datetime | date | None) -> str:
    """A timestamp to the second ("2025-08-31 12:00:00", no zone: they are UTC) or a date."""
    if value is None:
        return NOTHING
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return value.isoformat()


def label(value: str | None) -> str:
    """A status or cause code as words ("material_mismatch" → "material mismatch")."""
    return STATUS_LABELS.get(value or "", (value or NOTHING).replace("_", " "))


def balance_name(balance_type: str, currency: str | None) -> str:
    """A balance by name: "points", or "wallet EUR"."""
    return f"{balance_type} {currency}" if currency else balance_type


def status_colour(status: str) -> str:
    """The drift status's colour (CSS hex)."""
    return STATUS_COLOURS.get(status, OTHER_COLOUR)


def drift_class(value: Any) -> str:
    """CSS class of a drift cell: "pos" above 0, "neg" below, "" at 0 or None."""
    if value is None or value == 0:
        return ""
    return "pos" if value > 0 else "neg"
