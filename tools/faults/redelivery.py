"""Fault campaign, re-delivery and order (docs/reliability.md#re-delivery-and-order): files
delivered twice, rows delivered again under a new name, files arriving out of order, late
events for a published incentive month and dimension updates after a month was published give
the marts of one clean delivery of the same rows (docs/landing.md#re-delivery,
docs/landing.md#same-key-different-payload; docs/program.md#restatements).

The expected differences are asserted, not skipped: after a month was published,
``fct_store_incentive_published`` holds the verdicts as they were published (frozen),
``fct_store_incentive_restatements`` one row per store-month whose current evaluation differs
from them, the append-only histories ``fct_store_incentive_evaluations`` and
``fct_store_incentive_rule_evaluations`` the published evaluations beside the current ones; and
a re-delivered file adds its rows to the delivered and exact-duplicate counts of
``rpt_warehouse_summary`` and to nothing else.

What is already proven elsewhere is not repeated: tests_py/test_incremental.py (batches in any
order give the marts of a full rebuild of the *same raw tables*, a failed refresh in between),
tests_py/test_loader.py (a file loads once, its copy adds nothing), tests_py/test_e2e.py
(exact duplicates and duplicate files counted) and tests_py/test_incentives.py (a late order
and a re-delivered store closing restate a published month). This part compares a messy
*sequence of deliveries* with one clean delivery of the same files, end to end.

Each scenario: a first refresh of the clean landing folder minus the files the scenario holds
back (or a copy of the clean reference when it holds none back), optionally the publish of the
last evaluated incentive month, then a second refresh once the held-back files and the
scenario's re-deliveries have arrived. The clean landing folder (tools.faults.workspace)
already holds the scenarios' extra files (``write_extras``), so its one refresh is the
reference. Every scenario runs at once in one two-refresh sequence (each scenario's files are
its own, so their checks do not interfere); full mode does so on the larger data set.
"""

from __future__ import annotations

import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from tools.compare_engines import _normalise
from tools.faults import Result
from tools.faults.late_deliveries import LATE_ORDERS, MEMBER_CLOSING, STORE_CLOSING, evaluated_month, read_rows
from tools.faults.workspace import (
    accounting,
    clean_landing,
    copy_warehouse,
    differing_marts,
    mart_checksums,
    must_publish,
    query,
    reference,
    run_refresh,
)

PART = "re-delivery"
# what a published month changes by design (docs/program.md#restatements)
PUBLISHED_MARTS = frozenset({"fct_store_incentive_published", "fct_store_incentive_restatements"})
# append-only histories: every refresh that evaluates a store-month differently adds a row, so
# two refreshes whose first lacked some files hold more rows than one clean delivery
HISTORY_MARTS = frozenset({"fct_store_incentive_evaluations", "fct_store_incentive_rule_evaluations"})
SUMMARY = "rpt_warehouse_summary"
# sources whose files may arrive out of order without changing the result: facts whose keys no
# other file repeats, and the orders change feed (docs/landing.md#same-key-different-payload;
# a fact's first delivery wins and a dimension's latest is current, so for those load order
# decides by contract)
OUT_OF_ORDER_SOURCES = ("ledger_events", "wallet_transactions", "orders", "balance_snapshots")
KEYS = {
    "ledger_events": ("event_id",),
    "wallet_transactions": ("txn_id",),
    "orders": ("order_id", "updated_at"),
    "balance_snapshots": ("account_id", "balance_type", "currency", "as_of"),
}


def _key_value(text: str) -> str:
    """A key value comparable across formats: a timestamp (Parquet-typed or ISO text with any
    offset) as UTC, anything else trimmed."""
    text = text.strip()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat()


