"""The landing zone of docs/landing.md as data: every landing source, its kind, columns and key.

This is the one definition of the landing layout (docs/landing.md). What follows from it:

* the loader (``loyalty.landing.loader``) creates ``raw.<source>`` with these columns and
  reads only folders named after a source;
* the sample-data generator (``tools.sample_data.writer.SCHEMAS``) writes these columns in
  this order, with a physical type per logical type;
* the dbt side cannot import Python, so ``tests_py/test_landing_contract.py`` holds it to this
  registry: the sources YAML ``models/staging/<system>/_<system>__sources.yml`` declares exactly
  these tables and columns, every source has a base model ``base_<system>__<source>`` whose
  parsed columns have these types, and ``delivery_base_models()`` lists it.

To add a source: add a ``LandingSource`` below, then follow the failing tests (README, "Add a
landing source").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Logical column types. Every landed value is text in raw; staging parses it into this type.
COLUMN_TYPES = ("text", "integer", "decimal", "date", "timestamp", "enum", "boolean")
# How a source's rows change over time (docs/landing.md#same-key-different-payload): facts are
# immutable (first delivery of a key wins), dimensions keep type-2 history (latest delivery is
# current), a change feed's row with the latest update is the entity's state.
SOURCE_KINDS = ("fact", "dimension", "change_feed")

_IDENTIFIER = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class Column:
    """One landed column (docs/landing.md): its name, logical type (one of ``COLUMN_TYPES``),
    whether an empty value is accepted (``nullable``; otherwise staging rejects the row as
    missing_key / missing_value), and for an ``enum`` the accepted values.

    Raises ValueError when the name is not a lowercase identifier, the type is unknown, or
    ``values`` is given for a non-enum (or missing for an enum)."""

    name: str
    type: str
    nullable: bool = False
    values: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not _IDENTIFIER.fullmatch(self.name):
            raise ValueError(
                f"column {self.name!r}: names are lowercase identifiers ([a-z][a-z0-9_]*; a leading _ is the loader's)"
            )
        if self.type not in COLUMN_TYPES:
            raise ValueError(f"column {self.name!r}: type {self.type!r} is not one of {', '.join(COLUMN_TYPES)}")
        if (self.type == "enum") != bool(self.values):
            raise ValueError(f"column {self.name!r}: an enum lists its values, and only an enum does")


@dataclass(frozen=True)
class LandingSource:
    """A landing source (docs/landing.md): folder ``<LOYALTY_LANDING_DIR>/<name>/``, table
    ``raw.<name>``, dbt source ``source('<system>', '<name>')``, base model ``base_<system>__<name>``.

    Raises ValueError when the name or system is not a lowercase identifier, the kind is
    unknown, a column repeats, or the key is empty or names a column the source does not have."""

    name: str
    system: str  # the upstream system = the dbt source the table belongs to
    kind: str  # one of SOURCE_KINDS
    fields: tuple[Column, ...]
    key: tuple[str, ...]

    def __post_init__(self) -> None:
        for label, value in (("name", self.name), ("system", self.system)):
            if not _IDENTIFIER.fullmatch(value):
                raise ValueError(f"landing source {self.name!r}: {label} {value!r} is not a lowercase identifier")
        names = [column.name for column in self.fields]
        problems = [] if self.kind in SOURCE_KINDS else [f"kind {self.kind!r} is not one of {', '.join(SOURCE_KINDS)}"]
        problems += [f"column {name!r} is listed twice" for name in sorted({n for n in names if names.count(n) > 1})]
        problems += [f"key column {name!r} is not one of its columns" for name in self.key if name not in names]
        problems += ["the key names no column"] if not self.key else []
        if problems:
            raise ValueError(f"landing source {self.name!r}: {'; '.join(problems)}")

    @property
    def columns(self) -> tuple[str, ...]:
        """The column names in landing (and raw table) order."""
        return tuple(column.name for column in self.fields)

    @property
    def base_model(self) -> str:
        """The dbt staging model that parses and quarantines this source's delivered rows."""
        return f"base_{self.system}__{self.name}"


