"""The Dagster code location loads and is wired the way docs/operations.md#refresh and the README say."""

from __future__ import annotations

import os

import dagster as dg
import pytest

from loyalty.landing.contract import SOURCES
from loyalty.settings import PROJECT_DIR, load_settings


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    from orchestration.definitions import build_defs

    return build_defs(load_settings())


def test_definitions_validate(defs: dg.Definitions) -> None:
    dg.Definitions.validate_loadable(defs)


def test_raw_assets_feed_the_dbt_sources(defs: dg.Definitions) -> None:
    graph = defs.resolve_asset_graph()
    for source in SOURCES:
        key = dg.AssetKey(["raw", source])
        assert key in graph.get_all_asset_keys()
        children = graph.get(key).child_keys
        assert children, f"nothing in dbt reads raw/{source}"


def test_every_dbt_test_is_an_asset_check(defs: dg.Definitions) -> None:
    import json

    manifest = json.loads((load_settings().manifest_dir / "manifest.json").read_text())
    tests = [node for node in manifest["nodes"].values() if node["resource_type"] == "test"]
    checks = defs.resolve_asset_graph().asset_check_keys
    dbt_checks = [check for check in checks if check.name != "source_freshness"]
    assert len(dbt_checks) == len(tests)  # every test, singular and relationship ones too, once
    assert len({(check.asset_key, check.name) for check in dbt_checks}) == len(tests)
    freshness = {check.asset_key.path[-1] for check in checks if check.name == "source_freshness"}
    assert freshness == set(SOURCES)


def test_refresh_job_and_daily_schedule(defs: dg.Definitions) -> None:
    job = defs.resolve_job_def("refresh")
    schedule = defs.resolve_schedule_def("daily_refresh")
    assert schedule.job_name == job.name
    assert schedule.cron_schedule == "0 6 * * *"
    published = dg.AssetKey(["published_warehouse"])
    graph = defs.resolve_asset_graph()
    # publish runs after every dbt model
    upstream = graph.get(published).parent_keys
    assert any(key.path[-1].startswith("stg_") for key in upstream)


def test_bad_target_is_a_named_error() -> None:
    with pytest.raises(ValueError, match="LOYALTY_TARGET='oracle'"):
        load_settings({"LOYALTY_TARGET": "oracle"})


@pytest.mark.parametrize(("tick", "month"), [((2026, 3, 2), "2026-02-01"), ((2026, 1, 2), "2025-12-01")])
def test_monthly_incentive_schedule_closes_the_previous_month(
    defs: dg.Definitions, tick: tuple[int, int, int], month: str
) -> None:
    from datetime import UTC, datetime

    schedule = defs.resolve_schedule_def("monthly_incentive_evaluation")
    assert schedule.cron_schedule == "0 7 2 * *"
    assert schedule.job_name == "incentive_close"
    context = dg.build_schedule_context(scheduled_execution_time=datetime(*tick, 7, tzinfo=UTC))
    (request,) = schedule.evaluate_tick(context).run_requests
    assert request.partition_key == month


def test_new_landing_files_sensor_requests_a_refresh_once_per_new_content(
    defs: dg.Definitions, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings({**os.environ, "LOYALTY_LANDING_DIR": str(tmp_path)})
    (tmp_path / "members").mkdir()
    (tmp_path / "members" / "a.csv").write_text("account_id,email,enrolled_at,home_store_id,status\n")
    sensor = defs.resolve_sensor_def("new_landing_files")
    first = sensor.evaluate_tick(dg.build_sensor_context(resources={"settings": settings}))
    assert len(first.run_requests) == 1
    again = sensor.evaluate_tick(dg.build_sensor_context(cursor=first.cursor, resources={"settings": settings}))
    assert again.run_requests == [] and again.skip_message == "no new landing files"
    (tmp_path / "members" / "b.csv").write_text("account_id,email,enrolled_at,home_store_id,status\n")
    later = sensor.evaluate_tick(dg.build_sensor_context(cursor=first.cursor, resources={"settings": settings}))
    assert len(later.run_requests) == 1 and later.cursor != first.cursor


def test_dagster_queues_warehouse_writers_one_at_a_time(defs: dg.Definitions, tmp_path, monkeypatch) -> None:
    (tmp_path / "dagster.yaml").write_text((PROJECT_DIR / "orchestration" / "dagster.yaml").read_text())
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    instance = dg.DagsterInstance.get()
    limits = instance.get_concurrency_config().run_queue_config.tag_concurrency_limits
    assert {"key": "loyalty/warehouse", "limit": 1} in limits
    for job in ("refresh", "incentive_close"):
        assert "loyalty/warehouse" in defs.resolve_job_def(job).tags


def test_dbt_commands_open_no_in_process_adapter() -> None:
    # orchestration/defs/resources.py overrides dagster-dbt's hook (docs/operations.md#fixed-costs):
    # an upgrade of dagster-dbt that renames it must fail here, not silently cost ~6 s per command
    from dagster_dbt import DbtCliResource

    from orchestration.defs.resources import WarehouseDbtResource, dbt_executable

    assert callable(vars(DbtCliResource).get("_initialize_dbt_core_adapter"))
    assert "_initialize_dbt_core_adapter" in vars(WarehouseDbtResource)
    assert (
        WarehouseDbtResource(
            project_dir=str(PROJECT_DIR), dbt_executable=dbt_executable()
        )._initialize_dbt_core_adapter(["build"])
        is None
    )