def _first_deliveries_of_conflicts(landing: Path, source: str) -> set[str]:
    """The files of a source that hold the first delivery (load order: name) of a key another
    file delivers again with a different payload. Such a file must not arrive late: for a fact
    the first delivery wins, so the later file would win instead. A file that only repeats keys
    first delivered elsewhere (or repeats them exactly) may."""
    payloads: dict[tuple, set[tuple]] = {}
    files: dict[tuple, list[str]] = {}
    for path in sorted((landing / source).iterdir()):
        for row in read_rows(path):
            key = tuple(_key_value(row[column]) for column in KEYS[source])
            payloads.setdefault(key, set()).add(tuple(sorted((name, _key_value(value)) for name, value in row.items())))
            files.setdefault(key, []).append(f"{source}/{path.name}")
    return {names[0] for key, names in files.items() if len(set(names)) > 1 and len(payloads[key]) > 1}


def out_of_order_files(landing: Path, truth: Path) -> list[str]:
    """One file per fact / change-feed source to deliver after every other file: the first
    month file, when its month is at least four months before the last evaluated incentive
    month (so that month's evaluation does not depend on it) and it does not deliver first a key
    that another file repeats with another payload (for a fact, load order decides which delivery of a
    key wins: ``_first_deliveries_of_conflicts``)."""
    month = evaluated_month(truth)
    limit = f"{month.year if month.month > 4 else month.year - 1}-{(month.month - 5) % 12 + 1:02d}"
    chosen = []
    for source in OUT_OF_ORDER_SOURCES:
        overlapping = _first_deliveries_of_conflicts(landing, source)
        for path in sorted((landing / source).iterdir()):
            name = f"{source}/{path.name}"
            if path.name[:7] <= limit and name not in overlapping and not path.name.startswith("zz-"):
                chosen.append(name)
                break
    return chosen


# ---------------------------------------------------------------- scenarios


@dataclass
class Scenario:
    """What is held back from the first refresh, whether the last evaluated month is published
    between the two refreshes, and the re-deliveries that arrive with the held-back files
    (``redeliver(landing)`` writes them and returns their names)."""

    what: str
    held_back: list[str] = field(default_factory=list)
    publish: bool = False
    redeliver: Callable[[Path], list[str]] | None = None
    checks: list[Callable[[Path, Path, dict], list[str]]] = field(default_factory=list)


def _first_file(landing: Path, source: str, suffix: str) -> str:
    """The first file of a source with that suffix, the files this part writes (zz-…) left out."""
    return next(
        f"{source}/{path.name}"
        for path in sorted((landing / source).iterdir())
        if path.suffix == suffix and not path.name.startswith("zz-")
    )


def _same_file_twice(landing: Path) -> list[str]:
    """The same bytes again under the loaded name, and under a new name."""
    original = _first_file(landing, "ledger_events", ".parquet")
    path = landing / original
    data = path.read_bytes()
    path.write_bytes(data)  # the same file delivered again: a new modification time
    copy = path.with_name(f"zz-again-{path.name}")  # after every file: the original loads first
    copy.write_bytes(data)
    return [f"ledger_events/{copy.name}"]


def _same_rows_new_name(landing: Path) -> list[str]:
    """The rows of a loaded CSV file as Parquet under a new name, in reverse order."""
    original = _first_file(landing, "wallet_transactions", ".csv")
    target = landing / "wallet_transactions" / f"zz-again-{Path(original).stem}.parquet"
    with duckdb.connect() as connection:
        connection.sql(
            f"copy (select * from read_csv('{landing / original}', all_varchar = true, header = true)"
            f" order by txn_id desc) to '{target}' (format parquet)"
        )
    return [f"wallet_transactions/{target.name}"]


def _check_same_file_twice(warehouse: Path, landing: Path, context: dict) -> list[str]:
    original = _first_file(landing, "ledger_events", ".parquet")
    copy = f"ledger_events/zz-again-{Path(original).name}"
    rows = query(
        warehouse,
        "select source_file, outcome, duplicate_of, rows_delivered, rows_exact_duplicate"
        " from audit.source_row_accounting where source_file in (?, ?)",
        [original, copy],
    )
    loaded = [row for row in rows if row[0] == original]
    copies = [row for row in rows if row[0] == copy]
    problems = []
    if len(loaded) != 1:
        problems.append(f"{original} delivered twice under its name: {len(loaded)} accounting rows (expected 1)")
    if len(copies) != 1 or copies[0][1:3] != ("duplicate_file", original) or copies[0][3] != copies[0][4]:
        problems.append(f"{copy} (same bytes, new name): {copies} (expected one duplicate_file of {original})")
    return problems


