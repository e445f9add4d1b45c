"""End to end: generated landing data with injected faults, refreshed through the real command,
compared with the generator's ground truth (which lives outside the landing folder)."""

from __future__ import annotations

import csv
import json
import shutil
from collections import Counter
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from conftest import (
    Refresh,
    build_database,
    copy_warehouse,
    generate,
    run_refresh,
    table_fingerprints,
    workbook_mismatches,
)

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
    assert build_database(warehouse).exists()
    with duckdb.connect(str(warehouse), read_only=True) as published:
        schemas = {
            row[0]
            for row in published.execute("select distinct table_schema from information_schema.tables").fetchall()
        }
    # the published file holds what BI may read and nothing of the pipeline's own layers
    assert schemas <= {"marts", "audit", "findings"}, schemas
    report = warehouse.with_name("reconciliation_report.html")
    assert report.exists() and "Loyalty reconciliation report" in report.read_text(encoding="utf-8")
    # the roll-forwards workbook beside it holds the published finance marts, cell for cell
    workbook = warehouse.with_name("month_end_rollforwards.xlsx")
    with duckdb.connect(str(warehouse), read_only=True) as published:
        assert workbook_mismatches(workbook, published) == []
        months = published.execute("select count(*) from marts.fct_points_liability_monthly").fetchone()[0]
    assert months >= 20, "the small data spans 20 months: the sheets were compared on real rows"
    assert not list(warehouse.parent.glob("*.work")), "no draft is left once the publish is done"


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
    copy = copy_warehouse(warehouse, tmp_path / "copy")
    before = table_fingerprints(copy)
    again = run_refresh(small_data[0], copy)
    # nothing new: the last publish stands, with its exit status (findings: 1)
    assert again.returncode == 1, again.stdout[-3000:]
    assert "nothing new" in again.stdout
    assert table_fingerprints(copy) == before


def test_a_lost_published_file_is_published_again_by_the_next_refresh(
    refreshed: tuple[Path, Refresh], small_data: tuple[Path, Path], tmp_path: Path
) -> None:
    """docs/runbook.md#restore-the-published-warehouse: nothing new landed, but the file BI reads
    is gone; the refresh must not say "nothing new" and leave readers without a warehouse."""
    warehouse, _ = refreshed
    copy = copy_warehouse(warehouse, tmp_path / "copy")
    marts = {name: rows for name, rows in table_fingerprints(copy).items() if name.startswith("marts.")}
    copy.unlink()
    again = run_refresh(small_data[0], copy)
    assert again.returncode == 1, again.stdout[-3000:]
    assert "nothing new" not in again.stdout
    assert {name: rows for name, rows in table_fingerprints(copy).items() if name.startswith("marts.")} == marts


def check_balances(warehouse: Path, truth: Path) -> None:
    truth_rows = read_truth(truth, "balances.csv")
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
        for row in truth_rows
    }
    assert set(got) == set(expected), "balances differ from the ground truth"
    statuses = confusion([(expected[key][0], got[key][0]) for key in expected])
    causes = confusion([(expected[key][1], got[key][1]) for key in expected])
    print_confusion("drift_status", statuses)
    print_confusion("likely_cause", causes)
    wrong = [(key, expected[key], got[key][:2]) for key in expected if expected[key] != got[key][:2]]
    assert not wrong, f"{len(wrong)} balances differ, e.g. {wrong[:5]}"
    assert all(figures["precision"] == figures["recall"] == 1.0 for figures in {**statuses, **causes}.values())
    assert causes.get("rejected_movement", {}).get("expected", 0) >= 4, "the generator should inject rejected_movement"


def test_rejected_movement_names_the_quarantined_row(refreshed: tuple[Path, Refresh]) -> None:
    """The explanation points operations at the feed: the file, row and reason of a row that is in
    audit.rejected_source_rows, whose key is the evidence."""
    warehouse, _ = refreshed
    rows = query(
        warehouse,
        """
        select recon.account_id, recon.explanation, rejected.source_file, rejected.source_row_number, rejected.reason
        from marts.fct_balance_reconciliation as recon
        left join audit.rejected_source_rows as rejected
            on rejected.row_key = recon.evidence_movement_id
            and rejected.source = case when recon.balance_type = 'points' then 'ledger_events'
                                       else 'wallet_transactions' end
        where recon.likely_cause = 'rejected_movement'
        """,
    )
    assert rows
    for account, explanation, source_file, row_number, reason in rows:
        assert source_file is not None, account
        assert f"{source_file} row {row_number}, {reason}" in explanation, explanation
        assert "not the ledger" in explanation


