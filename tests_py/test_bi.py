"""The Superset bundle shipped in bi/superset/bundle and what `make bi` does with it before
Superset starts: no machine's address in the repo, the warehouse's filled in at import, the
audit charts left out where finance_reader cannot read them, clear errors when there is nothing
to show, and dbt exposures that name exactly what each dashboard reads. Superset itself runs in
tests_py/test_bi_superset.py (`make bi-test`)."""

from __future__ import annotations

import re
import zipfile
from io import BytesIO
from pathlib import Path

import duckdb
import pytest
import yaml

from bi.serve import (
    BUNDLE_DIR,
    URI_PLACEHOLDER,
    BiError,
    WarehouseConnection,
    bundle_zip,
    duckdb_connection,
    fill_bundle,
    read_bundle,
    warehouse_connection,
)
from loyalty.settings import load_settings

from conftest import PROJECT_DIR

DUCKDB = WarehouseConnection("duckdb:////data/w.duckdb", {"connect_args": {"read_only": True}}, ("marts", "audit"), "")
POSTGRES = WarehouseConnection("postgresql+psycopg2://r:p@h:5432/d", {}, ("marts",), "")
SLUGS = {"month-end-pack", "operations"}


def by_kind(files: dict, kind: str) -> dict:
    return {name: content for name, content in files.items() if name.startswith(f"{kind}/")}


def placed_chart_uuids(dashboard: dict) -> list[str]:
    nodes = [node for node in dashboard["position"].values() if isinstance(node, dict)]
    return [node["meta"]["uuid"] for node in nodes if node.get("type") == "CHART"]


def test_the_bundle_in_the_repo_names_no_machine() -> None:
    files = read_bundle()
    (database,) = by_kind(files, "databases").values()
    assert database["sqlalchemy_uri"] == URI_PLACEHOLDER
    text = "\n".join(path.read_text(encoding="utf-8") for path in BUNDLE_DIR.rglob("*.yaml"))
    assert not re.search(r"/tmp/|/work/|/home/|duckdb:///|postgresql://", text)


def test_the_bundle_holds_the_two_dashboards_with_every_chart_placed() -> None:
    files = read_bundle()
    dashboards = by_kind(files, "dashboards").values()
    assert {dashboard["slug"] for dashboard in dashboards} == SLUGS
    charts = {content["uuid"]: content for content in by_kind(files, "charts").values()}
    datasets = {content["uuid"] for content in by_kind(files, "datasets").values()}
    placed = [uuid for dashboard in dashboards for uuid in placed_chart_uuids(dashboard)]
    assert sorted(placed) == sorted(charts), "each chart is placed once, on one dashboard"
    assert {chart["dataset_uuid"] for chart in charts.values()} <= datasets


def test_the_warehouse_is_filled_in_at_import() -> None:
    filled = fill_bundle(read_bundle(), DUCKDB)
    (database,) = by_kind(filled, "databases").values()
    assert database["sqlalchemy_uri"] == DUCKDB.uri
    assert database["extra"]["engine_params"] == {"connect_args": {"read_only": True}}
    assert len(by_kind(filled, "charts")) == len(by_kind(read_bundle(), "charts"))
    with zipfile.ZipFile(BytesIO(bundle_zip(filled))) as archive:
        names = archive.namelist()
        assert "loyalty_bundle/metadata.yaml" in names
        database = yaml.safe_load(archive.read("loyalty_bundle/databases/Loyalty_warehouse.yaml"))
        assert database["sqlalchemy_uri"] == DUCKDB.uri


def test_on_postgres_the_charts_on_the_audit_schema_are_left_out() -> None:
    original = read_bundle()
    filled = fill_bundle(original, POSTGRES)
    assert {content["schema"] for content in by_kind(filled, "datasets").values()} == {"marts"}
    audit = {content["uuid"] for content in by_kind(original, "datasets").values() if content["schema"] == "audit"}
    left_out = {content["uuid"] for content in by_kind(original, "charts").values() if content["dataset_uuid"] in audit}
    assert left_out, "the Operations dashboard reads the audit schema"
    charts = {content["uuid"] for content in by_kind(filled, "charts").values()}
    assert not charts & left_out
    for dashboard in by_kind(filled, "dashboards").values():
        assert set(placed_chart_uuids(dashboard)) <= charts
        rows = [node for node in dashboard["position"].values() if isinstance(node, dict) and node.get("type") == "ROW"]
        assert all(row["children"] for row in rows), "no empty row is left behind"
        for node in dashboard["position"].values():
            if isinstance(node, dict):
                assert all(child in dashboard["position"] for child in node.get("children", []))


def test_a_database_entry_with_an_address_is_refused() -> None:
    files = read_bundle()
    name = next(iter(by_kind(files, "databases")))
    files[name] = {**files[name], "sqlalchemy_uri": "duckdb:////somewhere/loyalty.duckdb"}
    with pytest.raises(BiError, match=f"sqlalchemy_uri must be {URI_PLACEHOLDER}"):
        fill_bundle(files, DUCKDB)


def test_without_a_published_warehouse_make_bi_says_what_to_run(tmp_path: Path) -> None:
    settings = load_settings({"LOYALTY_WAREHOUSE": str(tmp_path / "loyalty.duckdb")})
    with pytest.raises(BiError, match=r"no published warehouse at .*: run `make demo` \(demo data\) or `make refresh`"):
        duckdb_connection(settings)


def test_a_file_without_marts_is_not_served(tmp_path: Path) -> None:
    path = tmp_path / "other.duckdb"
    duckdb.connect(str(path)).close()
    with pytest.raises(BiError, match="holds no marts schema"):
        duckdb_connection(load_settings({"LOYALTY_WAREHOUSE": str(path)}))


def test_the_spark_target_has_nothing_for_bi(tmp_path: Path) -> None:
    settings = load_settings({"LOYALTY_WAREHOUSE": str(tmp_path / "w.duckdb"), "LOYALTY_TARGET": "spark"})
    with pytest.raises(BiError, match="publishes no warehouse for BI"):
        warehouse_connection(settings)


def test_the_exposures_name_exactly_what_each_dashboard_reads() -> None:
    """models/marts/_marts__exposures.yml: one dashboard exposure per slug, its url the
    dashboard's, its depends_on the dbt models behind the dashboard's datasets (audit.alerts is
    written by the publish step, not dbt: no model to name)."""
    files = read_bundle()
    datasets = {content["uuid"]: content for content in by_kind(files, "datasets").values()}
    charts = {content["uuid"]: content for content in by_kind(files, "charts").values()}
    exposures = yaml.safe_load((PROJECT_DIR / "models" / "marts" / "_marts__exposures.yml").read_text())["exposures"]
    by_url = {exposure["url"]: exposure for exposure in exposures if "url" in exposure}
    for dashboard in by_kind(files, "dashboards").values():
        exposure = by_url[f"http://127.0.0.1:8088/superset/dashboard/{dashboard['slug']}/"]
        assert exposure["type"] == "dashboard"
        tables = {datasets[charts[uuid]["dataset_uuid"]]["table_name"] for uuid in placed_chart_uuids(dashboard)}
        assert sorted(exposure["depends_on"]) == sorted(f"ref('{table}')" for table in tables - {"alerts"})
    assert len([exposure for exposure in exposures if exposure["type"] == "dashboard"]) == len(SLUGS)
