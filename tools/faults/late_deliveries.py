"""The clean landing folder of the re-delivery, determinism and personal-data parts
(docs/reliability.md#re-delivery-and-order): a generated landing folder completed with the files
the late and dimension scenarios deliver after a publish (``write_extras``), and the readers of
landing files and ground truth those scenarios share."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import duckdb

# the clean landing folder's extra files (write_extras): late orders of the last evaluated
# month, and dimension updates (a store closing inside it, a member closing the account)
LATE_ORDERS = "orders/zz-late-orders.csv"
STORE_CLOSING = "stores/zz-closing.csv"
MEMBER_CLOSING = "members/zz-closing.csv"

# ---------------------------------------------------------------- the clean landing folder


def _read(connection: duckdb.DuckDBPyConnection, path: Path) -> duckdb.DuckDBPyRelation:
    if path.suffix == ".parquet":
        return connection.sql(f"select * from read_parquet('{path}')")
    return connection.sql(f"select * from read_csv('{path}', all_varchar = true, header = true)")


def read_rows(path: Path) -> list[dict[str, str]]:
    with duckdb.connect() as connection:
        relation = _read(connection, path)
        names = relation.columns
        return [
            {name: "" if value is None else str(value) for name, value in zip(names, row, strict=True)}
            for row in relation.fetchall()
        ]


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def _current_rows(landing: Path, source: str, key: str) -> dict[str, dict[str, str]]:
    """The latest delivered row per key of a dimension, files in load order (name)."""
    current: dict[str, dict[str, str]] = {}
    for path in sorted((landing / source).iterdir()):
        for row in read_rows(path):
            current[row[key]] = row
    return current


def evaluated_month(truth: Path) -> date:
    """The last incentive month the generated data evaluates (its ground truth)."""
    with (truth / "store_eligibility.csv").open(newline="", encoding="utf-8") as handle:
        return max(date.fromisoformat(row["period_month"]) for row in csv.DictReader(handle))


def _eligible_open_stores(landing: Path, truth: Path, month: date) -> list[str]:
    with (truth / "store_eligibility.csv").open(newline="", encoding="utf-8") as handle:
        eligible = sorted(
            row["store_id"]
            for row in csv.DictReader(handle)
            if row["period_month"] == month.isoformat() and row["eligible"] == "true"
        )
    stores = _current_rows(landing, "stores", "store_id")
    untouched = _untouched_keys(truth, "stores")
    return [store for store in eligible if store in stores and not stores[store]["closed_on"] and store in untouched]


def _untouched_keys(truth: Path, source: str) -> set[str]:
    """Keys of a dimension the generator delivered once, valid and unchanged (not in its
    rejected rows nor in its dimension changes): their current row is their only row."""
    keys_file = {"stores": "stores.csv", "members": "members.csv"}[source]
    key = {"stores": "store_id", "members": "account_id"}[source]
    with (truth / keys_file).open(newline="", encoding="utf-8") as handle:
        keys = {row[key] for row in csv.DictReader(handle) if row["expected_versions"] == "1"}
    touched = set()
    for name in ("rejected_rows.csv", "dimension_changes.csv"):
        with (truth / name).open(newline="", encoding="utf-8") as handle:
            touched |= {row["row_key"] for row in csv.DictReader(handle) if row["source"] == source}
    return keys - touched


def write_extras(landing: Path, truth: Path) -> None:
    """Complete a generated landing folder with the files the late and dimension scenarios
    deliver after the publish: returned guest orders of the last evaluated month at an eligible
    store (more than its completed orders: its return rate fails), that month's second eligible
    store re-delivered with closed_on on the 11th, and an active member re-delivered closed.
    Raises ValueError when the data has fewer than two eligible open stores that month."""
    month = evaluated_month(truth)
    stores = _eligible_open_stores(landing, truth, month)
    if len(stores) < 2:
        raise ValueError(f"{month}: fewer than two eligible open stores ({stores}); generate more data")
    returning, closing = stores[0], stores[1]
    orders = [row for path in sorted((landing / "orders").iterdir()) for row in read_rows(path)]
    in_month = {
        row["order_id"]
        for row in orders
        if row["store_id"] == returning and row["ordered_at"][:7] == month.isoformat()[:7]
    }
    currency = next(row["currency"] for row in orders if row["store_id"] == returning)
    day = month.isoformat()
    placed_returned = (f"{day}T10:00:00Z", f"{day}T18:00:00Z")
    header = ["order_id", "account_id", "store_id", "channel", "status", "currency", "net_amount"]
    _write_csv(
        landing / LATE_ORDERS,
        [*header, "ordered_at", "updated_at"],
        [
            [f"LATE{number:05d}", "", returning, "store", "returned", currency, "10.00", *placed_returned]
            for number in range(len(in_month) + 1)
        ],
    )
    store = _current_rows(landing, "stores", "store_id")[closing]
    _write_csv(
        landing / STORE_CLOSING,
        ["store_id", "store_name", "region", "opened_on", "closed_on"],
        [[closing, store["store_name"], store["region"], store["opened_on"][:10], month.replace(day=11).isoformat()]],
    )
    members = _current_rows(landing, "members", "account_id")
    with (truth / "members.csv").open(newline="", encoding="utf-8") as handle:
        active = sorted(row["account_id"] for row in csv.DictReader(handle) if row["expected_status"] == "active")
    untouched = _untouched_keys(truth, "members")
    account = next(
        account
        for account in active
        if account in members and members[account]["status"] == "active" and account in untouched
    )
    member = members[account]
    _write_csv(
        landing / MEMBER_CLOSING,
        ["account_id", "email", "enrolled_at", "home_store_id", "status"],
        [[account, member["email"], member["enrolled_at"], member["home_store_id"], "closed"]],
    )
