"""The resources every asset shares: the warehouse settings and the one dbt CLI resource.

dbt is run one way: through :class:`WarehouseDbtResource` (dagster-dbt's ``DbtCliResource``),
for the build, the findings, source freshness, the incentive close and parsing the project.
It adds the dbt vars that point dbt at this warehouse's build (loyalty/settings.py) to every
command, so nothing is passed through the process environment.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dagster_dbt import DbtCliResource, DbtProject

from loyalty.settings import PROJECT_DIR, Settings
from loyalty.warehouse import open_warehouse

# Run tag that makes a refresh rebuild every incremental model from scratch (`refresh --full-refresh`).
FULL_REFRESH_TAG = "loyalty/full_refresh"


def dbt_executable() -> str:
    """dbt from this interpreter's environment, so the venv need not be activated."""
    beside_python = Path(sys.executable).with_name("dbt")
    return str(beside_python) if beside_python.exists() else (shutil.which("dbt") or "dbt")


class WarehouseDbtResource(DbtCliResource):
    """``DbtCliResource`` whose every command carries this warehouse's dbt vars (``--vars``)."""

    cli_vars_json: str = "{}"

    def cli(self, args: Sequence[str], **kwargs: Any):  # type: ignore[override]
        return super().cli([*args, "--vars", self.cli_vars_json], **kwargs)

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:  # type: ignore[override]
        """No in-process dbt adapter. dagster-dbt opens one beside every dbt command, loading
        every macro of dbt and its adapter, only to serve ``fetch_row_counts`` and
        ``fetch_column_metadata``, which this project does not call: that cost about 6 s of CPU
        per dbt command, some 15 s of each refresh (docs/operations.md#fixed-costs). dagster-dbt
        treats an invocation without an adapter as it treats one whose adapter failed to open.
        tests_py/test_definitions.py checks that the pinned dagster-dbt still has this hook."""
        return None


def dbt_project(settings: Settings) -> DbtProject:
    """The project, parsed into the state folder (the checkout may be read-only)."""
    return DbtProject(project_dir=PROJECT_DIR, profiles_dir=PROJECT_DIR, target_path=settings.manifest_dir)


def dbt_resource(settings: Settings) -> WarehouseDbtResource:
    """The dbt CLI of this warehouse: its target and the vars that name its build."""
    cli_vars = open_warehouse(settings).dbt_vars() if settings.target != "spark" else settings.dbt_cli_vars()
    return WarehouseDbtResource(
        project_dir=dbt_project(settings),
        profiles_dir=str(PROJECT_DIR),
        target=settings.target,
        dbt_executable=dbt_executable(),
        cli_vars_json=json.dumps(cli_vars, sort_keys=True),
    )