# Columns the loader adds to every raw table, in this order.
LOAD_COLUMNS: tuple[str, ...] = (
    "_file_sequence",
    "_source_file",
    "_source_row_number",
    "_load_id",
    "_loaded_at",
)

FILE_SUFFIXES = (".parquet", ".csv")

SOURCES: dict[str, LandingSource] = {
    source.name: source
    for source in (
        LandingSource(
            name="members",
            system="loyalty",
            kind="dimension",
            fields=(
                Column("account_id", "text"),
                Column("email", "text", nullable=True),  # personal data
                Column("enrolled_at", "timestamp"),
                Column("home_store_id", "text", nullable=True),
                Column("status", "enum", values=("active", "closed")),
            ),
            key=("account_id",),
        ),
        LandingSource(
            name="stores",
            system="commerce",
            kind="dimension",
            fields=(
                Column("store_id", "text"),
                Column("store_name", "text", nullable=True),
                Column("region", "text", nullable=True),
                Column("opened_on", "date"),
                Column("closed_on", "date", nullable=True),  # first day closed
            ),
            key=("store_id",),
        ),
        LandingSource(
            name="orders",
            system="commerce",
            kind="change_feed",
            fields=(
                Column("order_id", "text"),
                Column("account_id", "text", nullable=True),  # null = guest
                Column("store_id", "text"),
                Column("channel", "enum", values=("store", "online")),
                Column("status", "enum", values=("placed", "completed", "cancelled", "returned")),
                Column("currency", "text"),  # ISO 4217
                Column("net_amount", "decimal"),  # >= 0
                Column("ordered_at", "timestamp"),
                Column("updated_at", "timestamp"),
            ),
            key=("order_id", "updated_at"),
        ),
        LandingSource(
            name="ledger_events",
            system="loyalty",
            kind="fact",
            fields=(
                Column("event_id", "text"),
                Column("account_id", "text"),
                Column("event_type", "enum", values=("earn", "redeem", "expire", "correct", "reverse")),
                Column("points", "integer"),  # signed
                Column("occurred_at", "timestamp"),
                Column("recorded_at", "timestamp"),
                Column("order_id", "text", nullable=True),
                Column("reverses_event_id", "text", nullable=True),
                Column("source", "text", nullable=True),  # the posting system
            ),
            key=("event_id",),
        ),
        LandingSource(
            name="wallet_transactions",
            system="wallet",
            kind="fact",
            fields=(
                Column("txn_id", "text"),
                Column("account_id", "text"),
                Column("currency", "text"),  # ISO 4217
                Column("txn_type", "enum", values=("top_up", "spend", "refund", "cashback", "adjust")),
                Column("amount", "decimal"),  # signed
                Column("occurred_at", "timestamp"),
                Column("recorded_at", "timestamp"),
                Column("order_id", "text", nullable=True),
            ),
            key=("txn_id",),
        ),
        LandingSource(
            name="balance_snapshots",
            system="loyalty",
            kind="fact",
            fields=(
                Column("account_id", "text"),
                Column("balance_type", "enum", values=("points", "wallet")),
                Column("currency", "text", nullable=True),  # ISO 4217; null for points
                Column("balance", "decimal"),
                Column("as_of", "timestamp"),
            ),
            key=("account_id", "balance_type", "currency", "as_of"),
        ),
        LandingSource(
            name="store_operations",
            system="commerce",
            kind="fact",
            fields=(
                Column("store_id", "text"),
                Column("business_date", "date"),
                Column("metric", "text"),  # long format: a new metric needs no schema change
                Column("value", "decimal"),
            ),
            key=("store_id", "business_date", "metric"),
        ),
        LandingSource(
            name="store_targets",
            system="commerce",
            kind="dimension",
            fields=(
                Column("store_id", "text"),
                Column("period_month", "date"),  # first of month
                Column("metric", "text"),
                Column("target", "decimal"),
            ),
            key=("store_id", "period_month", "metric"),
        ),
    )
}