def _check_same_rows_new_name(warehouse: Path, landing: Path, context: dict) -> list[str]:
    original = _first_file(landing, "wallet_transactions", ".csv")
    copy = f"wallet_transactions/zz-again-{Path(original).stem}.parquet"
    rows = dict(
        (file, (delivered, staged, duplicates))
        for file, delivered, staged, duplicates in query(
            warehouse,
            "select source_file, rows_delivered, rows_staged, rows_exact_duplicate"
            " from audit.source_row_accounting where source_file in (?, ?)",
            [original, copy],
        )
    )
    if copy not in rows or original not in rows:
        return [f"{copy}: not accounted ({rows})"]
    delivered, staged, duplicates = rows[copy]
    problems = []
    if delivered != rows[original][0] or staged != 0 or duplicates < rows[original][1]:
        problems.append(
            f"{copy} (the rows of {original} as Parquet): delivered {delivered}, staged {staged},"
            f" exact duplicates {duplicates} (expected {rows[original][0]} delivered, 0 staged, at least"
            f" the {rows[original][1]} staged rows of the original as exact duplicates)"
        )
    return problems


def _check_out_of_order(warehouse: Path, landing: Path, context: dict) -> list[str]:
    held = context["out_of_order"]
    staged = dict(
        query(
            warehouse,
            "select source_file, rows_staged from audit.source_row_accounting"
            f" where source_file in ({', '.join('?' for _ in held)})",
            held,
        )
    )
    return [f"{file}: arrived last but staged {staged.get(file)} rows" for file in held if not staged.get(file)]


def _restatement(warehouse: Path, store: str, month: date) -> tuple | None:
    rows = query(
        warehouse,
        "select published_eligible, current_eligible, why from marts.fct_store_incentive_restatements"
        " where store_id = ? and period_month = ?",
        [store, month],
    )
    return rows[0] if rows else None


def _check_late_orders(warehouse: Path, landing: Path, context: dict) -> list[str]:
    store = read_rows(landing / LATE_ORDERS)[0]["store_id"]
    found = _restatement(warehouse, store, context["month"])
    if not found or found[:2] != (True, False) or "return_rate_maximum" not in found[2]:
        return [
            f"{store} {context['month']}: late returned orders, restatement {found}"
            " (expected eligible true -> false, return_rate_maximum)"
        ]
    return []


def _check_dimension_updates(warehouse: Path, landing: Path, context: dict) -> list[str]:
    problems = []
    store = read_rows(landing / STORE_CLOSING)[0]
    found = _restatement(warehouse, store["store_id"], context["month"])
    if not found or found[:2] != (True, False) or "open the whole month: yes -> no" not in found[2]:
        problems.append(
            f"{store['store_id']} {context['month']}: closed_on {store['closed_on']} after the publish,"
            f" restatement {found} (expected eligible true -> false, open the whole month: yes -> no)"
        )
    account = read_rows(landing / MEMBER_CLOSING)[0]["account_id"]
    current = query(
        warehouse,
        "select member_status, version_number > 1 from marts.dim_members where account_id = ? and is_current",
        [account],
    )
    if current != [("closed", True)]:
        problems.append(f"{account} closed after the publish: current dim_members {current} (expected closed, v2+)")
    return problems


def scenarios(landing: Path, truth: Path) -> list[Scenario]:
    """The five scenarios of docs/reliability.md#re-delivery-and-order."""
    return [
        Scenario("the same file twice", redeliver=_same_file_twice, checks=[_check_same_file_twice]),
        Scenario("the same rows under a new name", redeliver=_same_rows_new_name, checks=[_check_same_rows_new_name]),
        Scenario("files out of order", held_back=out_of_order_files(landing, truth), checks=[_check_out_of_order]),
        Scenario(
            "late events for a published month", held_back=[LATE_ORDERS], publish=True, checks=[_check_late_orders]
        ),
        Scenario(
            "dimension updates after a publish",
            held_back=[STORE_CLOSING, MEMBER_CLOSING],
            publish=True,
            checks=[_check_dimension_updates],
        ),
    ]


