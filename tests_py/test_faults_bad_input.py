"""Fault campaign parts "bad input" and "property-based" (docs/reliability.md#bad-input,
tools/faults/bad_input.py), in their bounded form.

The bad-input catalogue: every kind of bad input has its documented outcome (quarantined with
its reason, staged, loaded with a schema-drift warning, or the file refused with a named
error), the valid rows beside a bad one are staged exactly as the clean row they copy, and
delivered = staged + rejected + exact duplicates holds for every file.

The property-based part: hypothesis mixes a random choice of the catalogue's bad rows (every
kind whose bad row can ride along with a fresh key) into the clean rows of a generated data
set, split into random files delivered in random batches (one incremental build per batch),
and checks conservation per file, that every clean row is staged exactly once, that every bad
row is rejected for its kind's reason, and that the marts equal those of the same clean rows
delivered in one file per source. Choice made for the marts that legitimately depend on
rejected rows: the bad rows are chosen so that they *cannot* change a verdict — their
movements happen after every snapshot's as_of (so no quarantined movement can explain a drift
as ``rejected_movement``), they have fresh keys (no dimension changes state, no account or
store appears), and the one conflicting re-delivery comes last (the first delivery is kept) —
and the comparison leaves out only what counts rows by definition or records the delivery
itself (tools.faults.bad_input, ``ROW_COUNT_FIGURE_SETS``, ``SKIPPED_COLUMNS``,
``SKIPPED_MARTS``: row counts of rpt_warehouse_summary, the delivering file of dim_members /
dim_stores, the per-refresh evaluation logs). The hypothesis profile is bounded here
(2 examples, derandomized, at most 2 batches); ``campaign(full=True)`` (``make faults``) runs
more examples and batches with fresh randomness.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from loyalty.landing.contract import SOURCES
from tools.faults import Result
from tools.faults import bad_input as catalogue

PROJECT_DIR = Path(__file__).resolve().parent.parent
REASONS = (
    "missing_key",
    "missing_value",
    "unparseable_number",
    "unparseable_timestamp",
    "unknown_enum",
    "wrong_sign",
    "recorded_before_occurred",
    "future_timestamp",
    "unknown_account",
    "unknown_store",
    "conflicting_duplicate",
)


def docs_table() -> list[dict[str, str]]:
    """The rows of the table in docs/reliability.md, section "Bad input"."""
    text = (PROJECT_DIR / "docs" / "reliability.md").read_text(encoding="utf-8")
    section = text.split("## Bad input", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        kind, example, outcome, reason = cells[0], cells[1], cells[2], cells[3]
        rows.append(
            {
                "kind": kind.strip("`"),
                "example": example.replace("\\|", "|"),
                "outcome": outcome,
                "reason": reason.strip("`"),
            }
        )
    return rows


def test_the_docs_table_is_the_registry() -> None:
    assert docs_table() == catalogue.catalogue_table()


def test_the_catalogue_is_broad_and_names_every_reason() -> None:
    names = [kind.name for kind in catalogue.CATALOGUE]
    assert len(names) == len(set(names)) >= 30
    quarantined = {kind.reason for kind in catalogue.CATALOGUE if kind.outcome == "quarantined"}
    assert quarantined == set(REASONS)
    assert {kind.outcome for kind in catalogue.CATALOGUE} == set(catalogue.OUTCOMES)
    assert {kind.source for kind in catalogue.CATALOGUE} == set(SOURCES)
    assert {kind.file_format for kind in catalogue.CATALOGUE} == {"csv", "parquet"}


def test_a_kind_with_an_unknown_outcome_is_refused_by_the_registry() -> None:
    with pytest.raises(ValueError, match="outcome"):
        catalogue.Kind("x", "orders", "csv", "dropped", "r", "d", "e", lambda *a: None)
    with pytest.raises(ValueError, match="reason"):
        catalogue.Kind("x", "orders", "csv", "quarantined", "", "d", "e", lambda *a: None)


@pytest.fixture(scope="module")
def campaign_results(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Result]]:
    workdir = tmp_path_factory.mktemp("faults-bad-input")
    return workdir, catalogue.campaign(workdir, full=False)


@pytest.mark.e2e
def test_every_kind_of_bad_input_has_its_documented_outcome(campaign_results) -> None:
    _, results = campaign_results
    bad_input = [result for result in results if result.part == "bad input"]
    assert [result.what for result in bad_input] == [kind.name for kind in catalogue.CATALOGUE]
    assert [(r.what, r.mismatches) for r in bad_input if r.mismatches or r.survived != r.tried] == []
    assert all(result.conserved for result in bad_input)
    # row-level kinds delivered rows (valid neighbours at least), refused ones nothing
    delivered = {result.what: result.delivered for result in bad_input}
    for kind in catalogue.CATALOGUE:
        if kind.outcome == "refused" or kind.name == "csv_header_only":
            assert delivered[kind.name] == 0, kind.name
        else:
            assert delivered[kind.name] >= 2, kind.name


@pytest.mark.e2e
def test_a_wrong_expectation_is_reported_not_raised(campaign_results) -> None:
    """The checks can fail: the same file judged against another reason is a mismatch."""
    import duckdb

    workdir, _ = campaign_results
    kind = next(k for k in catalogue.CATALOGUE if k.name == "currency_not_iso_4217")
    index = catalogue.CATALOGUE.index(kind)
    file = f"{kind.source}/zz_k{index:02d}.csv"
    wrong = catalogue.Written(file, {1: ("staged", None), 2: ("rejected", "wrong_sign"), 3: ("staged", None)})
    with duckdb.connect(str(workdir / "row_kinds.duckdb"), read_only=True) as connection:
        counts = {file: (3, 2, 1, 0)}
        problems = catalogue.check_row_kind(connection, kind, wrong, counts)
    assert problems == [f"{file} row 2: rejected (unknown_enum), expected rejected (wrong_sign)"]


@pytest.mark.e2e
def test_bad_rows_mixed_into_random_deliveries_change_nothing(campaign_results) -> None:
    _, results = campaign_results
    [mixed] = [result for result in results if result.part == "property-based"]
    assert mixed.mismatches == []
    assert mixed.tried >= 1 and mixed.survived == mixed.tried
    assert mixed.conserved and mixed.rejected > 0 and mixed.staged > 0
