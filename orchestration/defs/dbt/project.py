"""The dbt manifest the code location is built from, prepared once per state folder."""

from __future__ import annotations

from pathlib import Path

from loyalty.settings import PROJECT_DIR, Settings
from orchestration.defs.resources import WarehouseDbtResource

# what a change to makes the manifest stale
PROJECT_INPUTS = ("dbt_project.yml", "profiles.yml", "models", "macros", "seeds", "tests")


def newest_project_change(project_dir: Path = PROJECT_DIR) -> float:
    """The latest modification time (seconds since the epoch) of any dbt project file."""
    newest = 0.0
    for name in PROJECT_INPUTS:
        path = project_dir / name
        if path.is_file():
            newest = max(newest, path.stat().st_mtime)
        elif path.is_dir():
            for child in path.rglob("*"):
                newest = max(newest, child.stat().st_mtime)
    return newest


def prepare_manifest(settings: Settings, dbt: WarehouseDbtResource) -> Path:
    """``dbt parse`` into ``settings.manifest_dir`` when there is no manifest yet or a project
    file changed since; returns the manifest's path. Raises dagster-dbt's
    ``DagsterDbtCliRuntimeError`` (with dbt's messages) when the project does not parse."""
    manifest = settings.manifest_dir / "manifest.json"
    if manifest.exists() and manifest.stat().st_mtime >= newest_project_change():
        return manifest
    settings.manifest_dir.mkdir(parents=True, exist_ok=True)
    dbt.cli(["parse", "--quiet"], target_path=settings.manifest_dir).wait()
    return manifest
