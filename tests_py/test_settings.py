"""Settings are read in one place (loyalty/settings.py), refused with a named variable when
bad, and documented: the README's table lists exactly the variables the code reads, and its
folder map names folders that exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from loyalty.settings import VARIABLES, SettingsError, load_settings

from conftest import PROJECT_DIR

CODE_FOLDERS = ("loyalty", "orchestration", "tools", "models", "macros", "seeds", "tests", "tests_py", "docs")


def readme() -> str:
    return (PROJECT_DIR / "README.md").read_text(encoding="utf-8")


def test_only_the_settings_module_reads_loyalty_variables() -> None:
    readers = []
    for package in ("loyalty", "orchestration", "tools"):
        for path in (PROJECT_DIR / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            if re.search(r"environ(\.get)?\(?\[?[\"']LOYALTY_|getenv\([\"']LOYALTY_", text):
                readers.append(str(path.relative_to(PROJECT_DIR)))
    assert readers == [], f"read LOYALTY_* through loyalty/settings.py, not in {readers}"
    settings_code = (PROJECT_DIR / "loyalty" / "settings.py").read_text(encoding="utf-8")
    read = set(re.findall(r"env(?:\.get\(|\[)\"(LOYALTY_[A-Z_]+)\"", settings_code))
    assert read == set(VARIABLES), f"VARIABLES must list what load_settings reads: {read ^ set(VARIABLES)}"


def test_the_readme_lists_every_variable() -> None:
    documented = set(re.findall(r"^\| `(LOYALTY_[A-Z_]+)` \|", readme(), flags=re.MULTILINE))
    assert documented == set(VARIABLES), f"README table vs loyalty/settings.py: {documented ^ set(VARIABLES)}"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"LOYALTY_TARGET": "oracle"}, "LOYALTY_TARGET='oracle' is not one of duckdb, postgres, spark"),
        ({"LOYALTY_DBT_VARS": "{tolerance: 4"}, "LOYALTY_DBT_VARS is not JSON"),
        ({"LOYALTY_DBT_VARS": "[1, 2]"}, "LOYALTY_DBT_VARS must be a JSON object"),
        ({"LOYALTY_INCENTIVES_START": "2024-01-15"}, "LOYALTY_INCENTIVES_START must be the first of a month"),
        ({"LOYALTY_BI_PORT": "http"}, "LOYALTY_BI_PORT must be a TCP port number (1-65535), got 'http'"),
        ({"LOYALTY_BI_PORT": "70000"}, "LOYALTY_BI_PORT must be a TCP port number"),
    ],
)
def test_bad_values_are_refused_naming_the_variable(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(message)):
        load_settings(environ)


def test_state_defaults_to_the_warehouse_folder_and_follows_the_variable(tmp_path: Path) -> None:
    default = load_settings({"LOYALTY_WAREHOUSE": str(tmp_path / "w" / "x.duckdb")})
    assert default.state_dir == tmp_path / "w"
    moved = load_settings({"LOYALTY_WAREHOUSE": str(tmp_path / "w" / "x.duckdb"), "LOYALTY_STATE_DIR": str(tmp_path)})
    kept = [
        moved.build_database,
        moved.refresh_journal,
        moved.spill_dir,
        moved.lock_path,
        moved.alert_queue,
        moved.incentive_journal,
        moved.dbt_target_dir,
        moved.manifest_dir,
        moved.refresh_log,
        moved.dagster_home,
        moved.report_path,
        moved.workbook_path,
        moved.docs_site_dir,
        moved.superset_home,
        moved.spark_warehouse_dir,
    ]
    assert all(path.is_relative_to(tmp_path) and not path.is_relative_to(tmp_path / "w") for path in kept)
    assert len(set(kept)) == len(kept)


def test_dbt_vars_carry_the_operators_overrides_and_the_build(tmp_path: Path) -> None:
    settings = load_settings(
        {"LOYALTY_WAREHOUSE": str(tmp_path / "x.duckdb"), "LOYALTY_DBT_VARS": '{"points_tolerance_minor": 40}'}
    )
    cli_vars = settings.dbt_cli_vars(build_database=settings.build_database)
    assert cli_vars["points_tolerance_minor"] == 40
    assert cli_vars["duckdb_path"] == str(tmp_path / "x.duckdb.build")


def test_the_readme_folder_map_matches_the_tree() -> None:
    block = readme().split("## The folders", 1)[1].split("```", 2)[1]
    named = [
        match.group(1).rstrip("/")
        for line in block.splitlines()
        if (match := re.match(r"^(\S+/?)\s", line + " ")) and not line.startswith(" ") and "not tracked" not in line
    ]
    missing = [name for name in named if not (PROJECT_DIR / name).exists()]
    assert not missing, f"the README's folder map names paths that do not exist: {missing}"
    for folder in ("loyalty", "orchestration/defs", "tools"):
        subfolders = sorted(
            path.name
            for path in (PROJECT_DIR / folder).iterdir()
            if path.is_dir() and not path.name.startswith(("_", "."))
        )
        for name in subfolders:
            assert f"{name}/" in block, f"README folder map does not show {folder}/{name}/"
    assert all(folder in named for folder in CODE_FOLDERS), f"map every top folder: {set(CODE_FOLDERS) - set(named)}"
