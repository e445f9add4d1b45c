"""End to end: generated landing data with injected faults, refreshed through the real command,
compared with the generator's ground truth (which lives outside the landing folder)."""

from __future__ import annotations

import csv
import shutil
from collections import Counter
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from conftest import Refresh, generate, run_refresh, table_fingerprints

pytestmark = pytest.mark.e2e


def read_truth(truth: Path, name: str) -> list[dict[str, str]]:
    with (truth / name).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def query(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def confusion(pairs: list[tuple[str, str]]) -> dict[str, dict[str, float]]:
    """Per class: precision and recall of predicted against expected labels."""
    classes = sorted({label for pair in pairs for label in pair})
    report = {}
    for label in classes:
        true_positive = sum(1 for expected, got in pairs if expected == label and got == label)
        predicted = sum(1 for _, got in pairs if got == label)
        actual = sum(1 for expected, _ in pairs if expected == label)
        report[label] = {
            "expected": actual,
            "found": predicted,
            "precision": true_positive / predicted if predicted else 1.0,
            "recall": true_positive / actual if actual else 1.0,
        }
    return report


def print_confusion(title: str, report: dict[str, dict[str, float]]) -> None:
    print(f"\n{title}")
    for label, figures in report.items():
        print(
            f"  {label:28} expected {figures['expected']:5.0f}  found {figures['found']:5.0f}"
            f"  precision {figures['precision']:.0%}  recall {figures['recall']:.0%}"
        )


def test_refresh_publishes_and_reports_findings(refreshed: tuple[Path, Refresh]) -> None:
    warehouse, result = refreshed
    assert result.returncode == 1, result.stdout[-4000:] + result.stderr[-4000:]
    assert "(published)" in result.stdout
    assert "Reconciliation" in result.stdout
    assert "Source freshness: 8 of 8 sources received a file recently" in result.stdout
    assert warehouse.exists()
    assert not warehouse.with_name(warehouse.name + ".work").exists()
    report = warehouse.with_name("reconciliation_report.html")
    assert report.exists() and "Loyalty reconciliation report" in report.read_text(encoding="utf-8")


def test_every_injected_bad_row_is_quarantined_with_its_reason(
    refreshed: tuple[Path, Refresh], small_data: tuple[Path, Path]
) -> None:
    warehouse, _ = refreshed
    expected = {
        (row["source"], row["file"], int(row["row_number"])): row["reason"]
        for row in read_truth(small_data[1], "rejected_rows.csv")
    }
    got = {
        (source, file, row_number): reason
        for source, file, row_number, reason in query(
            warehouse, "select source, source_file, source_row_number, reason from audit.rejected_source_rows"
        )
    }
    assert got == expected
    assert set(expected.values()) >= {
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


def test_exact_duplicates_and_duplicate_files_are_counted_not_staged(
    refreshed: tuple[Path, Refresh], small_data: tuple[Path, Path]
) -> None:
    warehouse, _ = refreshed
    truth = small_data[1]
    accounting = {
        file: (delivered, staged, rejected, duplicates, outcome)
        for file, delivered, staged, rejected, duplicates, outcome in query(
            warehouse,
            "select source_file, rows_delivered, rows_staged, rows_rejected, rows_exact_duplicate, outcome"
            " from audit.source_row_accounting",
        )
    }
    for row in read_truth(truth, "duplicates.csv"):
        assert accounting[row["file"]][3] == int(row["exact_duplicate_rows"]), row
    for row in read_truth(truth, "duplicate_files.csv"):
        assert accounting[row["file"]][4] == "duplicate_file", row
    for file, (delivered, staged, rejected, duplicates, _) in accounting.items():
        assert delivered == staged + rejected + duplicates, file


def test_second_refresh_of_the_same_folder_changes_no_row(
    refreshed: tuple[Path, Refresh], small_data: tuple[Path, Path], tmp_path: Path
) -> None:
    warehouse, _ = refreshed
    copy = tmp_path / "loyalty.duckdb"
    shutil.copyfile(warehouse, copy)
    before = table_fingerprints(copy)
    again = run_refresh(small_data[0], copy)
    assert again.returncode == 1, again.stdout[-3000:]
    assert "0 loaded (0 rows)" in again.stdout
    after = table_fingerprints(copy)
    # audit.alerts is a log of runs: the second run's findings are new alerts by design
    assert after.pop("audit.alerts")[0] > before.pop("audit.alerts")[0]
    assert after == before


def test_balance_reconciliation_matches_the_ground_truth(
    refreshed: tuple[Path, Refresh], small_data: tuple[Path, Path]
) -> None:
    warehouse, _ = refreshed
    truth = read_truth(small_data[1], "balances.csv")
    got = {
        (account, balance_type, currency or ""): (status, cause, drift)
        for account, balance_type, currency, status, cause, drift in query(
            warehouse,
            "select account_id, balance_type, currency, drift_status, likely_cause, drift"
            " from marts.fct_balance_reconciliation",
        )
    }
    expected = {
        (row["account_id"], row["balance_type"], row["currency"]): (row["expected_status"], row["expected_cause"])
        for row in truth
    }
    assert set(got) == set(expected), "balances differ from the ground truth"
    statuses = confusion([(expected[key][0], got[key][0]) for key in expected])
    causes = confusion([(expected[key][1], got[key][1]) for key in expected])
    print_confusion("drift_status", statuses)
    print_confusion("likely_cause", causes)
    wrong = [(key, expected[key], got[key][:2]) for key in expected if expected[key] != got[key][:2]]
    assert not wrong, f"{len(wrong)} balances differ, e.g. {wrong[:5]}"
    assert all(figures["precision"] == figures["recall"] == 1.0 for figures in {**statuses, **causes}.values())


def test_order_accruals_match_the_ground_truth(refreshed: tuple[Path, Refresh], small_data: tuple[Path, Path]) -> None:
    warehouse, _ = refreshed
    expected = {row["order_id"]: row["expected_status"] for row in read_truth(small_data[1], "order_accruals.csv")}
    got = dict(query(warehouse, "select order_id, accrual_status from marts.fct_order_accrual_reconciliation"))
    assert set(got) == set(expected)
    report = confusion([(expected[order], got[order]) for order in expected])
    print_confusion("accrual_status", report)
    wrong = [(order, expected[order], got[order]) for order in expected if expected[order] != got[order]]
    assert not wrong, f"{len(wrong)} orders differ, e.g. {wrong[:5]}"
    assert len(Counter(expected.values())) == 6, "the generator should inject every accrual status"


def test_member_tiers_match_the_ground_truth(refreshed: tuple[Path, Refresh], small_data: tuple[Path, Path]) -> None:
    warehouse, _ = refreshed
    months = query(
        warehouse,
        """
        select tiers.account_id, strftime(months.month_start, '%Y-%m-01'), tiers.tier
        from marts.dim_member_tiers as tiers
        cross join (select distinct cast(date_trunc('month', occurred_at) as date) as month_start
                    from staging.stg_loyalty__ledger_events) as months
        where months.month_start >= tiers.valid_from
          and (tiers.valid_to is null or months.month_start < tiers.valid_to)
        """,
    )
    got = {(account, month): tier for account, month, tier in months}
    expected = {(row["account_id"], row["month"]): row["tier"] for row in read_truth(small_data[1], "tiers.csv")}
    common = set(got) & set(expected)
    assert len(common) >= 0.9 * len(expected)
    wrong = [(key, expected[key], got[key]) for key in sorted(common) if expected[key] != got[key]]
    assert not wrong, f"{len(wrong)} member-months differ, e.g. {wrong[:5]}"
    assert {"upgrade", "downgrade"} <= {row[0] for row in query(warehouse, "select change from marts.dim_member_tiers")}


def dimension_report(warehouse: Path, truth: Path) -> dict[str, dict[str, dict[str, float]]]:
    """Per class, the current state of the changing dimensions against the truth (the latest
    delivery: docs/landing.md#same-key-different-payload), and each key's number of versions."""
    members = {row["account_id"]: row for row in read_truth(truth, "members.csv")}
    got_members = {
        account: (status, versions)
        for account, status, versions in query(
            warehouse,
            "select account_id, max(case when is_current then member_status end), count(*)"
            " from marts.dim_members group by account_id",
        )
    }
    assert set(got_members) == set(members)
    stores = {row["store_id"]: row for row in read_truth(truth, "stores.csv")}
    got_stores = {
        store: (closed_on.isoformat() if closed_on else "", versions)
        for store, closed_on, versions in query(
            warehouse,
            "select store_id, max(case when is_current then closed_on end), count(*)"
            " from marts.dim_stores group by store_id",
        )
    }
    assert set(got_stores) == set(stores)
    wrong_versions = [
        key
        for key, row in [*members.items(), *stores.items()]
        if int(row["expected_versions"]) != {**got_members, **got_stores}[key][1]
    ]
    assert not wrong_versions, f"versions differ from the truth: {wrong_versions[:5]}"
    return {
        "member_status": confusion([(row["expected_status"], got_members[a][0]) for a, row in members.items()]),
        "store_closed": confusion(
            [
                ("closed" if row["expected_closed_on"] else "open", "closed" if got_stores[s][0] else "open")
                for s, row in stores.items()
            ]
        ),
        "store_closed_on": confusion([(row["expected_closed_on"], got_stores[s][0]) for s, row in stores.items()]),
    }


def eligibility_report(warehouse: Path, truth: Path) -> dict[str, dict[str, float]]:
    expected = {
        (row["store_id"], row["period_month"]): row["eligible"] for row in read_truth(truth, "store_eligibility.csv")
    }
    got = {
        (store, month.isoformat()): "true" if eligible else "false"
        for store, month, eligible in query(
            warehouse, "select store_id, period_month, eligible from marts.fct_store_incentive_eligibility"
        )
    }
    assert set(got) == set(expected), sorted(set(got) ^ set(expected))[:5]
    return confusion([(expected[key], got[key]) for key in expected])


def test_changed_dimensions_are_versions_and_rules_use_the_current_state(
    refreshed: tuple[Path, Refresh], small_data: tuple[Path, Path]
) -> None:
    warehouse, _ = refreshed
    truth = small_data[1]
    reports = dimension_report(warehouse, truth)
    for title, report in reports.items():
        print_confusion(title, report)
    assert {"active", "closed"} <= set(reports["member_status"]) and "closed" in reports["store_closed"]
    eligibility = eligibility_report(warehouse, truth)
    print_confusion("store eligible (closings and corrected targets included)", eligibility)
    assert all(
        figures["precision"] == figures["recall"] == 1.0
        for report in [*reports.values(), eligibility]
        for figures in report.values()
    )
    # every change was staged as a version of its file, none quarantined
    changes = read_truth(truth, "dimension_changes.csv")
    rejected = set(query(warehouse, "select source_file, source_row_number from audit.rejected_source_rows"))
    assert not [row for row in changes if (row["file"], int(row["row_number"])) in rejected]
    accounting = dict(
        query(warehouse, "select source_file, rows_staged = rows_delivered from audit.source_row_accounting")
    )
    assert all(accounting[row["file"]] for row in changes)
    # the month's target is the current (corrected) one
    targets = {
        (row["store_id"], row["period_month"]): Decimal(row["expected_target"])
        for row in read_truth(truth, "store_targets.csv")
        if int(row["expected_versions"]) > 1
    }
    thresholds = {
        (store, month.isoformat()): threshold
        for store, month, threshold in query(
            warehouse,
            "select store_id, period_month, threshold from marts.fct_store_incentive_rule_results"
            " where rule_id = 'net_sales_vs_target'",
        )
    }
    judged = [key for key in targets if key in thresholds]
    assert judged and all(thresholds[key] == targets[key] for key in judged)


def test_unreadable_file_fails_with_its_name_and_leaves_the_published_warehouse(
    refreshed: tuple[Path, Refresh], small_data: tuple[Path, Path], tmp_path: Path
) -> None:
    warehouse, _ = refreshed
    landing = tmp_path / "landing"
    shutil.copytree(small_data[0], landing)
    broken = landing / "ledger_events" / "zz-truncated.parquet"
    data = next((landing / "ledger_events").glob("*.parquet")).read_bytes()
    broken.write_bytes(data[: len(data) // 2])
    copy = tmp_path / "loyalty.duckdb"
    shutil.copyfile(warehouse, copy)
    before = table_fingerprints(copy)
    result = run_refresh(landing, copy)
    assert result.returncode == 2
    assert "ledger_events/zz-truncated.parquet: cannot read as Parquet" in result.stdout
    assert "NOT published" in result.stdout
    assert table_fingerprints(copy) == before


def test_a_second_seed_also_matches_the_ground_truth(tmp_path: Path) -> None:
    landing, truth = tmp_path / "landing", tmp_path / "truth"
    generate(landing, truth, ["--accounts", "120", "--months", "22", "--seed", "2026"])
    warehouse = tmp_path / "loyalty.duckdb"
    result = run_refresh(landing, warehouse)
    assert result.returncode == 1, result.stdout[-3000:]
    expected = {
        (row["account_id"], row["balance_type"], row["currency"]): (row["expected_status"], row["expected_cause"])
        for row in read_truth(truth, "balances.csv")
    }
    got = {
        (account, balance_type, currency or ""): (status, cause)
        for account, balance_type, currency, status, cause in query(
            warehouse,
            "select account_id, balance_type, currency, drift_status, likely_cause"
            " from marts.fct_balance_reconciliation",
        )
    }
    assert got == expected
    accruals = {row["order_id"]: row["expected_status"] for row in read_truth(truth, "order_accruals.csv")}
    assert (
        dict(query(warehouse, "select order_id, accrual_status from marts.fct_order_accrual_reconciliation"))
        == accruals
    )
    reports = {**dimension_report(warehouse, truth), "store eligible": eligibility_report(warehouse, truth)}
    for title, report in reports.items():
        print_confusion(f"seed 2026: {title}", report)
    assert all(figures["precision"] == figures["recall"] == 1.0 for r in reports.values() for figures in r.values())


def test_expiry_reconciliation_matches_the_ground_truth(
    refreshed: tuple[Path, Refresh], small_data: tuple[Path, Path]
) -> None:
    warehouse, _ = refreshed
    expected = {
        (row["account_id"], row["due_month"]): (
            row["expected_status"],
            int(row["expected_points"]),
            int(row["posted_points"]),
        )
        for row in read_truth(small_data[1], "expiry.csv")
    }
    got = {
        (account, str(month)): (status, expected_points, posted_points)
        for account, month, status, expected_points, posted_points in query(
            warehouse,
            "select account_id, due_month, expiry_status, expected_expiry_points, posted_expiry_points"
            " from marts.fct_expiry_reconciliation",
        )
    }
    report = confusion([(expected[key][0], got.get(key, ("missing",))[0]) for key in expected])
    print_confusion("expiry_status", report)
    assert got == expected
    assert {status for status, _, _ in expected.values()} >= {
        "ok",
        "over_expired",
        "under_expired",
        "expired_but_spent",
        "expired_early",
    }
