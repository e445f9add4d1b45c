"""The landing zone of CONTRACT.md §2: which sources exist, their columns and keys.

This is the only place the Python side knows the landing layout; the dbt sources in
``models/staging/*/_*__sources.yml`` declare the same columns, and a test keeps them equal.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LandingSource:
    name: str
    system: str  # the dbt source (upstream system) the table belongs to
    columns: tuple[str, ...]
    key: tuple[str, ...]


SOURCES: dict[str, LandingSource] = {
    source.name: source
    for source in (
        LandingSource(
            "members",
            "loyalty",
            ("account_id", "email", "enrolled_at", "home_store_id", "status"),
            ("account_id",),
        ),
        LandingSource(
            "stores",
            "commerce",
            ("store_id", "store_name", "region", "opened_on", "closed_on"),
            ("store_id",),
        ),
        LandingSource(
            "orders",
            "commerce",
            (
                "order_id",
                "account_id",
                "store_id",
                "channel",
                "status",
                "currency",
                "net_amount",
                "ordered_at",
                "updated_at",
            ),
            ("order_id", "updated_at"),
        ),
        LandingSource(
            "ledger_events",
            "loyalty",
            (
                "event_id",
                "account_id",
                "event_type",
                "points",
                "occurred_at",
                "recorded_at",
                "order_id",
                "reverses_event_id",
                "source",
            ),
            ("event_id",),
        ),
        LandingSource(
            "wallet_transactions",
            "wallet",
            (
                "txn_id",
                "account_id",
                "currency",
                "txn_type",
                "amount",
                "occurred_at",
                "recorded_at",
                "order_id",
            ),
            ("txn_id",),
        ),
        LandingSource(
            "balance_snapshots",
            "loyalty",
            ("account_id", "balance_type", "currency", "balance", "as_of"),
            ("account_id", "balance_type", "currency", "as_of"),
        ),
        LandingSource(
            "store_operations",
            "commerce",
            ("store_id", "business_date", "metric", "value"),
            ("store_id", "business_date", "metric"),
        ),
        LandingSource(
            "store_targets",
            "commerce",
            ("store_id", "period_month", "metric", "target"),
            ("store_id", "period_month", "metric"),
        ),
    )
}

# Columns the loader adds to every raw table, in this order.
LOAD_COLUMNS: tuple[str, ...] = (
    "_file_sequence",
    "_source_file",
    "_source_row_number",
    "_load_id",
    "_loaded_at",
)

FILE_SUFFIXES = (".parquet", ".csv")
