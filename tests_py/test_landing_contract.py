"""The landing registry (loyalty/landing/contract.py) is the one definition of the landing
sources; the places Python cannot derive from it are held to it here (docs/landing.md):

* the dbt sources YAML declares exactly the registry's tables and columns;
* every source has a base model whose parsed columns have the registry's types, and the
  audit models (``delivery_base_models()``) cover it;
* the loader's raw tables and the generator's files carry exactly the registry's columns.

Each failure says what to add where; the README's "Add a landing source" is the full recipe.
The base models are built with ``dbt run --empty`` on the raw tables the loader creates.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from loyalty.landing.contract import COLUMN_TYPES, LOAD_COLUMNS, SOURCES, LandingSource
from loyalty.landing.loader import DuckDBRawStore
from loyalty.settings import PROJECT_DIR
from tools.sample_data import writer

STAGING = PROJECT_DIR / "models" / "staging"
MODEL_LISTS = "macros/sql/model_lists.sql"
# The models that read every base model through delivery_base_models().
AUDIT_MODELS = ("rejected_source_rows", "source_row_accounting")
# Columns every base model hands to the audit models (macros/sql/quarantine.sql).
QUARANTINE_COLUMNS = (
    "landing_source",
    "landing_source_kind",
    *LOAD_COLUMNS,
    "row_key",
    "raw_row",
    "row_status",
    "reason",
    "reason_detail",
)
# DuckDB type (prefix) of a base model's parsed column, per logical type.
DUCKDB_TYPES = {
    "text": ("VARCHAR",),
    "enum": ("VARCHAR",),
    "integer": ("BIGINT", "INTEGER", "HUGEINT"),
    "decimal": ("DECIMAL",),
    "date": ("DATE",),
    "timestamp": ("TIMESTAMP",),
    "boolean": ("BOOLEAN",),
}
ARROW_CHECKS = {
    "text": pa.types.is_string,
    "enum": pa.types.is_string,
    "integer": pa.types.is_int64,
    "decimal": pa.types.is_decimal,
    "date": pa.types.is_date32,
    "timestamp": pa.types.is_timestamp,
    "boolean": pa.types.is_boolean,
}


def sources_file(source: LandingSource) -> str:
    return f"models/staging/{source.system}/_{source.system}__sources.yml"


def base_model_file(source: LandingSource) -> str:
    return f"models/staging/{source.system}/base/{source.base_model}.sql"


def declared_tables() -> dict[str, tuple[str, dict, dict, str]]:
    """Every table of the dbt sources YAML: name -> (dbt source, source, table, file)."""
    tables = {}
    for path in sorted(STAGING.glob("*/_*__sources.yml")):
        for dbt_source in yaml.safe_load(path.read_text())["sources"]:
            for table in dbt_source.get("tables", []):
                tables[table["name"]] = (dbt_source["name"], dbt_source, table, str(path.relative_to(PROJECT_DIR)))
    return tables


def column_names(table: dict) -> list[str]:
    return [column["name"] for column in table.get("columns") or []]


# --- the registry itself ---------------------------------------------------------------------
def test_the_registry_names_each_kind_the_contract_gives() -> None:
    kinds = {name: source.kind for name, source in SOURCES.items()}
    assert {name: kinds.get(name) for name in ("ledger_events", "wallet_transactions", "members", "orders")} == {
        "ledger_events": "fact",
        "wallet_transactions": "fact",
        "members": "dimension",
        "orders": "change_feed",
    }


def test_a_bad_registry_entry_is_a_named_error() -> None:
    from loyalty.landing.contract import Column

    with pytest.raises(ValueError, match="key column 'card' is not one of its columns"):
        LandingSource("gift_cards", "loyalty", "fact", (Column("card_id", "text"),), ("card",))
    with pytest.raises(ValueError, match="an enum lists its values"):
        Column("status", "enum")
    with pytest.raises(ValueError, match="kind 'facts' is not one of"):
        LandingSource("gift_cards", "loyalty", "facts", (Column("card_id", "text"),), ("card_id",))


# --- the dbt sources YAML --------------------------------------------------------------------
def test_sources_yaml_declares_every_registry_source_with_its_columns() -> None:
    tables = declared_tables()
    for name, source in SOURCES.items():
        where = sources_file(source)
        assert name in tables, (
            f"landing source '{name}' is not declared in dbt: add table '{name}' under source "
            f"'{source.system}' (schema raw) in {where}, with its columns and the loader's {', '.join(LOAD_COLUMNS)}"
        )
        system, dbt_source, table, found_in = tables[name]
        assert system == source.system and dbt_source.get("schema") == "raw", (
            f"{found_in} declares '{name}' under source '{system}' (schema {dbt_source.get('schema')}); "
            f"the registry says system '{source.system}': move it to {where}, source '{source.system}', schema raw"
        )
        expected = [*source.columns, *LOAD_COLUMNS]
        actual = column_names(table)
        missing = [column for column in expected if column not in actual]
        extra = [column for column in actual if column not in expected]
        assert actual == expected, (
            f"{found_in}, table '{name}': list the registry's columns then the loader's, in this order: "
            f"{expected}; "
            + (f"add {missing} " if missing else "")
            + (f"remove {extra} (not in the registry) " if extra else "")
            + ("" if missing or extra else f"reorder them (declared: {actual})")
        )
        asset_key = ((table.get("meta") or {}).get("dagster") or {}).get("asset_key")
        assert asset_key == ["raw", name], (
            f"{found_in}, table '{name}': add meta: {{dagster: {{asset_key: ['raw', '{name}']}}}} so Dagster "
            "maps the dbt source to the loader's raw asset"
        )
        config = {**(dbt_source.get("config") or {}), **(table.get("config") or {})}
        assert config.get("loaded_at_field") == "_loaded_at" and config.get("freshness"), (
            f"{found_in}: source '{system}' needs config loaded_at_field: _loaded_at and a freshness "
            "(copy the block from models/staging/commerce/_commerce__sources.yml)"
        )


def test_sources_yaml_declares_no_landing_table_the_registry_lacks() -> None:
    landed = {
        name: found_in
        for name, (_, _, table, found_in) in declared_tables().items()
        if set(LOAD_COLUMNS) & set(column_names(table))
    }
    extra = {name: found_in for name, found_in in landed.items() if name not in SOURCES}
    assert not extra, (
        f"the dbt sources declare landing tables the registry does not know: {extra}; add each as a "
        "LandingSource in loyalty/landing/contract.py (or remove it from the YAML)"
    )


# --- base models, built empty ----------------------------------------------------------------
@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    """The dbt manifest and a DuckDB file holding the loader's raw tables and every base model
    (with the seeds they read, e.g. iso_4217_currencies: ``+base_*`` and ``build``, tests left out)."""
    root = tmp_path_factory.mktemp("landing-contract")
    warehouse = root / "empty.duckdb"
    with duckdb.connect(str(warehouse)) as connection:
        DuckDBRawStore(connection)
    env = {**os.environ, "LOYALTY_WAREHOUSE": str(warehouse), "LOYALTY_TARGET": "duckdb"}
    command = [
        str(Path(sys.executable).with_name("dbt")),
        "--no-use-colors",
        "build",
        "--empty",
        "--select",
        "+base_*",
        "--exclude-resource-type",
        "test",
        "unit_test",
        "--profiles-dir",
        str(PROJECT_DIR),
        "--target-path",
        str(root / "target"),
        "--log-path",
        str(root / "logs"),
        "--vars",
        json.dumps({"duckdb_path": str(warehouse)}),
    ]
    result = subprocess.run(command, cwd=PROJECT_DIR, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"the base models do not build on empty raw tables:\n{result.stdout[-4000:]}"
    return json.loads((root / "target" / "manifest.json").read_text()), warehouse


def models_by_name(manifest: dict) -> dict[str, dict]:
    return {node["name"]: node for node in manifest["nodes"].values() if node["resource_type"] == "model"}


def test_loader_creates_the_registry_columns(built: tuple[dict, Path]) -> None:
    _, warehouse = built
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        for name, source in SOURCES.items():
            columns = [
                row[0]
                for row in connection.execute(
                    "select column_name from information_schema.columns where table_schema = 'raw' "
                    "and table_name = ? order by ordinal_position",
                    [name],
                ).fetchall()
            ]
            assert columns == [*source.columns, *LOAD_COLUMNS], f"raw.{name} does not follow the registry"


@pytest.mark.parametrize("name", list(SOURCES))
def test_every_source_has_a_base_model_reading_it(built: tuple[dict, Path], name: str) -> None:
    source = SOURCES[name]
    models = models_by_name(built[0])
    assert source.base_model in models, (
        f"landing source '{name}' has no base model: add {base_model_file(source)} (copy "
        "base_commerce__store_targets.sql: parse each column, write its quarantine checks in the order of "
        "docs/landing.md#rejection-reasons, "
        f"number_deliveries, classify_deliveries('numbered', '{name}', columns))"
    )
    node = models[source.base_model]
    reads = [f"source.{node['package_name']}.{source.system}.{name}"]
    assert set(reads) <= set(node["depends_on"]["nodes"]), (
        f"{node['original_file_path']} must select from {{{{ source('{source.system}', '{name}') }}}}"
    )
    compiled = node.get("compiled_code") or ""
    assert f"'{name}' as landing_source" in compiled, (
        f"{node['original_file_path']}: pass '{name}' to classify_deliveries so its rows are labelled landing_source"
    )
    assert f"'{source.kind}' as landing_source_kind" in compiled, (
        f"{node['original_file_path']} classifies '{name}' rows as another kind than the registry's "
        f"'{source.kind}' (docs/landing.md#same-key-different-payload): set '{name}': '{source.kind}' in "
        f"landing_source_kinds() in {MODEL_LISTS}"
    )
    for column in source.fields:
        for value in column.values:
            assert f"'{value}'" in compiled, (
                f"{node['original_file_path']}: the registry accepts {column.name} = '{value}' but the base "
                f"model's unknown_enum check does not name it; add it to the accepted values"
            )


@pytest.mark.parametrize("name", list(SOURCES))
def test_base_model_columns_cover_the_registry(built: tuple[dict, Path], name: str) -> None:
    source = SOURCES[name]
    _, warehouse = built
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        types = dict(
            connection.execute(
                "select column_name, data_type from information_schema.columns where table_name = ?",
                [source.base_model],
            ).fetchall()
        )
    if not types:
        pytest.fail(f"base model {source.base_model} was not built: add {base_model_file(source)}")
    where = base_model_file(source)
    for column in source.fields:
        assert types.get(f"raw_{column.name}") == "VARCHAR", (
            f"{where}: no delivered text raw_{column.name}; list '{column.name}' in the model's `columns` "
            "variable (delivery_columns keeps the delivered text of each)"
        )
        actual = types.get(column.name)
        assert actual is not None and actual.startswith(DUCKDB_TYPES[column.type]), (
            f"{where}: column {column.name} should be parsed as {column.type} "
            f"({' or '.join(DUCKDB_TYPES[column.type])}), the model gives {actual or 'no such column'}"
        )
    missing = [column for column in QUARANTINE_COLUMNS if column not in types]
    assert not missing, (
        f"{where} lacks {missing}: end it with number_deliveries and classify_deliveries "
        "(macros/sql/quarantine.sql) like the other base models"
    )


@pytest.mark.parametrize("name", list(SOURCES))
def test_every_source_has_a_staging_model(built: tuple[dict, Path], name: str) -> None:
    source = SOURCES[name]
    models = models_by_name(built[0])
    base_id = f"model.{built[0]['metadata']['project_name']}.{source.base_model}"
    readers = [
        model
        for model, node in models.items()
        if model.startswith(f"stg_{source.system}__") and base_id in node["depends_on"]["nodes"]
    ]
    assert readers, (
        f"nothing reads {source.base_model}'s staged rows: add models/staging/{source.system}/"
        f"stg_{source.system}__<entity>.sql (select the row_status = 'staged' rows, rename, one row per key) "
        f"and document it with its grain test in models/staging/{source.system}/_{source.system}__models.yml"
    )


def test_delivery_base_models_covers_every_source(built: tuple[dict, Path]) -> None:
    models = models_by_name(built[0])
    expected = {f"model.{node['package_name']}.{name}" for name, node in models.items() if name.startswith("base_")}
    registered = {source.base_model for source in SOURCES.values()}
    stray = sorted(name for name in models if name.startswith("base_") and name not in registered)
    assert not stray, (
        f"base models {stray} are named base_<system>__<source> but no landing source in "
        "loyalty/landing/contract.py has that system and name"
    )
    for audit in AUDIT_MODELS:
        missing = sorted(node.split(".")[-1] for node in expected - set(models[audit]["depends_on"]["nodes"]))
        assert not missing, (
            f"{audit} does not read {missing}: add them to delivery_base_models() in {MODEL_LISTS}, "
            "so rejected rows and row accounting cover the source"
        )


# --- the generator ---------------------------------------------------------------------------
def test_every_logical_type_has_a_generator_type() -> None:
    for logical in COLUMN_TYPES:
        physical = writer.PHYSICAL_TYPES.get(logical)
        assert physical in writer.FORMATTERS and physical in writer.ARROW_TYPES, (
            f"logical type {logical} has no physical type in tools/sample_data/writer.py PHYSICAL_TYPES"
        )


def test_generator_writes_exactly_the_registry_columns(small_data: tuple[Path, Path]) -> None:
    landing, _ = small_data
    for folder in sorted(path for path in landing.iterdir() if path.is_dir()):
        assert folder.name in SOURCES, f"the generator writes {folder.name}/, which is not a landing source"
        source = SOURCES[folder.name]
        for path in sorted(folder.iterdir()):
            if path.suffix == ".csv":
                header = path.read_text(encoding="utf-8").split("\n", 1)[0].split(",")
                assert header == list(source.columns), f"{folder.name}/{path.name}: header {header}"
            else:
                schema = pq.read_schema(path)
                assert schema.names == list(source.columns), f"{folder.name}/{path.name}: columns {schema.names}"
                for column in source.fields:
                    arrow_type = schema.field(column.name).type
                    assert ARROW_CHECKS[column.type](arrow_type), (
                        f"{folder.name}/{path.name}: {column.name} is {arrow_type}, the registry says {column.type}"
                    )