def combined(parts: list[Scenario]) -> Scenario:
    """Every scenario at once: one first refresh without any held-back file, one publish, one
    second refresh with all of them and every re-delivery."""

    def redeliver(landing: Path) -> list[str]:
        return [name for part in parts if part.redeliver for name in part.redeliver(landing)]

    return Scenario(
        "all at once",
        held_back=[name for part in parts for name in part.held_back],
        publish=any(part.publish for part in parts),
        redeliver=redeliver,
        checks=[check for part in parts for check in part.checks],
    )


# ---------------------------------------------------------------- expected differences


def _incentive_rows(warehouse: Path, mart: str, month: date | None = None) -> Counter:
    """The rows of an incentive mart without its run-time columns, as a multiset."""
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        columns = [
            name
            for (name,) in connection.execute(
                "select column_name from information_schema.columns where table_schema = 'marts' and table_name = ?"
                " order by ordinal_position",
                [mart],
            ).fetchall()
            if name not in ("evaluated_at", "published_evaluated_at", "detected_at", "published_at", "published_by")
        ]
        where = " where period_month = ?" if month else ""
        rows = connection.execute(
            f"select {', '.join(columns)} from marts.{mart}{where}", [month] if month else []
        ).fetchall()
    return Counter(tuple(_normalise(value) for value in row) for row in rows)


def _published_differences(run: Path, first: Path, clean: Path, month: date) -> list[str]:
    """The published month's expected differences, asserted: what was published is the first
    refresh's evaluation of the month; a restatement exists exactly for each store-month whose
    evaluation changed since, saying published -> current."""
    problems = []
    eligibility_columns = "store_id, eligible, rules_passed, rules_failed, is_open_whole_month, reason, evaluation_hash"
    frozen = set(
        query(
            first,
            f"select {eligibility_columns} from marts.fct_store_incentive_eligibility where period_month = ?",
            [month],
        )
    )
    published = set(query(run, f"select {eligibility_columns} from marts.fct_store_incentive_published"))
    if published != frozen:
        problems.append(
            f"fct_store_incentive_published: {len(published ^ frozen)} rows differ from the verdicts of {month}"
            f" as published (e.g. {sorted(published ^ frozen)[:2]})"
        )
    then = {row[0]: (row[1], row[-1]) for row in frozen}
    now = {
        store: (eligible, digest)
        for store, eligible, digest in query(
            clean,
            "select store_id, eligible, evaluation_hash from marts.fct_store_incentive_eligibility"
            " where period_month = ?",
            [month],
        )
    }
    expected = {
        (
            store,
            "changed" if store in then and store in now else "added" if store in now else "withdrawn",
            (then.get(store) or (None,))[0],
            (now.get(store) or (None,))[0],
        )
        for store in set(then) | set(now)
        if then.get(store) != now.get(store)
    }
    got = set(
        query(
            run,
            "select store_id, restatement_kind, published_eligible, current_eligible"
            " from marts.fct_store_incentive_restatements",
        )
    )
    if got != expected:
        problems.append(
            f"fct_store_incentive_restatements: {sorted(got - expected)[:3]} not expected,"
            f" {sorted(expected - got)[:3]} missing"
        )
    if not expected:
        problems.append(f"{month}: no evaluation changed after the publish; the scenario proves nothing")
    return problems


