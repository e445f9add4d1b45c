"""Closing store incentive months through Dagster partitions: a backfill over a range of months
evaluates and publishes each month, matching the generator's ground truth, and closing a month
again does not re-publish it."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from loyalty import incentive_actions
from loyalty.settings import load_settings

from conftest import Refresh, closed_month_materializations, copy_warehouse

pytestmark = pytest.mark.e2e

MONTHS = ["2025-05-01", "2025-06-01", "2025-07-01"]


def test_backfill_of_months_publishes_each_matching_the_truth(
    refreshed: tuple[Path, Refresh], small_data: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse = copy_warehouse(refreshed[0], tmp_path / "copy")
    monkeypatch.setenv("LOYALTY_WAREHOUSE", str(warehouse))
    monkeypatch.setenv("LOYALTY_LANDING_DIR", str(small_data[0]))
    from orchestration.definitions import build_defs

    job = build_defs(load_settings()).resolve_job_def("incentive_close")
    instance = dg.DagsterInstance.ephemeral()
    # a close builds a selection only: the project the build state was computed with stays
    # whatever it was, so a refresh after a new project version still rebuilds in full
    refresh_journal = load_settings().refresh_journal
    refresh_journal.write_text(json.dumps({**json.loads(refresh_journal.read_text()), "project": "older"}))
    with (small_data[1] / "store_eligibility.csv").open(newline="") as handle:
        truth = list(csv.DictReader(handle))
    for month in MONTHS:  # what a backfill over the range runs, one partition at a time
        result = job.execute_in_process(partition_key=month, instance=instance, raise_on_error=False)
        assert result.success, month
        (materialization,) = closed_month_materializations(result)
        metadata = {key: value.value for key, value in materialization.metadata.items()}
        expected = [row for row in truth if row["period_month"] == month]
        assert metadata["stores"] == len(expected)
        assert metadata["eligible_stores"] == sum(row["eligible"] == "true" for row in expected)
        assert metadata["newly_published"] is True
        # the dbt models it rebuilt are materializations of their own assets, its tests checks
        rebuilt = {event.asset_key.path[-1] for event in result.get_asset_materialization_events()}
        assert {"fct_store_incentive_eligibility", "fct_store_incentive_restatements"} <= rebuilt
        assert any(
            evaluation.asset_key.path[-1] == "fct_store_incentive_eligibility"
            for evaluation in result.get_asset_check_evaluations()
        )

    settings = load_settings()
    journal = incentive_actions.journal_path(settings).read_text().splitlines()
    assert [json.loads(line)["period_month"] for line in journal] == MONTHS
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        published = connection.execute(
            "select distinct cast(period_month as varchar) from marts.fct_store_incentive_published order by 1"
        ).fetchall()
    assert [month for (month,) in published] == MONTHS
    assert json.loads(refresh_journal.read_text())["project"] == "older"

    again = job.execute_in_process(partition_key=MONTHS[0], instance=instance, raise_on_error=False)
    (materialization,) = closed_month_materializations(again)
    assert materialization.metadata["newly_published"].value is False
    assert len(incentive_actions.journal_path(settings).read_text().splitlines()) == len(MONTHS)
