"""The sample-data generator: deterministic, refuses bad arguments, and its ground truth holds.

The truth is re-derived here from the landing files alone (DuckDB and a few lines of Python),
without the generator's own code, so a generator that labels a fault wrongly fails these tests.
"""

from __future__ import annotations

import csv
import filecmp
import hashlib
import itertools
import json
import math
import random
import re
import statistics
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
import yaml

from loyalty.landing.contract import SOURCES as LANDING_SOURCES
from tools.sample_data import feeds
from tools.sample_data.__main__ import main
from tools.sample_data.program import (
    TIERS,
    FifoLots,
    Movement,
    StoreMonth,
    accrual_status,
    drift_status,
    expected_expiries,
    expiry_status,
    reconcile,
    replayed_expiries,
    store_eligibility,
)
from tools.sample_data.tile import EMAIL_COLUMNS, ID_COLUMNS, copy_label, relation, tile

from conftest import PROJECT_DIR

SMALL = ["--accounts", "150", "--months", "20", "--seed", "7", "--start", "2024-01"]
SOURCES = (
    "members",
    "stores",
    "orders",
    "ledger_events",
    "wallet_transactions",
    "balance_snapshots",
    "store_operations",
    "store_targets",
)
TYPES = {
    "members": {
        "account_id": "varchar",
        "email": "varchar",
        "enrolled_at": "timestamptz",
        "home_store_id": "varchar",
        "status": "varchar",
    },
    "stores": {
        "store_id": "varchar",
        "store_name": "varchar",
        "region": "varchar",
        "opened_on": "date",
        "closed_on": "date",
    },
    "orders": {
        "order_id": "varchar",
        "account_id": "varchar",
        "store_id": "varchar",
        "channel": "varchar",
        "status": "varchar",
        "currency": "varchar",
        "net_amount": "decimal(18,2)",
        "ordered_at": "timestamptz",
        "updated_at": "timestamptz",
    },
    "ledger_events": {
        "event_id": "varchar",
        "account_id": "varchar",
        "event_type": "varchar",
        "points": "bigint",
        "occurred_at": "timestamptz",
        "recorded_at": "timestamptz",
        "order_id": "varchar",
        "reverses_event_id": "varchar",
        "source": "varchar",
    },
    "wallet_transactions": {
        "txn_id": "varchar",
        "account_id": "varchar",
        "currency": "varchar",
        "txn_type": "varchar",
        "amount": "decimal(18,2)",
        "occurred_at": "timestamptz",
        "recorded_at": "timestamptz",
        "order_id": "varchar",
    },
    "balance_snapshots": {
        "account_id": "varchar",
        "balance_type": "varchar",
        "currency": "varchar",
        "balance": "decimal(18,2)",
        "as_of": "timestamptz",
    },
    "store_operations": {"store_id": "varchar", "business_date": "date", "metric": "varchar", "value": "decimal(18,2)"},
    "store_targets": {"store_id": "varchar", "period_month": "date", "metric": "varchar", "target": "decimal(18,2)"},
}


def run(*args: str) -> int:
    return main(list(args))


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("sample")
    assert run("--out", str(base / "landing"), "--truth", str(base / "truth"), *SMALL) == 0
    return base / "landing", base / "truth"


def read_truth(truth: Path, name: str) -> list[dict[str, str]]:
    with (truth / name).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


# --- the command line ----------------------------------------------------------------------
def tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_same_arguments_write_the_same_bytes(generated: tuple[Path, Path], tmp_path: Path) -> None:
    landing, truth = generated
    assert run("--out", str(tmp_path / "landing"), "--truth", str(tmp_path / "truth"), *SMALL) == 0
    for first, second in ((landing, tmp_path / "landing"), (truth, tmp_path / "truth")):
        names = tree(first)
        assert names == tree(second) and names
        _, mismatch, errors = filecmp.cmpfiles(first, second, names, shallow=False)
        assert mismatch == [] and errors == []


def test_another_seed_writes_other_data(generated: tuple[Path, Path], tmp_path: Path) -> None:
    landing, _ = generated
    other = [*SMALL[:4], "--seed", "8", *SMALL[6:]]
    assert run("--out", str(tmp_path / "landing"), "--truth", str(tmp_path / "truth"), *other) == 0
    first = (landing / "ledger_events" / "2024-03.parquet").read_bytes()
    assert first != (tmp_path / "landing" / "ledger_events" / "2024-03.parquet").read_bytes()


def test_truth_inside_landing_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    landing = tmp_path / "landing"
    assert run("--out", str(landing), "--truth", str(landing / "truth"), *SMALL) == 2
    assert "--truth" in capsys.readouterr().err
    assert not landing.exists()
    assert run("--out", str(landing), "--truth", str(landing), *SMALL) == 2


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--accounts", "5"], "--accounts"),
        (["--months", "2"], "--months"),
        (["--start", "2024-13"], "--start"),
        (["--seed", "-1"], "--seed"),
    ],
)
def test_a_bad_argument_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], named: str
) -> None:
    assert run("--out", str(tmp_path / "l"), "--truth", str(tmp_path / "t"), *args) == 2
    assert named in capsys.readouterr().err
    assert not (tmp_path / "l").exists()


