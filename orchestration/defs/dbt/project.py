"""The dbt manifest the code location is built from, prepared once per state folder."""

from __future__ import annotations

import json
from pathlib import Path

from filelock import FileLock

from loyalty.settings import Settings
from loyalty.warehouse import project_digest
from orchestration.defs.resources import WarehouseDbtResource


def parsed_with(dbt: WarehouseDbtResource) -> dict[str, str]:
    """What a parse depends on: the dbt project's files (``project_digest``, by content, so a
    copied or touched file is no change), the target and the ``--vars`` (the build database's
    path, threads and memory limit among them; dbt's partial parsing also compares the
    profile's connection values, which these vars set)."""
    return {"project": project_digest(), "target": dbt.target or "", "vars": dbt.cli_vars_json}


def prepare_manifest(settings: Settings, dbt: WarehouseDbtResource) -> Path:
    """``dbt parse`` into ``settings.manifest_dir`` when there is no manifest yet or what it was
    parsed with (``parsed_with``) changed: a project file's content, the target or the dbt vars
    (a state folder that was moved, copied or restored, or a new ``LOYALTY_THREADS`` /
    ``LOYALTY_MEMORY_LIMIT``):
    every dbt command of a refresh then reuses this parse (``--partial-parse-file-path``)
    instead of parsing the whole project again. Processes loading the code location at once
    parse once: under a file lock beside the folder (``parse.lock``). Returns the manifest's path. Raises
    dagster-dbt's ``DagsterDbtCliRuntimeError`` (with dbt's messages) when the project does not
    parse."""
    manifest = settings.manifest_dir / "manifest.json"
    stamp = settings.manifest_dir / "parsed_with.json"
    wanted = parsed_with(dbt)
    if manifest.exists() and stamp.exists() and json.loads(stamp.read_text()) == wanted:
        return manifest
    settings.manifest_dir.mkdir(parents=True, exist_ok=True)
    # one parse at a time: a deployment's webserver and daemon load the code location at the same
    # moment (deploy/README.md), and two dbt parses into one folder overwrite each other's files
    with FileLock(str(settings.manifest_dir.with_name(settings.manifest_dir.name + ".lock"))):
        if manifest.exists() and stamp.exists() and json.loads(stamp.read_text()) == wanted:
            return manifest  # parsed by the process that held the lock
        stamp.unlink(missing_ok=True)
        dbt.cli(["parse", "--quiet"], target_path=settings.manifest_dir).wait()
        stamp.write_text(json.dumps(wanted, sort_keys=True))
    return manifest