def test_balance_reconciliation_matches_the_ground_truth(
    refreshed: tuple[Path, Refresh], small_data: tuple[Path, Path]
) -> None:
    check_balances(refreshed[0], small_data[1])


def check_order_accruals(warehouse: Path, truth: Path) -> None:
    expected = {row["order_id"]: row["expected_status"] for row in read_truth(truth, "order_accruals.csv")}
    got = dict(query(warehouse, "select order_id, accrual_status from marts.fct_order_accrual_reconciliation"))
    assert set(got) == set(expected)
    report = confusion([(expected[order], got[order]) for order in expected])
    print_confusion("accrual_status", report)
    wrong = [(order, expected[order], got[order]) for order in expected if expected[order] != got[order]]
    assert not wrong, f"{len(wrong)} orders differ, e.g. {wrong[:5]}"
    assert len(Counter(expected.values())) == 6, "the generator should inject every accrual status"


def test_order_accruals_match_the_ground_truth(refreshed: tuple[Path, Refresh], small_data: tuple[Path, Path]) -> None:
    check_order_accruals(refreshed[0], small_data[1])


def check_member_tiers(warehouse: Path, truth: Path) -> None:
    """The tier in effect in every member-month of the truth (from the enrolment month, or the
    data's first, to the month the last evaluation before the as-of decided), and no tier
    decided by a month that has not ended."""
    expected = {(row["account_id"], row["month"]): row["tier"] for row in read_truth(truth, "tiers.csv")}
    months = sorted({month for _, month in expected})
    rows = query(
        warehouse,
        f"""
        select tiers.account_id, strftime(months.month_start, '%Y-%m-01'), tiers.tier
        from marts.dim_member_tiers as tiers
        inner join (select cast(unnest(generate_series(date '{months[0]}', date '{months[-1]}', interval 1 month))
                    as date) as month_start) as months
            on months.month_start >= tiers.valid_from
            and (tiers.valid_to is null or months.month_start < tiers.valid_to)
        """,
    )
    got = {(account, month): tier for account, month, tier in rows if (account, month) in expected}
    report = confusion([(expected[key], got.get(key, "missing")) for key in expected])
    print_confusion("tier (member-months)", report)
    wrong = [(key, expected[key], got.get(key)) for key in sorted(expected) if expected[key] != got.get(key)]
    assert not wrong, f"{len(wrong)} member-months differ, e.g. {wrong[:5]}"
    (latest,) = query(warehouse, "select strftime(max(valid_from), '%Y-%m-01') from marts.dim_member_tiers")[0]
    assert latest <= months[-1], f"a tier takes effect in {latest}, decided by a month that has not ended"
    assert {"upgrade", "downgrade"} <= {row[0] for row in query(warehouse, "select change from marts.dim_member_tiers")}


def test_member_tiers_match_the_ground_truth(refreshed: tuple[Path, Refresh], small_data: tuple[Path, Path]) -> None:
    check_member_tiers(refreshed[0], small_data[1])


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


def check_dimensions(warehouse: Path, truth: Path) -> None:
    """The changing dimensions' current state and versions are the truth's, every change was
    staged (none quarantined), and the net_sales rule judges the corrected target."""
    reports = dimension_report(warehouse, truth)
    for title, report in reports.items():
        print_confusion(title, report)
    assert {"active", "closed"} <= set(reports["member_status"]) and "closed" in reports["store_closed"]
    assert all(figures["precision"] == figures["recall"] == 1.0 for r in reports.values() for figures in r.values())
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


def test_changed_dimensions_are_versions_and_rules_use_the_current_state(
    refreshed: tuple[Path, Refresh], small_data: tuple[Path, Path]
) -> None:
    check_dimensions(refreshed[0], small_data[1])
    # store eligibility judges the current state: closings and corrected targets included
    check_store_eligibility(refreshed[0], small_data[1])


