"""The drift cause registry agrees with the dbt project: every row of seeds/drift_causes.csv
with a detection_model names a model int_drift_cause__<likely_cause> that exists and emits
that likely_cause, every such model has its row, and int_drift_causes_detected declares each
one (its `-- depends_on:` lines), so the union it builds from the graph is the registry.
A cause model without its row is dropped from the ranking without a word; a row without its
model never fires. Read from the manifest of `dbt parse`: no warehouse needed."""

from __future__ import annotations

import copy
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parent.parent
PACKAGE = "loyalty"
PREFIX = "int_drift_cause__"
UNION_MODEL = "int_drift_causes_detected"
SEED = Path("seeds") / "drift_causes.csv"


def registry_problems(seed_rows: list[dict[str, str]], manifest: dict) -> list[str]:
    """Every disagreement between the seed, the cause models and the union, as a sentence
    that says which file to fix (empty when they agree)."""
    models = {
        node["name"]: node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["package_name"] == PACKAGE
    }
    cause_models = {name for name in models if name.startswith(PREFIX)}
    registered = {row["likely_cause"]: (row.get("detection_model") or "").strip() for row in seed_rows}
    problems = []
    for cause, detection_model in sorted(registered.items()):
        if not detection_model:
            continue
        if detection_model != PREFIX + cause:
            problems.append(
                f"{SEED}: likely_cause {cause} names detection_model {detection_model}; it must be {PREFIX}{cause}"
            )
        elif detection_model not in models:
            problems.append(
                f"{SEED}: likely_cause {cause} names detection_model {detection_model}, "
                f"but there is no such model (add models/intermediate/ledger/{detection_model}.sql)"
            )
        elif f"'{cause}' as likely_cause" not in models[detection_model]["raw_code"]:
            problems.append(f"{detection_model} does not select '{cause}' as likely_cause")
    for name in sorted(cause_models - set(registered.values())):
        problems.append(
            f"model {name} detects a drift cause but {SEED} has no row with detection_model {name} "
            f'(add: {name.removeprefix(PREFIX)},<precedence>,{name},"<meaning>")'
        )
    union = models.get(UNION_MODEL)
    if union is None:
        return [*problems, f"model {UNION_MODEL} is missing"]
    declared = {
        node_id.split(".")[-1]
        for node_id in union["depends_on"]["nodes"]
        if node_id.startswith(f"model.{PACKAGE}.{PREFIX}")
    }
    for name in sorted(cause_models - declared):
        problems.append(
            f"{union['original_file_path']} does not declare {name}: add the line "
            f"-- depends_on: {{{{ ref('{name}') }}}}"
        )
    fallbacks = sorted(cause for cause, detection_model in registered.items() if not detection_model)
    if fallbacks != ["unexplained"]:
        problems.append(f"{SEED}: exactly one row has no detection_model, the fallback unexplained; found {fallbacks}")
    return problems


def read_seed(project_dir: Path) -> list[dict[str, str]]:
    with (project_dir / SEED).open(newline="", encoding="utf-8") as seed:
        return list(csv.DictReader(seed))


def parse_manifest(project_dir: Path, tmp_path: Path) -> dict:
    env = {
        **os.environ,
        "LOYALTY_TARGET": "duckdb",
        "LOYALTY_WAREHOUSE": str(tmp_path / "unused.duckdb"),
    }
    executable = Path(sys.executable).with_name("dbt")
    parsed = subprocess.run(
        [
            str(executable),
            "parse",
            "--profiles-dir",
            str(project_dir),
            "--target-path",
            str(tmp_path / "target"),
            "--log-path",
            str(tmp_path / "logs"),
        ],
        cwd=project_dir,
        env=env,
        capture_output=True,
        text=True,
    )
    assert parsed.returncode == 0, parsed.stdout[-4000:]
    return json.loads((tmp_path / "target" / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, str]], dict]:
    return read_seed(PROJECT_DIR), parse_manifest(PROJECT_DIR, tmp_path_factory.mktemp("parse"))


def test_registry_agrees_with_the_project(project: tuple[list[dict[str, str]], dict]) -> None:
    seed_rows, manifest = project
    problems = registry_problems(seed_rows, manifest)
    assert not problems, "the drift cause registry disagrees:\n  " + "\n  ".join(problems)


def test_registry_check_fails_when_a_place_is_missing(project: tuple[list[dict[str, str]], dict]) -> None:
    """The check can fail: drop the seed row, the model or the depends_on line of one cause."""
    seed_rows, manifest = project
    cause = next(row for row in seed_rows if row["detection_model"])
    model_id = f"model.{PACKAGE}.{cause['detection_model']}"

    without_row = [row for row in seed_rows if row is not cause]
    assert any("has no row" in problem for problem in registry_problems(without_row, manifest))

    without_model = copy.deepcopy(manifest)
    del without_model["nodes"][model_id]
    assert any("no such model" in problem for problem in registry_problems(seed_rows, without_model))

    undeclared = copy.deepcopy(manifest)
    union = undeclared["nodes"][f"model.{PACKAGE}.{UNION_MODEL}"]
    union["depends_on"]["nodes"].remove(model_id)
    assert any("does not declare" in problem for problem in registry_problems(seed_rows, undeclared))
