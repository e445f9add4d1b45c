"""The Dagster code location loads and is wired the way CONTRACT §1 and the README say."""

from __future__ import annotations

import dagster as dg
import pytest
import yaml

from orchestration.landing import SOURCES
from orchestration.settings import PROJECT_DIR, load_settings


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    from orchestration.definitions import defs

    return defs


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

    from orchestration.defs.dbt import ensure_manifest

    manifest = json.loads(ensure_manifest().read_text())
    tests = [node for node in manifest["nodes"].values() if node["resource_type"] == "test"]
    checks = defs.resolve_asset_graph().asset_check_keys
    assert len(checks) == len(tests)
    assert len({check.name for check in checks if check.asset_key}) >= 1


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


def test_landing_contract_matches_the_dbt_sources() -> None:
    declared: dict[str, list[str]] = {}
    for path in (PROJECT_DIR / "models" / "staging").glob("*/_*__sources.yml"):
        for source in yaml.safe_load(path.read_text())["sources"]:
            for table in source["tables"]:
                declared[table["name"]] = [column["name"] for column in table.get("columns", [])]
    for name, source in SOURCES.items():
        assert declared[name][: len(source.columns)] == list(source.columns), name


def test_bad_target_is_a_named_error() -> None:
    with pytest.raises(ValueError, match="LOYALTY_TARGET='oracle'"):
        load_settings({"LOYALTY_TARGET": "oracle"})