def check_as_of(warehouse: Path, truth: Path, stdout: str) -> None:
    """The published as-of is the truth's; the roll-forwards end at its month, month-to-date
    while it has not ended; the refresh summary prints it."""
    expected = json.loads((truth / "summary.json").read_text())["as_of"]
    ((as_of, source, as_of_month, last_ended, month_to_date),) = query(
        warehouse,
        "select strftime(as_of, '%Y-%m-%dT%H:%M:%SZ'), as_of_source, strftime(as_of_month, '%Y-%m-%d'),"
        " strftime(last_ended_month, '%Y-%m-%d'), is_as_of_month_to_date from marts.rpt_warehouse_as_of",
    )
    assert {"as_of": as_of, "as_of_source": source, "as_of_month": as_of_month, "last_ended_month": last_ended} == (
        expected
    )
    assert month_to_date == (as_of_month != last_ended)
    for mart in ("fct_points_liability_monthly", "fct_wallet_liability_monthly"):
        flagged = query(
            warehouse,
            f"select distinct strftime(month, '%Y-%m-%d'), is_month_to_date from marts.{mart}"
            f" where is_month_to_date or month = (select max(month) from marts.{mart})",
        )
        assert flagged == [(as_of_month, month_to_date)], mart
    assert f"as of:     {as_of[:10]} {as_of[11:19]} UTC (latest staged moment)" in stdout
    assert f"month ends evaluated through {last_ended[:7]}" in stdout


def test_the_published_as_of_is_the_truths(refreshed: tuple[Path, Refresh], small_data: tuple[Path, Path]) -> None:
    warehouse, result = refreshed
    check_as_of(warehouse, small_data[1], result.stdout)
    # generated before the last month's end: that month is not evaluated (tiers, expiry, incentives)
    assert query(warehouse, "select is_as_of_month_to_date from marts.rpt_warehouse_as_of") == [(True,)]