def test_a_malformed_number_exits_2(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run("--out", str(tmp_path / "l"), "--truth", str(tmp_path / "t"), "--accounts", "many")
    assert exit_info.value.code == 2


def test_an_earlier_run_is_only_replaced_when_asked(
    generated: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--out", str(tmp_path / "l"), "--truth", str(tmp_path / "t"), *SMALL]
    assert run(*args) == 0
    assert run(*args) == 2
    assert "--overwrite" in capsys.readouterr().err
    (tmp_path / "l" / "orders" / "stray.csv").write_text("x\n")
    assert run(*args, "--overwrite") == 0
    assert not (tmp_path / "l" / "orders" / "stray.csv").exists()
    assert tree(tmp_path / "l") == tree(generated[0])


# --- the truth covers every class ------------------------------------------------------------
def test_every_fault_class_is_in_the_truth(generated: tuple[Path, Path]) -> None:
    landing, truth = generated
    balances = read_truth(truth, "balances.csv")
    for balance_type, currency in (("points", ""), ("wallet", "EUR"), ("wallet", "GBP")):
        rows = [r for r in balances if (r["balance_type"], r["currency"]) == (balance_type, currency)]
        classes = {(r["expected_status"], r["expected_cause"]) for r in rows}
        for cause in (
            "double_posted_event",
            "missing_correction",
            "rejected_movement",
            "stale_snapshot",
            "missing_ledger_event",
            "unexplained",
        ):
            assert ("minor_drift", cause) in classes, (balance_type, currency, cause)
            assert ("material_mismatch", cause) in classes, (balance_type, currency, cause)
        assert ("missing_snapshot", "none") in classes
        assert any(r["expected_status"] == "in_balance" and Decimal(r["expected_drift"]) != 0 for r in rows)
        assert sum(r["expected_status"] == "in_balance" and Decimal(r["expected_drift"]) == 0 for r in rows) > 10
    statuses = {r["expected_status"] for r in read_truth(truth, "order_accruals.csv")}
    assert statuses == {
        "ok",
        "missing_earn",
        "duplicate_earn",
        "amount_mismatch",
        "unreversed_cancellation",
        "earn_on_open_order",
    }
    rejected = read_truth(truth, "rejected_rows.csv")
    reasons: dict[str, set[str]] = defaultdict(set)
    for row in rejected:
        reasons[row["reason"]].add(row["source"])
    assert set(reasons) == {
        "missing_key",
        "unknown_enum",
        "wrong_sign",
        "unparseable_number",
        "unparseable_timestamp",
        "recorded_before_occurred",
        "unknown_account",
        "unknown_store",
        "conflicting_duplicate",
    }
    assert all(len(sources) >= 2 for sources in reasons.values())
    # a dimension delivered again with another payload is a new version, never a conflict
    assert not reasons["conflicting_duplicate"] & {"members", "stores", "store_targets"}
    kinds = Counter(row["kind"] for row in read_truth(truth, "dimension_changes.csv"))
    assert set(kinds) == {"store_closed", "store_renamed", "member_closed", "member_email_changed", "target_corrected"}
    assert read_truth(truth, "duplicates.csv") and read_truth(truth, "duplicate_files.csv")
    for source in SOURCES:
        suffixes = {p.suffix for p in (landing / source).iterdir()}
        assert suffixes == {".csv", ".parquet"}, source
    summary = json.loads((truth / "summary.json").read_text())
    assert summary["tier_changes"]["members_upgraded"] > 0 and summary["tier_changes"]["members_downgraded"] > 0
    assert len(summary["clawback_accounts"]) >= 1
    reinstated = summary["reinstated_accounts"]
    assert {kind: len(accounts) >= 1 for kind, accounts in reinstated.items()} == {
        "reversal": True,
        "partial": True,
        "past_due": True,
        "tier": True,
    }
    assert len(summary["recompleted_orders"]) >= 2
    for outcome in (
        "eligible",
        "failed_consistency",
        "not_open_whole_month",
        "failed_net_sales",
        "failed_audit_score",
        "failed_on_time_open",
        "failed_return_rate",
    ):
        assert summary["store_eligibility"].get(outcome, 0) > 0, outcome


# --- an independent reading of the landing files ---------------------------------------------
MOVEMENT_SOURCES = ("ledger_events", "wallet_transactions")
# the dimensions (docs/landing.md#same-key-different-payload): the latest delivery of a key is its state
DIMENSION_KEYS = {
    "members": "account_id",
    "stores": "store_id",
    "store_targets": "store_id, period_month, metric",
}


def load_valid(con: duckdb.DuckDBPyConnection, landing: Path, truth: Path) -> dict[str, int]:
    """Create one typed table per source with the rows a correct loader keeps: rejected rows
    out, copies of files skipped, exact repeats of earlier rows skipped (first delivery wins).
    For a dimension the table holds each key's current state (its latest delivery) and
    ``<source>_versions`` every delivery that changed it. The rejected rows of the movement
    sources go, as text, into rejected_<source>."""
    rejected = {(r["file"], int(r["row_number"])) for r in read_truth(truth, "rejected_rows.csv")}
    copies = {r["file"] for r in read_truth(truth, "duplicate_files.csv")}
    repeats: dict[str, int] = {}
    con.execute("set TimeZone = 'UTC'")
    for source in SOURCES:
        columns = TYPES[source]
        parts = []
        rejected_text: dict[str, list] = {name: [] for name in columns}
        for sequence, path in enumerate(sorted((landing / source).iterdir())):
            relative = f"{source}/{path.name}"
            if relative in copies:
                continue
            if path.suffix == ".csv":
                with path.open(newline="", encoding="utf-8") as handle:
                    every_row = list(enumerate(csv.DictReader(handle), start=1))
                rows = [(n, row) for n, row in every_row if (relative, n) not in rejected]
                for name in columns:
                    rejected_text[name] += [row[name] or None for n, row in every_row if (relative, n) in rejected]
                text = {name: [row[name] or None for _, row in rows] for name in columns}
                text["row_number"] = [n for n, _ in rows]
                con.register("text_rows", pa.table(text))
                select = ", ".join(f"cast({name} as {kind}) as {name}" for name, kind in columns.items())
                table = con.sql(f"select {select}, row_number from text_rows").to_arrow_table()
                con.unregister("text_rows")
            else:
                select = ", ".join(columns)
                table = con.sql(
                    f"select {select}, file_row_number + 1 as row_number "
                    f"from read_parquet('{path}', file_row_number = true)"
                ).to_arrow_table()
                keep = [(relative, int(n)) not in rejected for n in table.column("row_number").to_pylist()]
                dropped = table.filter(pa.array([not k for k in keep]))
                for name in columns:
                    rejected_text[name] += [as_csv_text(v) or None for v in dropped.column(name).to_pylist()]
                table = table.filter(pa.array(keep))
            table = table.append_column("file", pa.array([relative] * table.num_rows, pa.string()))
            table = table.append_column("sequence", pa.array([sequence] * table.num_rows, pa.int64()))
            parts.append(table)
        if source in MOVEMENT_SOURCES:
            con.register("text_rows", pa.table({n: pa.array(v, pa.string()) for n, v in rejected_text.items()}))
            con.execute(f"create or replace table rejected_{source} as select * from text_rows")
            con.unregister("text_rows")
        con.register("all_rows", pa.concat_tables(parts))
        names = ", ".join(columns)
        if source in DIMENSION_KEYS:
            key = DIMENSION_KEYS[source]
            # a version = a delivery whose payload differs from its key's previous delivery
            previous = f"lag(({names})) over (partition by {key} order by sequence, row_number)"
            con.execute(
                f"create or replace table {source}_versions as select {names}, file, row_number, sequence from ("
                f"select *, {previous} as previous from all_rows) where previous is distinct from ({names})"
            )
            con.execute(
                f"create or replace table {source} as select {names}, file, row_number from {source}_versions "
                f"qualify row_number() over (partition by {key} order by sequence desc, row_number desc) = 1"
            )
            repeated = con.execute(
                f"select file, count(*) from (select *, {previous} as previous from all_rows) "
                f"where previous is not distinct from ({names}) group by file"
            ).fetchall()
            repeats.update({file: count for file, count in repeated})
            con.unregister("all_rows")
            continue
        con.execute(
            f"create or replace table {source} as select {names}, file, row_number from ("
            f"select *, row_number() over (partition by {names} order by sequence, row_number) as copy "
            f"from all_rows) where copy = 1"
        )
        repeated = con.execute(
            f"select file, count(*) from (select *, row_number() over (partition by {names} "
            f"order by sequence, row_number) as copy from all_rows) where copy > 1 group by file"
        ).fetchall()
        repeats.update({file: count for file, count in repeated})
        con.unregister("all_rows")
    return repeats


@pytest.fixture(scope="module")
def warehouse(generated: tuple[Path, Path]) -> tuple[duckdb.DuckDBPyConnection, dict[str, int]]:
    landing, truth = generated
    con = duckdb.connect()
    repeats = load_valid(con, landing, truth)
    return con, repeats


def test_dimension_truth_is_the_latest_delivery(generated: tuple[Path, Path], warehouse: tuple) -> None:
    """members.csv, stores.csv and store_targets.csv hold each key's latest delivery and its
    number of versions; every change of dimension_changes.csv is a version in its file and row."""
    _, truth = generated
    con, _ = warehouse
    members = {
        row["account_id"]: (row["expected_status"], int(row["expected_versions"]))
        for row in read_truth(truth, "members.csv")
    }
    assert members == {
        account: (status, versions)
        for account, status, versions in con.execute(
            "select account_id, arg_max(status, sequence * 1000000 + row_number), count(*)"
            " from members_versions group by account_id"
        ).fetchall()
    }
    assert {status for status, _ in members.values()} == {"active", "closed"}
    stores = {
        row["store_id"]: (row["expected_closed_on"], int(row["expected_versions"]))
        for row in read_truth(truth, "stores.csv")
    }
    got_stores = {
        store: (str(closed_on or ""), versions)
        for store, closed_on, versions in con.execute(
            "select s.store_id, s.closed_on, count(*) from stores as s join stores_versions as v using (store_id)"
            " group by s.store_id, s.closed_on"
        ).fetchall()
    }
    assert got_stores == stores
    # a store that closes was first delivered open
    first_open = con.execute(
        "select count(*) from stores_versions as v join stores as s using (store_id)"
        " where s.closed_on is not null and v.closed_on is null"
    ).fetchone()[0]
    assert first_open == sum(1 for closed_on, _ in stores.values() if closed_on)
    targets = {
        (row["store_id"], row["period_month"], row["metric"]): (
            Decimal(row["expected_target"]),
            int(row["expected_versions"]),
        )
        for row in read_truth(truth, "store_targets.csv")
    }
    got_targets = {
        (store, str(month), metric): (target, versions)
        for store, month, metric, target, versions in con.execute(
            "select t.store_id, t.period_month, t.metric, t.target, count(*) from store_targets as t"
            " join store_targets_versions as v using (store_id, period_month, metric) group by all"
        ).fetchall()
    }
    assert got_targets == targets
    assert max(versions for _, versions in targets.values()) == 3, "a target corrected twice in one file"
    for row in read_truth(truth, "dimension_changes.csv"):
        key = {"members": "account_id", "stores": "store_id"}.get(
            row["source"], "concat_ws('|', store_id, period_month, metric)"
        )
        found = con.execute(
            f"select {key} from {row['source']}_versions where file = ? and row_number = ?",
            [row["file"], int(row["row_number"])],
        ).fetchall()
        assert [(row["row_key"],)] == found, row


def test_valid_rows_keep_their_keys_unique(warehouse: tuple) -> None:
    con, _ = warehouse
    keys = {
        "members": "account_id",
        "stores": "store_id",
        "orders": "order_id, updated_at",
        "ledger_events": "event_id",
        "wallet_transactions": "txn_id",
        "balance_snapshots": "account_id, balance_type, coalesce(currency, ''), as_of",
        "store_operations": "store_id, business_date, metric",
        "store_targets": "store_id, period_month, metric",
    }
    for source, key in keys.items():
        assert (
            con.execute(
                f"select count(*) from (select {key} from {source} group by all having count(*) > 1)"
            ).fetchone()[0]
            == 0
        ), source
        assert con.execute(f"select count(*) from {source} where {key.split(',')[0]} is null").fetchone()[0] == 0


def test_exact_duplicates_and_copies_match_the_truth(generated: tuple[Path, Path], warehouse: tuple) -> None:
    landing, truth = generated
    _, repeats = warehouse
    assert repeats == {r["file"]: int(r["exact_duplicate_rows"]) for r in read_truth(truth, "duplicates.csv")}
    for row in read_truth(truth, "duplicate_files.csv"):
        assert (landing / row["file"]).read_bytes() == (landing / row["copy_of"]).read_bytes()


def test_rejected_rows_are_where_the_truth_says(generated: tuple[Path, Path]) -> None:
    landing, truth = generated
    keys = {
        "members": ["account_id"],
        "stores": ["store_id"],
        "orders": ["order_id", "updated_at"],
        "ledger_events": ["event_id"],
        "wallet_transactions": ["txn_id"],
        "balance_snapshots": ["account_id", "balance_type", "currency", "as_of"],
        "store_operations": ["store_id", "business_date", "metric"],
        "store_targets": ["store_id", "period_month", "metric"],
    }
    con = duckdb.connect()
    for row in read_truth(truth, "rejected_rows.csv"):
        path = landing / row["file"]
        if path.suffix == ".csv":
            with path.open(newline="", encoding="utf-8") as handle:
                record = list(csv.DictReader(handle))[int(row["row_number"]) - 1]
        else:
            con.execute("set TimeZone = 'UTC'")
            cursor = con.execute(f"select * from read_parquet('{path}') limit 1 offset {int(row['row_number']) - 1}")
            values = cursor.fetchone()
            record = {column[0]: as_csv_text(value) for column, value in zip(cursor.description, values, strict=True)}
        key = "|".join(str(record[name] or "") for name in keys[row["source"]])
        assert key == row["row_key"], row
        if row["reason"] == "missing_key":
            assert record[keys[row["source"]][0]] in ("", None)


def as_csv_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def test_ledger_sign_rules_hold_for_valid_rows(warehouse: tuple) -> None:
    con, _ = warehouse
    broken = con.execute("""
        select count(*) from ledger_events as e
        left join ledger_events as r on e.reverses_event_id = r.event_id
        where (e.event_type = 'earn' and e.points <= 0)
           or (e.event_type in ('redeem', 'expire') and e.points >= 0)
           or (e.event_type = 'correct' and e.points = 0)
           or (e.event_type = 'reverse' and (r.event_id is null or sign(r.points) = sign(e.points)))
           or e.recorded_at < e.occurred_at
    """).fetchone()[0]
    assert broken == 0
    wallet = con.execute("""
        select count(*) from wallet_transactions
        where (txn_type in ('top_up', 'refund', 'cashback') and amount <= 0) or (txn_type = 'spend' and amount >= 0)
           or recorded_at < occurred_at
    """).fetchone()[0]
    assert wallet == 0


def reconcile_sql(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str, str], tuple[str, str, Decimal | None]]:
    """The reconciliation of docs/marts.md#fct_balance_reconciliation, written straight in SQL from
    the typed landing tables."""
    rows = con.execute("""
        with movements as (
            select account_id, 'points' as balance_type, '' as currency, event_id as movement_id, event_type as kind,
                   cast(points as decimal(18, 2)) as amount, occurred_at, recorded_at, order_id
            from ledger_events
            union all
            select account_id, 'wallet', currency, txn_id, txn_type, amount, occurred_at, recorded_at, order_id
            from wallet_transactions
        ),
        latest as (
            select account_id, balance_type, coalesce(currency, '') as currency, balance, as_of
            from balance_snapshots
            qualify row_number() over (partition by account_id, balance_type, currency order by as_of desc) = 1
        ),
        holders as (
            select distinct account_id, balance_type, currency from movements
            union select account_id, balance_type, currency from latest
        ),
        seen as (
            select m.*, l.balance, l.as_of,
                   sum(m.amount) over (partition by m.account_id, m.balance_type, m.currency
                                       order by m.recorded_at, m.movement_id) as running,
                   row_number() over (partition by m.account_id, m.balance_type, m.currency
                                      order by m.recorded_at desc, m.movement_id desc) as from_last
            from movements as m join latest as l using (account_id, balance_type, currency)
            where m.recorded_at <= l.as_of
        ),
        computed as (
            select h.account_id, h.balance_type, h.currency, l.balance, l.as_of,
                   coalesce((select sum(amount) from seen as s where s.account_id = h.account_id
                             and s.balance_type = h.balance_type and s.currency = h.currency), 0) as computed
            from holders as h left join latest as l using (account_id, balance_type, currency)
        ),
        twins as (
            select account_id, balance_type, currency, amount from seen
            group by account_id, balance_type, currency, kind, amount, coalesce(order_id, cast(occurred_at as varchar))
            having count(*) > 1
        ),
        quarantined as (  -- rejected movement rows whose account and amount parse, not a re-delivery of a held key
            select * from (
                select trim(account_id) as account_id, 'points' as balance_type, '' as currency,
                       cast(try_cast(points as bigint) as decimal(18, 2)) as amount,
                       try_cast(recorded_at as timestamptz) as recorded_at, event_id as movement_id
                from rejected_ledger_events
                where event_id is null or event_id not in (select event_id from ledger_events)
                union all
                select trim(account_id), 'wallet', trim(currency), try_cast(amount as decimal(18, 2)),
                       try_cast(recorded_at as timestamptz), txn_id
                from rejected_wallet_transactions
                where txn_id is null or txn_id not in (select txn_id from wallet_transactions)
            ) where account_id is not null and amount is not null and recorded_at is not null
        ),
        earlier as (  -- the balance before the first movement, and after every movement but the last
            select account_id, balance_type, currency, 0 as balance_then from seen
            union all
            select account_id, balance_type, currency, running from seen where from_last > 1
        )
        select c.account_id, c.balance_type, c.currency, c.balance, c.balance - c.computed as drift,
               exists (select 1 from twins as t where t.account_id = c.account_id and t.balance_type = c.balance_type
                       and t.currency = c.currency and t.amount = -(c.balance - c.computed)) as twin,
               exists (select 1 from seen as s where s.account_id = c.account_id and s.balance_type = c.balance_type
                       and s.currency = c.currency and s.kind in ('correct', 'adjust')
                       and s.amount = -(c.balance - c.computed)) as correction,
               exists (select 1 from quarantined as q where q.account_id = c.account_id
                       and q.balance_type = c.balance_type and q.currency = c.currency
                       and q.recorded_at <= c.as_of and q.amount = c.balance - c.computed) as quarantined,
               exists (select 1 from earlier as e where e.account_id = c.account_id
                       and e.balance_type = c.balance_type and e.currency = c.currency
                       and e.balance_then = c.balance) as stale
        from computed as c
    """).fetchall()
    out = {}
    for account, balance_type, currency, balance, drift, twin, correction, quarantined, stale in rows:
        if balance is None:
            out[(account, balance_type, currency)] = ("missing_snapshot", "none", None)
            continue
        status = drift_status(int(drift * (100 if balance_type == "wallet" else 1)), balance_type)
        if status == "in_balance":
            cause = "none"
        elif twin:
            cause = "double_posted_event"
        elif correction:
            cause = "missing_correction"
        elif quarantined:
            cause = "rejected_movement"
        elif stale:
            cause = "stale_snapshot"
        else:
            cause = "missing_ledger_event" if drift > 0 else "unexplained"
        out[(account, balance_type, currency)] = (status, cause, drift)
    return out


def test_balance_truth_is_what_the_files_say(generated: tuple[Path, Path], warehouse: tuple) -> None:
    _, truth = generated
    con, _ = warehouse
    derived = reconcile_sql(con)
    expected = {
        (r["account_id"], r["balance_type"], r["currency"]): (
            r["expected_status"],
            r["expected_cause"],
            Decimal(r["expected_drift"]) if r["expected_drift"] else None,
        )
        for r in read_truth(truth, "balances.csv")
    }
    assert derived == expected


def test_in_balance_snapshots_equal_the_movements_recorded_by_then(warehouse: tuple, generated: tuple) -> None:
    con, _ = warehouse
    in_balance = {
        (r["account_id"], r["balance_type"], r["currency"])
        for r in read_truth(generated[1], "balances.csv")
        if r["expected_status"] == "in_balance" and Decimal(r["expected_drift"]) == 0
    }
    rows = con.execute("""
        select s.account_id, s.balance_type, coalesce(s.currency, ''), s.balance,
               coalesce((select sum(points) from ledger_events as e where s.balance_type = 'points'
                         and e.account_id = s.account_id and e.recorded_at <= s.as_of), 0)
             + coalesce((select sum(amount) from wallet_transactions as w where s.balance_type = 'wallet'
                         and w.account_id = s.account_id and w.currency = s.currency and w.recorded_at <= s.as_of), 0)
        from balance_snapshots as s
        qualify row_number() over (partition by s.account_id, s.balance_type, s.currency order by s.as_of desc) = 1
    """).fetchall()
    checked = 0
    for account, balance_type, currency, balance, computed in rows:
        if (account, balance_type, currency) in in_balance:
            assert balance == computed
            checked += 1
    assert checked > 100


def test_double_posted_drift_is_minus_the_twin(warehouse: tuple, generated: tuple) -> None:
    con, _ = warehouse
    doubles = [r for r in read_truth(generated[1], "balances.csv") if r["expected_cause"] == "double_posted_event"]
    assert len(doubles) >= 6
    for row in doubles:
        if row["balance_type"] == "points":
            twins = con.execute(f"""
                select b.points from ledger_events as a join ledger_events as b
                  on a.account_id = b.account_id and a.event_type = b.event_type and a.points = b.points
                 and a.event_id < b.event_id
                 and (a.order_id = b.order_id or (a.order_id is null and b.order_id is null
                                                  and a.occurred_at = b.occurred_at))
                where a.account_id = '{row["account_id"]}'""").fetchall()
        else:
            twins = con.execute(f"""
                select b.amount from wallet_transactions as a join wallet_transactions as b
                  on a.account_id = b.account_id and a.currency = b.currency and a.txn_type = b.txn_type
                 and a.amount = b.amount and a.txn_id < b.txn_id and a.occurred_at = b.occurred_at
                where a.account_id = '{row["account_id"]}' and a.currency = '{row["currency"]}'""").fetchall()
        assert [Decimal(row["expected_drift"])] == [-Decimal(t[0]) for t in twins]


def test_tiers_follow_the_ledger(generated: tuple[Path, Path], warehouse: tuple) -> None:
    _, truth = generated
    con, _ = warehouse
    derived = dict(
        ((a, str(m)), (t, q))
        for a, m, t, q in con.execute(
            """
        with months as (
            select distinct cast(date_trunc('month', as_of) as date) as month from balance_snapshots
            union select distinct cast(month as date) from read_csv_auto('"""
            + str(truth / "tiers.csv")
            + """')
        ),
        qualifying as (
            select m.account_id, months.month,
                   coalesce(sum(e.points) filter (where (e.event_type = 'earn' or r.event_type = 'earn')
                       and e.occurred_at >= cast(months.month as timestamptz) - interval 365 days
                       and e.occurred_at < cast(months.month as timestamptz)), 0) as points
            from members as m cross join months
            left join ledger_events as e on e.account_id = m.account_id
            left join ledger_events as r on e.event_type = 'reverse' and r.event_id = e.reverses_event_id
            group by all
        )
        select account_id, month,
               case when month = (select min(month) from months) then 'member'
                    when points >= 15000 then 'platinum' when points >= 5000 then 'gold'
                    when points >= 1000 then 'silver' else 'member' end,
               case when month = (select min(month) from months) then 0 else points end
        from qualifying
    """
        ).fetchall()
    )
    rows = read_truth(truth, "tiers.csv")
    assert len(rows) > 1000
    for row in rows:
        assert derived[(row["account_id"], row["month"])] == (row["tier"], int(row["qualifying_points"])), row
    assert {row["tier"] for row in rows} >= {"member", "silver"}


def test_order_accruals_follow_the_orders_tiers_and_ledger(generated: tuple[Path, Path], warehouse: tuple) -> None:
    _, truth = generated
    con, _ = warehouse
    con.execute(f"create or replace table tiers as select * from read_csv('{truth / 'tiers.csv'}', all_varchar = true)")
    rows = con.execute("""
        with latest as (
            select * from orders where account_id is not null
            qualify row_number() over (partition by order_id order by updated_at desc) = 1
        ),
        earn_nets as (
            select e.order_id, e.points + coalesce(sum(r.points), 0) as net
            from ledger_events as e
            left join ledger_events as r on r.event_type = 'reverse' and r.reverses_event_id = e.event_id
            where e.event_type = 'earn' and e.order_id is not null
            group by e.event_id, e.order_id, e.points
        ),
        posted as (
            select order_id, sum(net) as posted, list(net) as earns from earn_nets group by order_id
        )
        select l.order_id, l.status, coalesce(p.earns, []), coalesce(p.posted, 0),
               case when l.status = 'completed' then cast(floor(floor(l.net_amount) *
                    case t.tier when 'silver' then 1.25 when 'gold' then 1.5 when 'platinum' then 2 else 1 end)
                    as bigint) else 0 end as expected
        from latest as l
        join tiers as t on t.account_id = l.account_id
         and t.month = strftime(date_trunc('month', l.ordered_at), '%Y-%m-01')
        left join posted as p using (order_id)
    """).fetchall()
    derived = {
        order: (accrual_status(status, earns, expected), expected, posted)
        for order, status, earns, posted, expected in rows
    }
    expected = {
        r["order_id"]: (r["expected_status"], int(r["expected_points"]), int(r["posted_points"]))
        for r in read_truth(truth, "order_accruals.csv")
    }
    assert derived == expected


def summary_of(truth: Path) -> dict:
    return json.loads((truth / "summary.json").read_text())


def month_number(first_day: str) -> int:
    return int(first_day[:4]) * 12 + int(first_day[5:7])


def put_lot(lots: list[list[int]], debt: int, lot_month: int, points: int, due: int) -> int:
    """Points into a lot month (they pay a debt first); returns the debt left."""
    paid = min(debt, points)
    if points - paid:
        lots.append([lot_month, points - paid, due])
        lots.sort(key=lambda lot: lot[0])
    return debt - paid


def test_expiries_are_the_fifo_remainders(generated: tuple[Path, Path], warehouse: tuple) -> None:
    """A plain FIFO replay: every month end up to the data's as-of posts what is left of the lots
    due then, except at the injected faults, where the truth holds what was due and what was
    posted. A reverse of a redemption puts its points back into the lots the redemption took,
    newest first; those of a lot already past due are due at the end of the reversal's month."""
    con, _ = warehouse
    faults = {
        (r["account_id"], month_number(r["due_month"])): (int(r["expected_points"]), int(r["posted_points"]))
        for r in read_truth(generated[1], "expiry.csv")
        if r["expected_status"] != "ok"
    }
    assert faults
    events = con.execute("""
        select account_id, event_type, points, event_id, reverses_event_id,
               (year(occurred_at) * 12 + month(occurred_at)) as month_number,
               last_day(occurred_at) = cast(occurred_at as date) and strftime(occurred_at, '%H:%M:%S') = '23:59:59'
        from ledger_events order by account_id, occurred_at, event_id
    """).fetchall()
    # month ends are checked up to the data's as-of: the last month has not ended (--as-of before-month-end)
    last_month = month_number(json.loads((generated[1] / "summary.json").read_text())["as_of"]["last_ended_month"])
    latest = con.execute("select max(year(recorded_at) * 12 + month(recorded_at)) from ledger_events").fetchone()[0]
    assert last_month < latest
    by_account: dict[str, list] = defaultdict(list)
    for row in events:
        by_account[row[0]].append(row[1:])
    expired = reinstated = 0
    checked: dict[tuple[str, int], tuple[int, int]] = {}  # (account, month) -> (remaining, posted)
    for account, rows in by_account.items():
        lots: list[list[int]] = []  # [lot month, points, due month]: a deliberately plain FIFO
        debt = 0
        taken: dict[str, list[list[int]]] = {}  # what each redemption took: [lot month, points]
        postings: dict[int, int] = defaultdict(int)
        for kind, points, _, _, month, _ in rows:
            if kind == "expire":
                postings[month] -= points
        checked_until = rows[0][4] - 1

        for kind, points, event_id, reverses, month, month_end in [*rows, ("end", 0, "", None, last_month + 1, False)]:
            ends = list(range(checked_until + 1, month))  # month ends passed before this event
            if kind == "expire":
                assert month_end
                if month > checked_until:
                    ends.append(month)  # this month ends now: its expiry is posted at 23:59:59
            for boundary in ends:
                remaining = sum(lot[1] for lot in lots if lot[2] == boundary)
                lots[:] = [lot for lot in lots if lot[2] != boundary]
                checked[(account, boundary)] = (remaining, postings.get(boundary, 0))
                expired += remaining
            checked_until = max([checked_until, *ends])
            if kind in ("expire", "end"):
                continue
            if points > 0 and reverses in taken:
                reinstated += points
                for part in reversed(taken[reverses]):  # newest lot first
                    give = min(part[1], points)
                    part[1] -= give
                    points -= give
                    if give:
                        debt = put_lot(lots, debt, part[0], give, max(part[0] + 18, month))
                assert points == 0, "a reversal gives back more than its redemption took"
            elif points > 0:
                debt = put_lot(lots, debt, month, points, month + 18)
            else:
                need, took = -points, []
                while need and lots:
                    take = min(need, lots[0][1])
                    took.append([lots[0][0], take])
                    lots[0][1] -= take
                    need -= take
                    if not lots[0][1]:
                        lots.pop(0)
                debt += need
                taken[event_id] = took
    assert expired > 0 and reinstated > 0
    for key, value in faults.items():
        assert checked[key] == value, key
    wrong = {key: value for key, value in checked.items() if value[0] != value[1] and key not in faults}
    assert wrong == {}


EXPIRY_FAULTS = ("under_expired", "over_expired", "expired_but_spent", "expired_early")


def test_every_expiry_status_is_in_the_truth(generated: tuple[Path, Path]) -> None:
    _, truth = generated
    rows = read_truth(truth, "expiry.csv")
    counts = Counter(r["expected_status"] for r in rows)
    assert set(counts) == {"ok", *EXPIRY_FAULTS}
    assert all(counts[status] >= 2 for status in EXPIRY_FAULTS), counts
    under = [int(r["posted_points"]) for r in rows if r["expected_status"] == "under_expired"]
    assert 0 in under and any(posted > 0 for posted in under)  # one posted nothing at all
    summary = json.loads((truth / "summary.json").read_text())["expiry"]
    assert summary["rows"] == len(rows) and summary["by_status"] == {s: counts[s] for s in ("ok", *EXPIRY_FAULTS)}
    assert "faults_skipped" not in summary
    assert all(r["due_month"].endswith("-01") for r in rows)
    assert len({(r["account_id"], r["due_month"]) for r in rows}) == len(rows)
    # the faulted accounts carry no other fault: in balance, every accrual ok, no clawback
    faulted = {r["account_id"] for r in rows if r["expected_status"] != "ok"}
    for row in read_truth(truth, "balances.csv"):
        if row["account_id"] in faulted and row["balance_type"] == "points":
            assert (row["expected_status"], Decimal(row["expected_drift"])) == ("in_balance", 0), row
    accruals = read_truth(truth, "order_accruals.csv")
    assert all(r["expected_status"] == "ok" for r in accruals if r["account_id"] in faulted)
    assert not faulted & set(json.loads((truth / "summary.json").read_text())["clawback_accounts"])


def test_expiry_truth_is_the_set_based_fifo(generated: tuple[Path, Path], warehouse: tuple) -> None:
    """The warehouse's set-based definition, written again in SQL from the landing rows: lots
    are events with points > 0 (lot month = month of occurred_at), consumption the other negative
    events than expire; S(k) = max(0, max over j <= k of L(j) - C(j)) with C up to the end of
    k + 18; due month k + 18 expects S(k) - S(k - 1) against -Σ expire events of that month, for
    every due month that ended by the data's as-of. It holds for every account without
    reinstated points (a reverse of a redemption puts them back into old lots: the FIFO replay
    above checks those)."""
    _, truth = generated
    con, _ = warehouse
    last_ended = json.loads((truth / "summary.json").read_text())["as_of"]["last_ended_month"]
    rows = con.execute(f"""
        with reinstated as (
            select distinct e.account_id from ledger_events as e
            join ledger_events as r on r.event_id = e.reverses_event_id
            where e.event_type = 'reverse' and e.points > 0
        ),
        events as (
            select account_id, event_type, points, cast(date_trunc('month', occurred_at) as date) as month
            from ledger_events
            where account_id not in (select account_id from reinstated)
        ),
        last_month as (select date '{last_ended}' as last_month),
        lot_months as (
            select account_id, month, sum(points) as lot_points from events where points > 0 group by all
        ),
        consumed as (
            select account_id, month, -sum(points) as points
            from events where points < 0 and event_type <> 'expire' group by all
        ),
        posted as (
            select account_id, month as due_month, -sum(points) as posted
            from events where event_type = 'expire' group by all
        ),
        calendar as (
            select a.account_id, cast(unnest(generate_series(min(a.month), l.last_month, interval 1 month)) as date)
                   as month
            from lot_months as a cross join last_month as l
            group by a.account_id, l.last_month
        ),
        running as (
            select c.account_id, c.month,
                   sum(coalesce(l.lot_points, 0)) over w as lots_through,
                   sum(coalesce(x.points, 0)) over w as consumed_through
            from calendar as c
            left join lot_months as l using (account_id, month)
            left join consumed as x using (account_id, month)
            window w as (partition by c.account_id order by c.month rows unbounded preceding)
        ),
        expired as (
            select due.account_id, due.month as due_month,
                   greatest(0, max(lot.lots_through - due.consumed_through)
                       over (partition by due.account_id order by due.month rows unbounded preceding)) as expired
            from running as due
            join running as lot on lot.account_id = due.account_id and due.month = lot.month + interval 18 month
        ),
        expected as (
            select account_id, due_month,
                   expired - coalesce(lag(expired) over (partition by account_id order by due_month), 0) as expected
            from expired
        )
        select coalesce(e.account_id, p.account_id) as account_id,
               strftime(coalesce(e.due_month, p.due_month), '%Y-%m-01') as due_month,
               coalesce(e.expected, 0), coalesce(p.posted, 0), coalesce(l.lot_points, 0)
        from expected as e
        full join posted as p on p.account_id = e.account_id and p.due_month = e.due_month
        left join lot_months as l
          on l.account_id = coalesce(e.account_id, p.account_id)
         and l.month + interval 18 month = coalesce(e.due_month, p.due_month)
        where coalesce(e.expected, 0) <> 0 or coalesce(p.posted, 0) <> 0
    """).fetchall()
    derived = {
        (account, due): (expiry_status(int(expected), int(posted), int(lots)), int(expected), int(posted))
        for account, due, expected, posted, lots in rows
    }
    reinstated = {account for accounts in summary_of(truth)["reinstated_accounts"].values() for account in accounts}
    assert reinstated
    truth_rows = {
        (r["account_id"], r["due_month"]): (r["expected_status"], int(r["expected_points"]), int(r["posted_points"]))
        for r in read_truth(truth, "expiry.csv")
        if r["account_id"] not in reinstated
    }
    assert len(derived) == len(rows)
    assert derived == truth_rows


def test_few_due_points_still_carry_every_expiry_fault(tmp_path: Path) -> None:
    """With two due months and 100 accounts this seed has too few points due on accounts with
    no other fault: the generator replays one as a member who never redeemed (and verifies)."""
    args = ["--accounts", "100", "--months", "20", "--seed", "10"]
    assert run("--out", str(tmp_path / "l"), "--truth", str(tmp_path / "t"), *args) == 0
    counts = Counter(r["expected_status"] for r in read_truth(tmp_path / "t", "expiry.csv"))
    assert all(counts[status] >= 2 for status in EXPIRY_FAULTS), counts


def test_a_short_history_carries_no_expiry_fault(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # extracted after the last month's expiry run: due month 18, the first, is checked
    args = ["--accounts", "100", "--months", "19", "--seed", "3", "--as-of", "month-end"]
    assert run("--out", str(tmp_path / "l"), "--truth", str(tmp_path / "t"), *args) == 0
    assert "no expiry faults injected: --months 19 < 20" in capsys.readouterr().out
    summary = json.loads((tmp_path / "t" / "summary.json").read_text())["expiry"]
    assert "--months 19" in summary["faults_skipped"] and summary["faults"] == {}
    rows = read_truth(tmp_path / "t", "expiry.csv")
    assert rows and {r["expected_status"] for r in rows} == {"ok"}


def test_only_the_deliberate_clawbacks_go_negative(generated: tuple[Path, Path], warehouse: tuple) -> None:
    con, _ = warehouse
    summary = json.loads((generated[1] / "summary.json").read_text())
    clawbacks = set(summary["clawback_accounts"])
    assert clawbacks
    for order in ("occurred_at, event_id", "recorded_at, event_id"):  # FIFO order, and the timeline's order
        negative = con.execute(f"""
            select distinct account_id from (
                select account_id, sum(points) over (partition by account_id order by {order}) as balance
                from ledger_events) where balance < 0
        """).fetchall()
        assert {account for (account,) in negative} <= clawbacks
        if order.startswith("occurred"):
            assert {account for (account,) in negative} == clawbacks
    for order in ("occurred_at, txn_id", "recorded_at, txn_id"):
        wallets = con.execute(f"""
            select count(*) from (
                select sum(amount) over (partition by account_id, currency order by {order}) as balance
                from wallet_transactions) where balance < 0
        """).fetchone()[0]
        assert wallets == 0


def test_store_eligibility_follows_the_rules(generated: tuple[Path, Path], warehouse: tuple) -> None:
    check_store_eligibility(warehouse[0], generated[1])


def check_store_eligibility(con: duckdb.DuckDBPyConnection, truth: Path) -> None:
    """store_eligibility.csv is the program's rules applied to the valid rows loaded in ``con``."""
    months = [
        str(m)
        for (m,) in con.execute(
            "select distinct cast(date_trunc('month', business_date) as date) as m from store_operations order by m"
        ).fetchall()
    ]
    results = con.execute("""
        with months as (select distinct cast(date_trunc('month', business_date) as date) as month
                        from store_operations),
        open_months as (
            select s.store_id, m.month,
                   s.opened_on <= m.month and (s.closed_on is null or s.closed_on > last_day(m.month)) as whole
            from stores as s cross join months as m
            where s.opened_on <= last_day(m.month) and (s.closed_on is null or s.closed_on > m.month)
        ),
        latest as (select * from orders qualify row_number() over (partition by order_id order by updated_at desc) = 1),
        sales as (
            select store_id, cast(date_trunc('month', ordered_at) as date) as month,
                   sum(net_amount) filter (where status = 'completed') as net_sales,
                   count(*) filter (where status = 'completed') as completed,
                   count(*) filter (where status = 'returned') as returned
            from latest group by all
        ),
        ops as (
            select store_id, cast(date_trunc('month', business_date) as date) as month,
                   avg(value) filter (where metric = 'audit_score') as audit,
                   avg(value) filter (where metric = 'on_time_open') as on_time
            from store_operations group by all
        )
        select o.store_id, o.month, o.whole,
               coalesce(s.net_sales, 0) >= t.target and t.target is not null
               and coalesce(p.audit, 100) >= 85 and coalesce(p.on_time, 1) >= 0.98
               and coalesce(s.returned / nullif(s.completed + s.returned, 0), 0) <= 0.05 as passed
        from open_months as o
        left join sales as s using (store_id, month)
        left join ops as p using (store_id, month)
        left join store_targets as t on t.store_id = o.store_id and t.period_month = o.month
            and t.metric = 'net_sales'
        order by o.store_id, o.month
    """).fetchall()
    history: dict[str, dict[str, bool]] = defaultdict(dict)
    derived = {}
    for store, month, whole, passed in results:
        month = str(month)
        history[store][month] = bool(passed)
        index = months.index(month)
        before = sum(history[store].get(m, False) for m in months[max(0, index - 3) : index])
        derived[(store, month)] = "true" if whole and passed and before >= 2 else "false"
    # only the months that ended by the data's as-of are evaluated
    last_ended = json.loads((truth / "summary.json").read_text())["as_of"]["last_ended_month"]
    derived = {key: value for key, value in derived.items() if key[1] <= last_ended}
    expected = {(r["store_id"], r["period_month"]): r["eligible"] for r in read_truth(truth, "store_eligibility.csv")}
    assert derived == expected
    assert set(expected.values()) == {"true", "false"}


# --- the rules the generator is built on ---------------------------------------------------
def test_fifo_lots_pay_debt_first_and_expire_the_oldest() -> None:
    lots = FifoLots()
    lots.add(0, 100)
    lots.add(1, 50)
    assert lots.consume(120) == [(0, 100), (1, 20)]  # all of month 0 and 20 of month 1
    assert lots.expire(18) == 0
    lots.consume(100)  # 30 left in month 1: 70 of debt
    assert lots.balance == -70
    lots.add(2, 100)  # pays the debt first
    assert lots.expire(19) == 0 and lots.expire(20) == 30


def test_fifo_lots_reinstate_into_the_lots_taken() -> None:
    lots = FifoLots()
    lots.add(0, 100)
    lots.add(1, 100)
    takes = lots.consume(150)
    assert takes == [(0, 100), (1, 50)]
    lots.consume(30)  # month 1's next 30
    assert lots.reinstate(takes, 60, 3) == [(0, 10), (1, 50)]  # newest lot first
    assert lots.lots == [[0, 10, 18], [1, 70, 19]]
    # past due: points of month 0 reinstated in month 19 are due at its end
    late = FifoLots()
    late.add(0, 100)
    taken = late.consume(100)
    assert late.expire(18) == 0
    late.reinstate(taken, 100, 19)
    assert late.expire(19) == 100


def test_the_set_based_expiry_is_the_fifo() -> None:
    rng = random.Random(11)
    for _ in range(300):
        months = rng.randint(1, 40)
        lots = [rng.choice((0, 0, rng.randint(1, 500))) for _ in range(months)]
        consumed = [rng.choice((0, 0, rng.randint(1, 400))) for _ in range(months)]
        fifo, posted = FifoLots(), [0] * months
        for month in range(months):
            if rng.random() < 0.5:  # the month's consumption before or after its lots: no matter
                fifo.consume(consumed[month])
                fifo.add(month, lots[month])
            else:
                fifo.add(month, lots[month])
                fifo.consume(consumed[month])
            if month >= 18:
                posted[month] = fifo.expire(month)
        assert expected_expiries(lots, consumed) == posted, (lots, consumed)
        events = [
            (month, "lot" if points > 0 else "consume", points, key, -1)
            for key, (month, points) in enumerate((m, p) for m in range(months) for p in (lots[m], -consumed[m]) if p)
        ]
        assert replayed_expiries(events, months) == expected_expiries(lots, consumed)


def test_expiry_status_reads_expected_then_lots() -> None:
    assert expiry_status(40, 40, 100) == "ok"
    assert expiry_status(0, 0, 0) == "ok"
    assert expiry_status(40, 0, 100) == "under_expired"
    assert expiry_status(40, 39, 100) == "under_expired"
    assert expiry_status(40, 41, 100) == "over_expired"
    assert expiry_status(0, 41, 100) == "expired_but_spent"
    assert expiry_status(0, 41, 0) == "expired_early"


def test_reconcile_precedence_and_boundaries() -> None:
    def m(i: int, kind: str, amount: int, at: int, order: str | None = None) -> Movement:
        return Movement(i, kind, amount, at, at, order)

    base = [m(1, "earn", 500, 10, "O1"), m(2, "redeem", -100, 20), m(3, "redeem", -100, 20), m(4, "correct", 40, 30)]
    computed = 340
    assert reconcile(computed + 100, base, 100, "points")[1] == "double_posted_event"
    assert reconcile(computed - 40, base, 100, "points")[1] == "missing_correction"
    assert reconcile(400, base, 100, "points")[1] == "stale_snapshot"
    assert reconcile(0, base, 100, "points")[1] == "stale_snapshot"  # the balance before the first movement
    assert reconcile(computed + 77, base, 100, "points")[1:] == ("missing_ledger_event", 77)
    assert reconcile(computed - 77, base, 100, "points")[1] == "unexplained"
    # a quarantined movement the snapshot applied: drift = +its amount, recorded by as_of, ranked
    # after missing_correction and before stale_snapshot
    rejected = [m(9, "earn", 77, 90), m(10, "redeem", -60, 101)]
    assert reconcile(computed + 77, base, 100, "points", rejected)[1:] == ("rejected_movement", 77)
    assert reconcile(computed - 60, base, 100, "points", rejected)[1] == "unexplained"  # recorded after as_of
    assert reconcile(computed - 40, base, 100, "points", [m(11, "redeem", -40, 50)])[1] == "missing_correction"
    assert reconcile(400, base, 100, "points", [m(12, "earn", 60, 50)])[1] == "rejected_movement"
    assert reconcile(computed + 78, base, 100, "points", rejected)[1] == "missing_ledger_event"  # exact only
    assert reconcile(computed + 5, base, 100, "points")[:2] == ("in_balance", "none")
    assert reconcile(computed + 50, base, 100, "points")[0] == "minor_drift"
    assert reconcile(computed + 51, base, 100, "points")[0] == "material_mismatch"
    assert reconcile(None, base, 100, "points")[0] == "missing_snapshot"
    assert drift_status(1, "wallet") == "in_balance" and drift_status(1000, "wallet") == "minor_drift"
    assert drift_status(1001, "wallet") == "material_mismatch"


def test_accrual_status_reads_the_latest_state_first() -> None:
    # each earn is given net of its reversals
    assert accrual_status("placed", [], 0) == "ok"
    assert accrual_status("placed", [40], 0) == "earn_on_open_order"
    assert accrual_status("placed", [0], 0) == "ok"  # earned and reversed
    assert accrual_status("returned", [0], 0) == "ok"
    assert accrual_status("returned", [20], 0) == "unreversed_cancellation"
    assert accrual_status("cancelled", [40], 0) == "unreversed_cancellation"
    assert accrual_status("cancelled", [], 0) == "ok"
    assert accrual_status("completed", [], 40) == "missing_earn"
    assert accrual_status("completed", [0], 40) == "missing_earn"  # completed again, earn reversed
    assert accrual_status("completed", [], 0) == "ok"  # nothing to earn
    assert accrual_status("completed", [40, 40], 40) == "duplicate_earn"
    assert accrual_status("completed", [0, 40], 40) == "ok"  # reversed and posted again
    assert accrual_status("completed", [41], 40) == "amount_mismatch"
    assert accrual_status("completed", [40], 40) == "ok"


def test_store_eligibility_needs_two_good_months_of_the_last_three() -> None:
    good = StoreMonth(True, 100_00, 90_00, (9000,), (1,) * 30, 40, 1)
    no_target = StoreMonth(True, 100_00, None, (), (1,) * 30, 40, 1)
    late = StoreMonth(True, 100_00, 90_00, (), (1,) * 29 + (0,), 40, 1)
    partial = StoreMonth(False, 100_00, 90_00, (), (1,) * 10, 10, 0)
    results = store_eligibility([None, partial, good, good, good, late, good, no_target, good])
    assert results[0] is None
    assert [r[0] for r in results[1:]] == [False, False, True, True, False, True, False, False]
    assert results[1][1] == "not_open_whole_month"
    assert results[2][1] == "failed_consistency"  # the month before the data is not a pass; the partial one is
    assert results[5][1] == "failed:on_time_open" and results[7][1] == "failed:net_sales"
    assert results[8][1] == "failed_consistency"
    audit = StoreMonth(True, 100_00, 90_00, (8500, 8450), (1,) * 30, 40, 1)
    assert store_eligibility([audit])[0] == (False, "failed:audit_score")
    returns = StoreMonth(True, 100_00, 90_00, (8500,), (1,) * 30, 19, 1)  # 1 of 20 = 0.05 passes
    assert store_eligibility([returns])[0] == (False, "failed_consistency")


def test_files_use_the_contract_types(generated: tuple[Path, Path]) -> None:
    import pyarrow.parquet as pq

    landing, _ = generated
    expected = {
        "timestamptz": pa.timestamp("us", tz="UTC"),
        "decimal(18,2)": pa.decimal128(18, 2),
        "bigint": pa.int64(),
        "date": pa.date32(),
        "varchar": pa.string(),
    }
    for source, columns in TYPES.items():
        for path in (landing / source).glob("*.parquet"):
            schema = pq.read_schema(path)
            assert schema.names == list(columns)
            assert [schema.field(name).type for name in columns] == [expected[kind] for kind in columns.values()]
    with (landing / "ledger_events").glob("*.csv").__next__().open(newline="") as handle:
        row = next(csv.DictReader(handle))
    assert row["occurred_at"].endswith("Z") and len(row["occurred_at"]) == 20
    with next((landing / "orders").glob("*.csv")).open(newline="") as handle:
        amounts = [row["net_amount"] for row in csv.DictReader(handle)]
    assert all(a.split(".")[-1].isdigit() and len(a.split(".")[-1]) == 2 for a in amounts[:50])


# --- the as-of and lapsed members ---------------------------------------------------------------
def test_the_as_of_is_the_latest_valid_moment(generated: tuple[Path, Path], warehouse: tuple) -> None:
    """summary.json's as-of is the latest recorded_at, snapshot as_of or order updated_at of the
    valid rows; extracted before the last month's end (the default), that month has not ended."""
    con, _ = warehouse
    latest = con.execute("""
        select strftime(max(moment), '%Y-%m-%dT%H:%M:%SZ') from (
            select max(recorded_at) as moment from ledger_events
            union all select max(recorded_at) from wallet_transactions
            union all select max(as_of) from balance_snapshots
            union all select max(updated_at) from orders)
    """).fetchone()[0]
    as_of = json.loads((generated[1] / "summary.json").read_text())["as_of"]
    assert as_of == {
        "as_of": latest,
        "as_of_source": "data",
        "as_of_month": "2025-08-01",
        "last_ended_month": "2025-07-01",
    }
    assert "2025-08-31T00:00:00Z" < latest < "2025-08-31T23:59:59Z"
    assert max(r["due_month"] for r in read_truth(generated[1], "expiry.csv")) == "2025-07-01"
    assert max(r["period_month"] for r in read_truth(generated[1], "store_eligibility.csv")) == "2025-07-01"
    assert max(r["month"] for r in read_truth(generated[1], "tiers.csv")) == "2025-08-01"  # decided end of July


def test_extracted_after_the_month_end_the_last_month_is_evaluated(tmp_path: Path) -> None:
    args = [*SMALL, "--as-of", "month-end"]
    assert run("--out", str(tmp_path / "l"), "--truth", str(tmp_path / "t"), *args) == 0
    summary = json.loads((tmp_path / "t" / "summary.json").read_text())
    assert summary["as_of"]["as_of"] == "2025-08-31T23:59:59Z"  # the expiry run of the last month end
    assert summary["as_of"]["last_ended_month"] == "2025-08-01"
    assert max(r["due_month"] for r in read_truth(tmp_path / "t", "expiry.csv")) == "2025-08-01"
    assert max(r["month"] for r in read_truth(tmp_path / "t", "tiers.csv")) == "2025-09-01"


def test_a_bad_as_of_mode_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        run("--out", str(tmp_path / "l"), "--truth", str(tmp_path / "t"), "--as-of", "noon")
    assert exited.value.code == 2 and "--as-of" in capsys.readouterr().err


def test_lapsed_members_are_evaluated_and_downgraded_after_their_last_event(
    generated: tuple[Path, Path], warehouse: tuple
) -> None:
    """Lapsed members do nothing for more than a year before the as-of; the truth keeps their
    tier evaluated up to it, and some of them are downgraded at month ends after their last
    event (what the warehouse must do without any event of theirs to go by)."""
    con, _ = warehouse
    truth = generated[1]
    lapsed = json.loads((truth / "summary.json").read_text())["lapsed_members"]
    assert lapsed["members"] and lapsed["downgraded_after_lapse"]
    last_events = dict(
        con.execute(
            "select account_id, strftime(max(occurred_at), '%Y-%m-%d') from ledger_events"
            " where event_type <> 'expire' and account_id in (select unnest(?)) group by account_id",
            [lapsed["members"]],
        ).fetchall()
    )
    last_orders = dict(
        con.execute(
            "select account_id, strftime(max(ordered_at), '%Y-%m-%d') from orders"
            " where account_id in (select unnest(?)) group by account_id",
            [lapsed["members"]],
        ).fetchall()
    )
    tiers = defaultdict(list)
    for row in read_truth(truth, "tiers.csv"):
        tiers[row["account_id"]].append((row["month"], TIERS.index(row["tier"])))
    for account in lapsed["members"]:
        assert last_orders[account] < "2024-08-01", account  # 12+ months before the last ended month
        assert tiers[account][-1][0] == "2025-08-01", account  # evaluated up to the as-of
    for account in lapsed["downgraded_after_lapse"]:
        after = [(month, tier) for month, tier in tiers[account] if month > last_events[account]]
        assert any(later < earlier for (_, earlier), (_, later) in itertools.pairwise(after)), account
        assert after[-1][1] == 0, account  # nothing qualifies any more: the lowest tier


def test_tiling_copies_every_row_with_unique_identifiers(generated: tuple[Path, Path], tmp_path: Path) -> None:
    """tools.sample_data.tile: 3 copies of every file (same names and formats), copy k's rows are
    the source file's in order with its identifiers suffixed, keys and identifiers stay unique
    per copy, nulls stay null, and tiling twice writes the same bytes."""
    landing, _ = generated
    summary = tile(landing, tmp_path / "a", 3)
    tile(landing, tmp_path / "b", 3)
    names = tree(landing)
    assert tree(tmp_path / "a") == names == tree(tmp_path / "b")
    _, mismatch, errors = filecmp.cmpfiles(tmp_path / "a", tmp_path / "b", names, shallow=False)
    assert mismatch == [] and errors == []
    assert {"account_id", "event_id", "reverses_event_id", "order_id", "txn_id", "store_id", "home_store_id"} == {
        name for columns in ID_COLUMNS.values() for name in columns
    }
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    for source in sorted({name.split("/")[0] for name in names}):
        columns = LANDING_SOURCES[source].columns
        text = ", ".join(f'cast("{column}" as varchar) as "{column}"' for column in columns)
        tiled_rows: list[str] = []
        original_rows: list[str] = []
        for name in (name for name in names if name.startswith(f"{source}/")):
            original = con.execute(f"select {text} from {relation(landing / name, columns)}").fetchall()
            tiled = con.execute(f"select {text} from {relation(tmp_path / 'a' / name, columns)}").fetchall()
            assert len(tiled) == 3 * len(original), name
            if name.endswith(".parquet"):  # typed columns keep their types
                types = [
                    con.execute(f"describe from '{folder / name}'").fetchall() for folder in (landing, tmp_path / "a")
                ]
                assert [row[:2] for row in types[0]] == [row[:2] for row in types[1]], name
            for copy in range(3):
                label = copy_label(copy, 3)
                changed = (*ID_COLUMNS[source], *EMAIL_COLUMNS[source])
                for before, after in zip(
                    original, tiled[copy * len(original) : (copy + 1) * len(original)], strict=True
                ):
                    for column, old, new in zip(columns, before, after, strict=True):
                        if column not in changed or old is None or not old.strip():
                            assert new == old, (name, copy, column)
                        elif column in EMAIL_COLUMNS[source]:
                            assert new == f"{label}.{old}", (name, copy, column)
                        else:
                            assert new == f"{old}-{label}", (name, copy, column)
            original_rows += [json.dumps(row) for row in original]
            tiled_rows += [json.dumps(row) for row in tiled]
        assert summary.rows_out[source] == len(tiled_rows) == 3 * len(original_rows), source
        for column in (*ID_COLUMNS[source], *EMAIL_COLUMNS[source], "|".join(LANDING_SOURCES[source].key)):
            index = [columns.index(name) for name in column.split("|")]
            ids = [i for i in index if columns[i] in (*ID_COLUMNS[source], *EMAIL_COLUMNS[source])]

            def distinct(rows: list[str], index: list[int] = index, ids: list[int] = ids) -> int:
                """Distinct values of the columns, rows whose identifier is null or blank left out."""
                values = [json.loads(row) for row in rows]
                return len({tuple(v[i] for i in index) for v in values if all((v[i] or "").strip() for i in ids)})

            assert distinct(tiled_rows) == 3 * distinct(original_rows), (source, column)


# --- feed volume anomalies (--feed-anomalies) --------------------------------------------------
FEED_DATES = {  # the column that dates a row of each judged feed (feed_volume_sources())
    "ledger_events": "recorded_at",
    "wallet_transactions": "recorded_at",
    "orders": "updated_at",
    "store_operations": "business_date",
}
FEED_BAND = {"window_days": 7, "baseline_days": 28, "min_baseline_days": 14}


@pytest.fixture(scope="module")
def feed_generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("feeds")
    assert run("--out", str(base / "landing"), "--truth", str(base / "truth"), *SMALL, "--feed-anomalies") == 0
    return base / "landing", base / "truth"


def feed_days(landing: Path) -> dict[str, Counter]:
    """Rows delivered per judged feed and day, read from the files alone: every row of every file
    but a byte-identical copy of an earlier one, a ledger expiry and a row whose date does not parse."""
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    out: dict[str, Counter] = {}
    for source, column in FEED_DATES.items():
        counts: Counter = Counter()
        seen: set[bytes] = set()
        for path in sorted((landing / source).iterdir()):
            if path.read_bytes() in seen:
                continue
            seen.add(path.read_bytes())
            reader = relation(path, tuple(LANDING_SOURCES[source].columns))
            kind = "date" if column == "business_date" else "timestamptz"
            dated = f"cast(try_cast({column} as {kind}) as date)"
            counted = "coalesce(event_type, '') <> 'expire'" if source == "ledger_events" else "true"
            counts.update(
                dict(
                    con.execute(
                        f"select {dated}, count(*) from {reader} where {dated} is not null and {counted} group by all"
                    ).fetchall()
                )
            )
        out[source] = counts
    return out


def feed_band(counts: Counter, day: date) -> tuple[int, int] | None:
    """(lowest, highest) rows the day's trailing baseline expects (docs/runbook.md#feed-volume-anomaly)."""
    first = min(counts)
    baseline = [
        counts.get(day - timedelta(days=n), 0)
        for n in range(1, FEED_BAND["baseline_days"] + 1)
        if day - timedelta(days=n) >= first
    ]
    if len(baseline) < FEED_BAND["min_baseline_days"]:
        return None
    middle = statistics.median(baseline)
    width = max(5 * 1.4826 * statistics.median(abs(n - middle) for n in baseline), 0.2 * middle, 10)
    return max(math.ceil(middle - width), 0), math.floor(middle + width)


def flagged_feed_days(landing: Path, as_of_day: date) -> set[tuple[str, str, str]]:
    out = set()
    for source, counts in feed_days(landing).items():
        for n in range(1, FEED_BAND["window_days"] + 1):
            day = as_of_day - timedelta(days=n)
            expected = feed_band(counts, day)
            if expected and not expected[0] <= counts.get(day, 0) <= expected[1]:
                out.add((source, day.isoformat(), "quiet" if counts.get(day, 0) < expected[0] else "flood"))
    return out


def as_of_day_of(truth: Path) -> date:
    return date.fromisoformat(summary_of(truth)["as_of"]["as_of"][:10])


def test_feed_anomaly_truth_is_a_quiet_and_a_flood_day_in_the_alert_window(feed_generated: tuple[Path, Path]) -> None:
    _, truth = feed_generated
    with (truth / "feed_anomalies.csv").open(newline="", encoding="utf-8") as handle:
        assert next(csv.reader(handle)) == ["landing_source", "business_date", "volume_status"]
    rows = read_truth(truth, "feed_anomalies.csv")
    as_of = as_of_day_of(truth)
    window = {(as_of - timedelta(days=n)).isoformat() for n in range(1, FEED_BAND["window_days"] + 1)}
    assert all(row["business_date"] in window and row["volume_status"] in ("quiet", "flood") for row in rows)
    assert {(r["landing_source"], r["volume_status"]) for r in rows} >= {
        ("store_operations", "quiet"),
        ("ledger_events", "flood"),
    }
    injected = summary_of(truth)["feed_anomalies"]["injected"]
    assert injected == [
        f"ledger_events {as_of - timedelta(days=2)} flood",
        f"store_operations {as_of - timedelta(days=4)} quiet",
    ]
    assert summary_of(truth)["arguments"]["feed_anomalies"] is True


def test_the_flagged_feed_days_are_those_the_files_say(feed_generated: tuple[Path, Path]) -> None:
    """The quiet day is below its band and the flood day above it, the band computed from the
    files alone; no other day of the window is outside its band."""
    landing, truth = feed_generated
    as_of = as_of_day_of(truth)
    counts = feed_days(landing)
    quiet, flood = as_of - timedelta(days=4), as_of - timedelta(days=2)
    low, _ = feed_band(counts["store_operations"], quiet)
    assert counts["store_operations"].get(quiet, 0) < low
    _, high = feed_band(counts["ledger_events"], flood)
    assert counts["ledger_events"][flood] > high
    expected = {
        (r["landing_source"], r["business_date"], r["volume_status"]) for r in read_truth(truth, "feed_anomalies.csv")
    }
    assert flagged_feed_days(landing, as_of) == expected


def test_the_flood_is_a_replay_of_exact_duplicates(feed_generated: tuple[Path, Path]) -> None:
    landing, truth = feed_generated
    flood = as_of_day_of(truth) - timedelta(days=2)
    replay = landing / "ledger_events" / f"{flood:%Y-%m}_replay-{flood}.csv"
    assert summary_of(truth)["feed_anomalies"]["replay_file"] == f"ledger_events/{replay.name}"
    with replay.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) >= 3 and {row["recorded_at"][:10] for row in rows} == {flood.isoformat()}
    # loaded like a warehouse does, every row of the replay repeats an earlier delivery
    repeats = load_valid(duckdb.connect(), landing, truth)
    assert repeats[f"ledger_events/{replay.name}"] == len(rows)
    assert repeats == {r["file"]: int(r["exact_duplicate_rows"]) for r in read_truth(truth, "duplicates.csv")}
    assert summary_of(truth)["exact_duplicate_rows"][f"ledger_events/{replay.name}"] == len(rows)


def test_feed_anomalies_change_only_the_affected_files(
    generated: tuple[Path, Path], feed_generated: tuple[Path, Path], tmp_path: Path
) -> None:
    """Without the option nothing of it is written; with it, the same arguments give the same bytes,
    and only the store operations file of the quiet day, the replay file and the truth that counts
    them differ from the default output."""
    assert not (generated[1] / "feed_anomalies.csv").exists()
    assert not list((generated[0] / "ledger_events").glob("*_replay-*"))
    assert (
        "feed_anomalies" not in summary_of(generated[1])
        and "feed_anomalies" not in summary_of(generated[1])["arguments"]
    )
    again = tmp_path / "again"
    assert run("--out", str(again / "landing"), "--truth", str(again / "truth"), *SMALL, "--feed-anomalies") == 0
    for first, second in ((feed_generated[0], again / "landing"), (feed_generated[1], again / "truth")):
        assert tree(first) == tree(second)
        assert filecmp.cmpfiles(first, second, tree(first), shallow=False)[1:] == ([], [])

    def digests(folder: Path) -> dict[str, str]:
        return {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in tree(folder)}

    def changed(default: Path, with_option: Path) -> set[str]:
        before, after = digests(default), digests(with_option)
        return {name for name in before.keys() | after.keys() if before.get(name) != after.get(name)}

    flood = as_of_day_of(feed_generated[1]) - timedelta(days=2)
    landing = changed(generated[0], feed_generated[0])
    quiet_files = {name for name in landing if name.startswith("store_operations/")}
    assert landing == {f"ledger_events/{flood:%Y-%m}_replay-{flood}.csv", *quiet_files} and len(quiet_files) == 1
    counted = {"duplicates.csv", "summary.json", "feed_anomalies.csv"}
    assert counted <= changed(generated[1], feed_generated[1]) <= counted | {"rejected_rows.csv"}
    # the rejected rows move only where store operations rows went missing
    others = [r for r in read_truth(generated[1], "rejected_rows.csv") if r["source"] != "store_operations"]
    assert others == [
        r for r in read_truth(feed_generated[1], "rejected_rows.csv") if r["source"] != "store_operations"
    ]


def test_a_quiet_day_in_an_evaluated_month_is_in_the_store_truth(tmp_path: Path) -> None:
    """Extracted after the month end, the quiet day's month is evaluated: store eligibility is the
    world without the missing operations, as the landing files have it."""
    landing, truth = tmp_path / "landing", tmp_path / "truth"
    assert run("--out", str(landing), "--truth", str(truth), *SMALL, "--as-of", "month-end", "--feed-anomalies") == 0
    quiet = as_of_day_of(truth) - timedelta(days=4)
    assert summary_of(truth)["as_of"]["last_ended_month"] == f"{quiet:%Y-%m}-01"
    con = duckdb.connect()
    load_valid(con, landing, truth)
    check_store_eligibility(con, truth)


def test_the_feed_anomaly_settings_are_the_warehouses() -> None:
    """tools/sample_data/feeds.py judges like the warehouse: the dbt var feed_anomaly and the feeds
    of feed_volume_sources()."""
    project = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    settings = project["vars"]["feed_anomaly"]
    generator = {
        "window_days": feeds.WINDOW_DAYS,
        "baseline_days": feeds.BASELINE_DAYS,
        "min_baseline_days": feeds.MIN_BASELINE_DAYS,
        "spread_multiplier": feeds.SPREAD_MULTIPLIER,
        "min_band_share": feeds.MIN_BAND_SHARE,
        "min_band_rows": feeds.MIN_BAND_ROWS,
    }
    assert {name: settings[name] for name in generator} == generator
    assert {name: settings[name] for name in FEED_BAND} == FEED_BAND
    macro = (PROJECT_DIR / "macros" / "sql" / "model_lists.sql").read_text(encoding="utf-8")
    listed = macro[macro.index("macro feed_volume_sources") :]
    assert dict(re.findall(r"'source': '(\w+)'.*?'dated_by': '(\w+)'", listed, re.S)) == feeds.FEEDS == FEED_DATES


def test_the_feed_band_is_the_median_and_mad_of_the_prior_days() -> None:
    days = Counter({d: 40 + (d % 3) for d in range(100, 130)})  # 40, 41, 42, ...
    assert feeds.band(days, 129, 130) == feeds.Band(40, 31, 51)  # median 41, MAD 1: band max(7.4, 8.2, 10)
    days[129] = 0
    assert feeds.band(days, 129, 130).status == "quiet"
    assert feeds.band(days, 110, 130).status == "no_baseline"  # 10 prior days < 14
    days[125] = 200
    assert feeds.flagged({"x": days}, 130) == [("x", 125, "flood"), ("x", 129, "quiet")]


def test_a_feed_anomaly_the_data_cannot_carry_stops_the_generator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An injected day the warehouse would not flag is an error (exit 1), never a wrong truth."""
    monkeypatch.setattr(feeds, "QUIET_STORES_KEPT", 1.0)  # every store still reports on the quiet day
    assert run("--out", str(tmp_path / "l"), "--truth", str(tmp_path / "t"), *SMALL, "--feed-anomalies") == 1
    assert "--feed-anomalies: the quiet day of store_operations" in capsys.readouterr().err
    assert not (tmp_path / "t").exists()
