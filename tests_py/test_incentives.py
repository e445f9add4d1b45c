"""Store incentives end to end (docs/program.md#store-incentives, docs/marts.md#store-incentives):
eligibility of every store-month against the
generator's ground truth, and a published month that late data restates instead of rewriting.

Publishing goes through the real command (`cli incentives publish`), which journals the action
beside the warehouse; the next refresh loads it into raw.incentive_period_actions."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from loyalty import incentive_actions
from loyalty.settings import load_settings

from conftest import PROJECT_DIR, Refresh, build_database, copy_warehouse, run_refresh

pytestmark = pytest.mark.e2e

# the orders landing contract (docs/landing.md#orders)
ORDER_COLUMNS = (
    "order_id",
    "account_id",
    "store_id",
    "channel",
    "status",
    "currency",
    "net_amount",
    "ordered_at",
    "updated_at",
)


def query(warehouse: Path, sql: str, parameters: list | None = None) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return connection.execute(sql, parameters or []).fetchall()


def record_action(warehouse: Path, month: str, action: str) -> None:
    """The real command: journal an explicit publish / reopen action for the warehouse."""
    completed = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "incentives", action, "--month", month[:7], "--by", "pytest"],
        cwd=PROJECT_DIR,
        env={**os.environ, "LOYALTY_WAREHOUSE": str(warehouse)},
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 0, completed.stderr
    assert "takes effect at the next refresh" in completed.stdout


def test_store_eligibility_matches_the_ground_truth(
    refreshed: tuple[Path, Refresh], small_data: tuple[Path, Path]
) -> None:
    warehouse, result = refreshed
    assert result.returncode in (0, 1), result.stdout[-3000:] + result.stderr[-3000:]
    with (small_data[1] / "store_eligibility.csv").open(newline="", encoding="utf-8") as handle:
        expected = {(row["store_id"], row["period_month"]): row["eligible"] == "true" for row in csv.DictReader(handle)}
    got = {
        (store, month.isoformat()): eligible
        for store, month, eligible in query(
            warehouse, "select store_id, period_month, eligible from marts.fct_store_incentive_eligibility"
        )
    }
    missing, extra = sorted(set(expected) - set(got)), sorted(set(got) - set(expected))
    pairs = Counter((expected[key], got[key]) for key in set(expected) & set(got))
    print(
        "\nstore eligibility (truth -> warehouse): "
        f"eligible->eligible {pairs[True, True]}, ineligible->ineligible {pairs[False, False]}, "
        f"eligible->ineligible {pairs[True, False]}, ineligible->eligible {pairs[False, True]}, "
        f"store-months missing {len(missing)}, extra {len(extra)}"
    )
    assert not missing and not extra, f"store-months differ: missing {missing[:5]}, extra {extra[:5]}"
    wrong = sorted(key for key in expected if expected[key] != got[key])
    assert not wrong, f"{len(wrong)} store-months differ from the truth, e.g. {wrong[:5]}"
    # a truth with only one class would let a constant answer pass
    assert pairs[True, True] > 0 and pairs[False, False] > 0
    reasons = dict(
        query(
            warehouse,
            "select store_id || ' ' || period_month, reason from marts.fct_store_incentive_eligibility",
        )
    )
    assert any("not open the whole month" in reason for reason in reasons.values())
    assert any(reason.startswith("eligible: passed all 4 rules") for reason in reasons.values())


def test_late_order_for_a_published_month_is_a_restatement_not_an_overwrite(
    refreshed: tuple[Path, Refresh], small_data: tuple[Path, Path], tmp_path: Path
) -> None:
    warehouse, _ = refreshed
    landing = tmp_path / "landing"
    shutil.copytree(small_data[0], landing)
    copy = copy_warehouse(warehouse, tmp_path / "copy")

    # an eligible store-month with completed orders, published as it stands now
    store, month, completed = query(
        build_database(copy),
        """
        select eligibility.store_id, eligibility.period_month, count(*)
        from marts.fct_store_incentive_eligibility as eligibility
        inner join staging.stg_commerce__orders as orders
            on orders.store_id = eligibility.store_id
            and cast(date_trunc('month', orders.ordered_at) as date) = eligibility.period_month
            and orders.order_status = 'completed'
        where eligibility.eligible
        group by eligibility.store_id, eligibility.period_month
        order by eligibility.period_month desc, eligibility.store_id
        limit 1
        """,
    )[0]
    published_reason = query(
        copy,
        "select reason from marts.fct_store_incentive_eligibility where store_id = ? and period_month = ?",
        [store, month],
    )[0][0]
    record_action(copy, month.isoformat(), "publish")

    # late delivery: more returned guest orders in that month than it has completed ones
    day = month.isoformat()
    late = landing / "orders" / "zz-late-returns.csv"
    with late.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(ORDER_COLUMNS)
        for number in range(completed + 1):
            placed, returned = f"{day}T10:00:00Z", f"{day}T18:00:00Z"
            writer.writerow([f"LATE{number:05d}", "", store, "store", "returned", "EUR", "10.00", placed, returned])

    again = run_refresh(landing, copy)
    assert again.returncode == 1, again.stdout[-3000:] + again.stderr[-3000:]
    assert "assert_published_incentive_months_not_restated" in again.stdout, again.stdout[-3000:]

    published = query(
        copy,
        "select eligible, reason from marts.fct_store_incentive_published where store_id = ? and period_month = ?",
        [store, month],
    )
    assert published == [(True, published_reason)], "the published result must not be rewritten"
    current = query(
        copy,
        "select eligible, reason from marts.fct_store_incentive_eligibility where store_id = ? and period_month = ?",
        [store, month],
    )
    assert current[0][0] is False and "return_rate" in current[0][1], current
    restatements = query(
        copy,
        """
        select restatement_kind, published_eligible, current_eligible, published_reason, current_reason, why,
               detected_at > published_at
        from marts.fct_store_incentive_restatements
        where store_id = ? and period_month = ?
        """,
        [store, month],
    )
    assert len(restatements) == 1, restatements
    kind, was, now, reason_then, reason_now, why, detected_after_publish = restatements[0]
    print(f"\nrestatement of {store} {month}: {why}")
    assert (kind, was, now, reason_then, reason_now) == ("changed", True, False, published_reason, current[0][1])
    assert why.startswith("return_rate_maximum: ") and detected_after_publish
    history = query(
        copy,
        "select eligible from marts.fct_store_incentive_evaluations where store_id = ? and period_month = ?"
        " order by evaluated_at",
        [store, month],
    )
    assert history == [(True,), (False,)], "the history keeps the published evaluation beside the new one"

    # reopening the month stops flagging it (until it is published again); instead of a whole
    # refresh, load the journal the way the loader does and rebuild what depends on it
    record_action(copy, month.isoformat(), "reopen")
    with duckdb.connect(str(copy)) as connection:
        incentive_actions.load_into(connection, load_settings({"LOYALTY_WAREHOUSE": str(copy)}))
    built = subprocess.run(
        [
            str(Path(sys.executable).with_name("dbt")),
            "build",
            "--select",
            "stg_control__incentive_period_actions+",
            "--profiles-dir",
            str(PROJECT_DIR),
            "--target-path",
            str(tmp_path / "target"),
        ],
        cwd=PROJECT_DIR,
        env={**os.environ, "LOYALTY_WAREHOUSE": str(copy), "LOYALTY_TARGET": "duckdb"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stdout[-3000:]
    for mart in ("fct_store_incentive_restatements", "fct_store_incentive_published"):
        assert query(copy, f"select count(*) from marts.{mart} where period_month = ?", [month]) == [(0,)], mart


def test_redelivered_closing_and_target_of_a_published_month_are_restatements(
    refreshed: tuple[Path, Refresh], small_data: tuple[Path, Path], tmp_path: Path
) -> None:
    """stores and store_targets are dimensions (docs/landing.md#same-key-different-payload): a
    store re-delivered with closed_on inside a published month, and a target corrected for a
    published month, change the current evaluation. The published result stays; the
    restatement says why."""
    warehouse, _ = refreshed
    landing = tmp_path / "landing"
    shutil.copytree(small_data[0], landing)
    copy = copy_warehouse(warehouse, tmp_path / "copy")

    # two eligible stores of one month, still open today
    (month,) = query(
        copy,
        """
        select period_month from marts.fct_store_incentive_eligibility as eligibility
        inner join marts.dim_stores as stores
            on eligibility.store_id = stores.store_id and stores.is_current and stores.closed_on is null
        where eligibility.eligible
        group by period_month having count(*) >= 2
        order by period_month desc limit 1
        """,
    )[0]
    (closing, name, region, opened_on), (corrected, net_sales, target) = query(
        copy,
        """
        select stores.store_id, stores.store_name, stores.region, stores.opened_on
        from marts.fct_store_incentive_eligibility as eligibility
        inner join marts.dim_stores as stores
            on eligibility.store_id = stores.store_id and stores.is_current and stores.closed_on is null
        where eligibility.eligible and eligibility.period_month = ?
        order by stores.store_id limit 1
        """,
        [month],
    ) + query(
        copy,
        """
        select results.store_id, results.actual, results.threshold
        from marts.fct_store_incentive_rule_results as results
        inner join marts.fct_store_incentive_eligibility as eligibility
            using (store_id, period_month)
        inner join marts.dim_stores as stores
            on results.store_id = stores.store_id and stores.is_current and stores.closed_on is null
        where eligibility.eligible and results.period_month = ? and results.rule_id = 'net_sales_vs_target'
        order by results.store_id desc limit 1
        """,
        [month],
    )
    assert closing != corrected
    record_action(copy, month.isoformat(), "publish")

    closed_on = month.replace(day=11)
    new_target = (net_sales // 1 + 1000).quantize(Decimal("0.01"))
    (landing / "stores" / "zz-closing.csv").write_text(
        "store_id,store_name,region,opened_on,closed_on\n"
        f"{closing},{name},{region or ''},{opened_on.isoformat()},{closed_on.isoformat()}\n",
        encoding="utf-8",
    )
    (landing / "store_targets" / "zz-correction.csv").write_text(
        f"store_id,period_month,metric,target\n{corrected},{month.isoformat()},net_sales,{new_target}\n",
        encoding="utf-8",
    )
    again = run_refresh(landing, copy)
    assert again.returncode == 1, again.stdout[-3000:] + again.stderr[-3000:]
    assert "assert_published_incentive_months_not_restated" in again.stdout, again.stdout[-3000:]

    # both deliveries are new versions, not rejections
    assert query(copy, "select count(*) from audit.rejected_source_rows where source_file like '%/zz-%'") == [(0,)]
    assert query(
        copy, "select closed_on, version_number > 1 from marts.dim_stores where store_id = ? and is_current", [closing]
    ) == [(closed_on, True)]
    published = query(
        copy,
        "select store_id, eligible from marts.fct_store_incentive_published where period_month = ?"
        " and store_id in (?, ?) order by store_id",
        [month, closing, corrected],
    )
    assert published == sorted([(closing, True), (corrected, True)]), "the published result must not be rewritten"
    restated = dict(
        query(
            copy,
            "select store_id, why from marts.fct_store_incentive_restatements where period_month = ?"
            " and restatement_kind = 'changed' and not current_eligible",
            [month],
        )
    )
    print(f"\nrestatements of {month}: {restated}")
    assert restated[closing].startswith("open the whole month: yes -> no (the store's current data: ")
    assert f"closed_on {closed_on.isoformat()}, delivered in stores/zz-closing.csv" in restated[closing]
    threshold = f"target {format(target.normalize(), 'f')}"
    assert restated[corrected].startswith("net_sales_vs_target: "), restated[corrected]
    assert threshold in restated[corrected] and f"< target {format(new_target.normalize(), 'f')}" in restated[corrected]