def _history_differences(run: Path, first: Path, clean: Path) -> list[str]:
    """The incentive histories' expected differences, asserted (docs/program.md#restatements:
    every refresh appends a store-month's evaluation when it is new or changed)."""
    problems = []
    # the histories append a store-month's evaluation (and the rule results behind it) when its
    # evaluation_hash is new: the first refresh's rows, then the clean delivery's rows of every
    # store-month whose evaluation changed since (a changed actual behind an unchanged verdict
    # is not recorded again, by design)
    history, before, after = (
        _incentive_rows(warehouse, "fct_store_incentive_evaluations") for warehouse in (run, first, clean)
    )
    evaluations_before = {(row[0], row[1], row[-1]) for row in before}
    changed = {(row[0], row[1], row[-1]) for row in after} - evaluations_before
    expected_history = set(before) | set(after)
    if max(history.values(), default=1) > 1 or set(history) != expected_history:
        problems.append(
            f"fct_store_incentive_evaluations: {sum(history.values())} rows, expected the"
            f" {len(expected_history)} distinct evaluations of the first refresh and of the clean delivery"
        )
    mart = "fct_store_incentive_rule_evaluations"
    history, before, after = (_incentive_rows(warehouse, mart) for warehouse in (run, first, clean))
    expected_rules = set(before) | {row for row in after if (row[0], row[1], row[-1]) in changed}
    if max(history.values(), default=1) > 1 or set(history) != expected_rules:
        problems.append(
            f"{mart}: {sum(history.values())} rows; {len(set(history) - expected_rules)} not expected,"
            f" {len(expected_rules - set(history))} missing (e.g. {sorted(expected_rules ^ set(history))[:1]})"
        )
    return problems


def _summary_differences(run: Path, clean: Path) -> list[str]:
    """rpt_warehouse_summary: equal except the source_rows figures, whose delivered rows may only
    grow by exact duplicates (and file count by re-delivered files)."""

    def rows(warehouse: Path) -> tuple[Counter, dict]:
        with duckdb.connect(str(warehouse), read_only=True) as connection:
            relation = connection.sql(f"select * from marts.{SUMMARY}")
            names = relation.columns
            other, sources = Counter(), {}
            for row in relation.fetchall():
                record = dict(zip(names, row, strict=True))
                if record["figure_set"] == "source_rows":
                    sources[record["category"]] = (
                        record["rows_delivered"] - record["rows_exact_duplicate"],
                        record["rows_staged"],
                        record["rows_rejected"],
                    )
                else:
                    other[tuple(_normalise(value) for value in row)] += 1
            return other, sources

    (run_other, run_sources), (clean_other, clean_sources) = rows(run), rows(clean)
    problems = []
    if run_other != clean_other:
        problems.append(f"{SUMMARY}: {sum((run_other - clean_other).values())} figures differ outside source_rows")
    if run_sources != clean_sources:
        problems.append(
            f"{SUMMARY} source_rows (delivered - duplicates, staged, rejected): {run_sources} vs {clean_sources}"
        )
    return problems


# ---------------------------------------------------------------- running a scenario


def run_scenario(
    scenario: Scenario, workdir: Path, clean_folder: Path, clean: Path, month: date, parts: list[Scenario] = ()
) -> list[Result]:
    """Deliver ``scenario`` into a warehouse of its own under ``workdir`` and compare it with the
    clean reference ``clean``. Returns one Result for the scenario (marts, expected differences,
    the accounting identity, its checks) and, when it combines ``parts``, one Result per part
    (that part's checks and the accounting of its files). Mismatches are listed, never raised;
    raises CampaignError when a refresh that should publish does not."""
    from loyalty import incentive_actions
    from loyalty.settings import load_settings

    started = time.monotonic()
    slug = "".join(ch if ch.isalnum() else "-" for ch in scenario.what)
    folder = workdir / f"redelivery-{slug}"
    shutil.rmtree(folder, ignore_errors=True)
    landing, warehouse = folder / "landing", folder / "warehouse" / "loyalty.duckdb"
    shutil.copytree(clean_folder, landing)
    held = {landing / name: folder / "held" / name for name in scenario.held_back}
    for path, aside in held.items():
        aside.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(path, aside)
    if held or scenario.publish:
        must_publish(run_refresh(landing, warehouse), f"{scenario.what}: first delivery")
    else:  # the first delivery is the clean one: continue from a copy of the reference
        copy_warehouse(clean, warehouse.parent)
    first = folder / "first" / "loyalty.duckdb"
    first.parent.mkdir(parents=True)
    shutil.copyfile(warehouse, first)
    if scenario.publish:
        settings = load_settings({"LOYALTY_WAREHOUSE": str(warehouse)})
        incentive_actions.record(settings, "publish", month.isoformat()[:7], "fault-campaign", scenario.what)
    for path, aside in held.items():
        shutil.move(aside, path)
    added = scenario.redeliver(landing) if scenario.redeliver else []
    second = must_publish(run_refresh(landing, warehouse), f"{scenario.what}: second delivery")
    results = judge(scenario, folder, clean, month, added, parts)
    if "nothing new" in second.stdout:
        results[0].mismatches.append("the second refresh found nothing new")
        results[0].survived = 0
    results[0].seconds = time.monotonic() - started
    return results