def test_unreadable_file_fails_with_its_name_and_leaves_the_published_warehouse(
    refreshed: tuple[Path, Refresh], small_data: tuple[Path, Path], tmp_path: Path
) -> None:
    warehouse, _ = refreshed
    landing = tmp_path / "landing"
    shutil.copytree(small_data[0], landing)
    broken = landing / "ledger_events" / "zz-truncated.parquet"
    data = next((landing / "ledger_events").glob("*.parquet")).read_bytes()
    broken.write_bytes(data[: len(data) // 2])
    copy = copy_warehouse(warehouse, tmp_path / "copy")
    before = table_fingerprints(copy)
    result = run_refresh(landing, copy)
    assert result.returncode == 2
    assert "ledger_events/zz-truncated.parquet: cannot read as Parquet" in result.stdout
    assert "NOT published" in result.stdout
    assert table_fingerprints(copy) == before


def check_expiry(warehouse: Path, truth: Path) -> None:
    expected = {
        (row["account_id"], row["due_month"]): (
            row["expected_status"],
            int(row["expected_points"]),
            int(row["posted_points"]),
        )
        for row in read_truth(truth, "expiry.csv")
    }
    got = {
        (account, str(month)): (status, expected_points, posted_points)
        for account, month, status, expected_points, posted_points in query(
            warehouse,
            "select account_id, due_month, expiry_status, expected_expiry_points, posted_expiry_points"
            " from marts.fct_expiry_reconciliation",
        )
    }
    pairs = [(expected[key][0], got.get(key, ("missing",))[0]) for key in expected]
    pairs += [("not_due", got[key][0]) for key in set(got) - set(expected)]  # a due month the truth has not
    print_confusion("expiry_status", confusion(pairs))
    assert got == expected
    assert {status for status, _, _ in expected.values()} >= {
        "ok",
        "over_expired",
        "under_expired",
        "expired_but_spent",
        "expired_early",
    }


def test_expiry_reconciliation_matches_the_ground_truth(
    refreshed: tuple[Path, Refresh], small_data: tuple[Path, Path]
) -> None:
    check_expiry(refreshed[0], small_data[1])


def check_reinstated_points(warehouse: Path, truth: Path) -> int:
    """Reversed redemptions (program rules v2): the accounts that carry them are in the truth
    and in balance, their lots add up to the balance, and their expiries are as due. A past-due
    reinstatement expires at the end of the reversal's month, checked once that month has ended
    by the as-of (before, no expiry is due: check_expiry finds none the truth has not). Returns
    how many past-due reinstatements were checked."""
    summary = json.loads((truth / "summary.json").read_text())
    reinstated = {account for accounts in summary["reinstated_accounts"].values() for account in accounts}
    assert reinstated and all(summary["reinstated_accounts"].values())
    reverses = query(
        build_database(warehouse),
        "select e.account_id, strftime(max(date_trunc('month', e.occurred_at)), '%Y-%m-01')"
        " from staging.stg_loyalty__ledger_events as e"
        " join staging.stg_loyalty__ledger_events as r on r.event_id = e.reverses_event_id"
        " where e.event_type = 'reverse' and r.event_type = 'redeem' group by e.account_id",
    )
    reversal_month = dict(reverses)
    assert set(reversal_month) >= reinstated
    lots = dict(query(warehouse, "select account_id, sum(remaining_points) from marts.fct_points_lots group by all"))
    balances = dict(
        query(
            warehouse,
            "select account_id, sum(amount) from marts.fct_account_ledger_timeline"
            " where balance_type = 'points' group by all",
        )
    )
    assert {account: lots[account] for account in reinstated} == {account: balances[account] for account in reinstated}
    statuses = query(
        warehouse,
        "select account_id, strftime(due_month, '%Y-%m-01'), expiry_status, expected_expiry_points"
        " from marts.fct_expiry_reconciliation"
        f" where account_id in ({', '.join(repr(account) for account in sorted(reinstated))})",
    )
    assert {status for _, _, status, _ in statuses} <= {"ok"}
    due = {(account, month): points for account, month, _, points in statuses}
    last_ended = summary["as_of"]["last_ended_month"]
    past_due = summary["reinstated_accounts"]["past_due"]
    checked = [account for account in past_due if reversal_month[account] <= last_ended]
    assert all(due.get((account, reversal_month[account]), 0) > 0 for account in checked), checked
    return len(checked)


def test_reinstated_points_keep_their_lots(refreshed: tuple[Path, Refresh], small_data: tuple[Path, Path]) -> None:
    check_reinstated_points(refreshed[0], small_data[1])


def check_store_eligibility(warehouse: Path, truth: Path) -> None:
    rows = read_truth(truth, "store_eligibility.csv")
    expected = {(row["store_id"], row["period_month"]): row["eligible"] for row in rows}
    got = {
        (store, str(month)): "true" if eligible else "false"
        for store, month, eligible in query(
            warehouse, "select store_id, period_month, eligible from marts.fct_store_incentive_eligibility"
        )
    }
    pairs = [(expected[key], got.get(key, "missing")) for key in expected]
    pairs += [("not_evaluated", got[key]) for key in set(got) - set(expected)]
    print_confusion("store eligible (store-months)", confusion(pairs))
    assert got == expected


def test_a_second_seed_also_matches_the_ground_truth(tmp_path: Path) -> None:
    """Another seed, more accounts and months, extracted after the last month's expiry run (the
    as-of exactly at 23:59:59 on its last day: that month is evaluated): every class again,
    the changing dimensions included."""
    landing, truth = tmp_path / "landing", tmp_path / "truth"
    generate(landing, truth, ["--accounts", "200", "--months", "24", "--seed", "11", "--as-of", "month-end"])
    warehouse = tmp_path / "loyalty.duckdb"
    result = run_refresh(landing, warehouse)
    assert result.returncode == 1, result.stdout[-3000:]
    check_balances(warehouse, truth)
    check_order_accruals(warehouse, truth)
    check_member_tiers(warehouse, truth)
    check_expiry(warehouse, truth)
    assert check_reinstated_points(warehouse, truth) >= 1, "no past-due reinstatement up to the as-of"
    check_store_eligibility(warehouse, truth)
    check_dimensions(warehouse, truth)
    check_as_of(warehouse, truth, result.stdout)
    assert query(warehouse, "select is_as_of_month_to_date from marts.rpt_warehouse_as_of") == [(False,)]
    assert json.loads((truth / "summary.json").read_text())["lapsed_members"]["downgraded_after_lapse"]
