"""The dbt manifest the code location is built from, prepared once per state folder."""

from __future__ import annotations

import json
from pathlib import Path

from loyalty.settings import PROJECT_DIR, Settings
from loyalty.warehouse import DBT_PROJECT_INPUTS
from orchestration.defs.resources import WarehouseDbtResource


def newest_project_change(project_dir: Path = PROJECT_DIR) -> float:
    """The latest modification time (seconds since the epoch) of any dbt project file."""
    newest = 0.0
    for name in DBT_PROJECT_INPUTS:
        path = project_dir / name
        if path.is_file():
            newest = max(newest, path.stat().st_mtime)
        elif path.is_dir():
            for child in path.rglob("*"):
                newest = max(newest, child.stat().st_mtime)
    return newest


def parsed_with(dbt: WarehouseDbtResource) -> dict[str, str]:
    """What dbt's partial parsing requires to be unchanged besides the project files: the
    target and the ``--vars`` (the build database's path, threads and memory limit among them;
    dbt also compares the profile's connection values, which these vars set)."""
    return {"target": dbt.target or "", "vars": dbt.cli_vars_json}


def prepare_manifest(settings: Settings, dbt: WarehouseDbtResource) -> Path:
    """``dbt parse`` into ``settings.manifest_dir`` when there is no manifest yet, a project
    file changed since, or the target or dbt vars differ from the parse's (a state folder that
    was moved, copied or restored, or a new ``LOYALTY_THREADS`` / ``LOYALTY_MEMORY_LIMIT``):
    every dbt command of a refresh then reuses this parse (``--partial-parse-file-path``)
    instead of parsing the whole project again. Returns the manifest's path. Raises
    dagster-dbt's ``DagsterDbtCliRuntimeError`` (with dbt's messages) when the project does not
    parse."""
    manifest = settings.manifest_dir / "manifest.json"
    stamp = settings.manifest_dir / "parsed_with.json"
    wanted = parsed_with(dbt)
    if (
        manifest.exists()
        and manifest.stat().st_mtime >= newest_project_change()
        and stamp.exists()
        and json.loads(stamp.read_text()) == wanted
    ):
        return manifest
    settings.manifest_dir.mkdir(parents=True, exist_ok=True)
    stamp.unlink(missing_ok=True)
    dbt.cli(["parse", "--quiet"], target_path=settings.manifest_dir).wait()
    stamp.write_text(json.dumps(wanted, sort_keys=True))
    return manifest