def judge(
    scenario: Scenario, folder: Path, clean: Path, month: date, added: list[str], parts: list[Scenario] = ()
) -> list[Result]:
    """Compare the warehouse a scenario delivered into (``folder``: its landing, first and final
    warehouses) with the clean reference; the Results of ``run_scenario``."""
    landing, warehouse, first = (
        folder / "landing",
        folder / "warehouse" / "loyalty.duckdb",
        folder / "first" / "loyalty.duckdb",
    )
    extras = (LATE_ORDERS, STORE_CLOSING, MEMBER_CLOSING)
    context = {"month": month, "out_of_order": [name for name in scenario.held_back if name not in extras]}
    expected = HISTORY_MARTS | (PUBLISHED_MARTS if scenario.publish else frozenset())
    if added:
        expected |= {SUMMARY}
    mismatches = differing_marts(mart_checksums(warehouse), mart_checksums(clean), expected=expected)
    mismatches += _history_differences(warehouse, first, clean)
    if scenario.publish:
        mismatches += _published_differences(warehouse, first, clean, month)
    if added:
        mismatches += _summary_differences(warehouse, clean)
    broken = accounting(warehouse)[1]
    mismatches += broken

    def result(what: str, problems: list[str], files: list[str], seconds: float) -> Result:
        counted = accounting(warehouse, files)[0]
        return Result(
            part=PART,
            what=what,
            tried=1,
            survived=int(not problems),
            delivered=counted.delivered,
            staged=counted.staged,
            rejected=counted.rejected,
            duplicates=counted.duplicates,
            mismatches=problems,
            seconds=seconds,
        )

    if not parts:
        for check in scenario.checks:
            mismatches += check(warehouse, landing, context)
        return [result(scenario.what, mismatches, scenario.held_back + added, 0.0)]
    results = [result(f"{scenario.what}: marts vs one clean delivery", mismatches, scenario.held_back + added, 0.0)]
    for part in parts:
        problems = [line for check in part.checks for line in check(warehouse, landing, context)]
        files = part.held_back + [name for name in added if _belongs(name, part)]
        results.append(result(f"{part.what} (delivered {scenario.what})", problems, files, 0.0))
    return results


def _belongs(name: str, part: Scenario) -> bool:
    """Whether a re-delivered file name is one ``part`` writes."""
    if part.redeliver is _same_file_twice:
        return name.startswith("ledger_events/")
    if part.redeliver is _same_rows_new_name:
        return name.startswith("wallet_transactions/")
    return False


def campaign(workdir: Path, *, full: bool) -> list[Result]:
    """Every scenario at once in one two-refresh sequence: one Result for the marts and one per
    scenario for its own evidence. ``full`` only changes the data set (tools.faults.workspace:
    more accounts and months, so expiry and tier rules are exercised too). The clean reference
    is made if missing. Raises CampaignError when a refresh does not publish."""
    clean_folder, truth = clean_landing(workdir, full=full)
    clean, _ = reference(workdir, full=full)
    month = evaluated_month(truth)
    parts = scenarios(clean_folder, truth)
    return run_scenario(combined(parts), workdir, clean_folder, clean, month, parts)
