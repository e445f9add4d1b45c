"""The exit-code policy of docs/operations.md#exit-codes, on hand-made dbt artifacts."""

from __future__ import annotations

from loyalty.outcome import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK, RefreshOutcome


def _artifacts(*results: tuple[str, str, list[str]]) -> tuple[dict, dict]:
    run_results = {"results": [{"unique_id": uid, "status": status, "failures": 3} for uid, status, _ in results]}
    manifest = {"nodes": {uid: {"name": uid.split(".")[-1], "tags": tags} for uid, _, tags in results}}
    return run_results, manifest


def outcome_of(*results: tuple[str, str, list[str]]) -> RefreshOutcome:
    outcome = RefreshOutcome()
    outcome.extend(*_artifacts(*results))
    return outcome


def test_all_passing_exits_zero() -> None:
    outcome = outcome_of(("test.loyalty.a", "pass", []), ("model.loyalty.m", "success", []))
    assert outcome.exit_code == EXIT_OK
    assert outcome.publishable


def test_warnings_do_not_change_the_exit_code() -> None:
    assert outcome_of(("test.loyalty.minor", "warn", ["finding"])).exit_code == EXIT_OK


def test_failed_finding_publishes_and_exits_one() -> None:
    outcome = outcome_of(("test.loyalty.material", "fail", ["finding"]), ("test.loyalty.a", "pass", []))
    assert outcome.publishable
    assert outcome.exit_code == EXIT_FINDINGS
    assert [check.name for check in outcome.failed_findings] == ["material"]


def test_failed_integrity_check_blocks_publishing_and_exits_two() -> None:
    outcome = outcome_of(("test.loyalty.unique_key", "fail", []), ("test.loyalty.material", "fail", ["finding"]))
    assert not outcome.publishable
    assert outcome.exit_code == EXIT_ERROR


def test_a_finding_whose_sql_errors_is_an_error_not_a_finding() -> None:
    assert outcome_of(("test.loyalty.material", "error", ["finding"])).exit_code == EXIT_ERROR


def test_a_model_that_failed_to_build_exits_two() -> None:
    assert outcome_of(("model.loyalty.fct", "error", [])).exit_code == EXIT_ERROR


def test_failing_unit_test_is_an_integrity_failure() -> None:
    outcome = RefreshOutcome()
    outcome.extend(
        {"results": [{"unique_id": "unit_test.loyalty.fct.boundary", "status": "fail", "failures": 1}]},
        {"unit_tests": {"unit_test.loyalty.fct.boundary": {"name": "boundary", "tags": []}}},
    )
    assert outcome.exit_code == EXIT_ERROR
