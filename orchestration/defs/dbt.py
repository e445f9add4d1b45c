"""The whole dbt project as Dagster assets; every dbt test is an asset check.

One invocation builds everything but the reconciliation findings (tag ``finding``), then a
second runs the findings: an error-severity finding must not skip the marts downstream of
the model it tests, because the marts are what people use to investigate it (CONTRACT §1).
"""

import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from orchestration import alerts
from orchestration.defs.resources import dbt_executable, dbt_project
from orchestration.outcome import FINDING_TAG, RefreshOutcome
from orchestration.settings import PROJECT_DIR, load_settings
from orchestration.warehouse import open_warehouse

OUTCOME_FILE = "outcome.json"


class LoyaltyTranslator(DagsterDbtTranslator):
    """Groups follow the project's layers (staging, audit, intermediate, marts)."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        if dbt_resource_props.get("resource_type") == "seed":
            return "program"
        return fqn[1] if len(fqn) > 2 else "default"

    def get_asset_check_spec(self, asset_spec, manifest, unique_id, project):
        """Reconciliation findings (tag ``finding``) never block: the marts they test are what
        people use to investigate them. Every other error-severity test blocks (integrity)."""
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        node = manifest.get("nodes", {}).get(unique_id, {})
        if spec is not None and FINDING_TAG in node.get("tags", []):
            return spec._replace(blocking=False)
        return spec


translator = LoyaltyTranslator(settings=DagsterDbtTranslatorSettings(enable_source_tests_as_checks=True))


def ensure_manifest(refresh: bool = False) -> Path:
    """A manifest for @dbt_assets: `dbt parse` when none exists yet (fresh clone) or when asked.

    Runs the venv's dbt (dagster-dbt's own preparer looks for `dbt` on PATH)."""
    if refresh or not dbt_project.manifest_path.exists():
        completed = subprocess.run(
            [dbt_executable(), "parse", "--profiles-dir", str(PROJECT_DIR), "--quiet"],
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
        )
        if completed.returncode != 0:
            raise RuntimeError(f"dbt parse failed:\n{completed.stdout[-3000:]}{completed.stderr[-3000:]}")
    return dbt_project.manifest_path


def _as_check_results(events):
    for event in events:
        if isinstance(event, dg.AssetCheckEvaluation):
            yield dg.AssetCheckResult(
                asset_key=event.asset_key,
                check_name=event.check_name,
                passed=event.passed,
                severity=event.severity,
                metadata=event.metadata,
                description=event.description,
            )
        else:
            yield event


@dbt_assets(manifest=ensure_manifest(), project=dbt_project, dagster_dbt_translator=translator, name="loyalty_dbt")
def loyalty_dbt_assets(context: AssetExecutionContext, dbt: DbtCliResource):
    settings = load_settings()
    # dbt builds the build (DuckDB work copy / PostgreSQL build schemas) named by these variables.
    os.environ.update(open_warehouse(settings).dbt_env())
    target_dir = settings.dbt_target_dir
    outcome_path = target_dir / OUTCOME_FILE
    outcome_path.unlink(missing_ok=True)
    outcome = RefreshOutcome()
    # Operators can override dbt vars (e.g. tolerances) for a run: LOYALTY_DBT_VARS='{"points_tolerance_minor": 40}'
    extra_vars = ["--vars", os.environ["LOYALTY_DBT_VARS"]] if os.environ.get("LOYALTY_DBT_VARS") else []
    steps = (
        ("build", ["build", "--exclude", "tag:finding", *extra_vars]),
        ("findings", ["test", "--select", "tag:finding", *extra_vars]),
    )
    for step, args in steps:
        if step == "build":
            invocation = dbt.cli(args, context=context, raise_on_error=False, target_path=target_dir / step)
            yield from invocation.stream()
        else:
            # With a context, dagster-dbt appends the asset selection after ours and dbt would
            # run every test again; without one it reports checks as evaluations, which this
            # op turns back into its own check results.
            invocation = dbt.cli(
                args,
                manifest=dbt_project.manifest_path,
                dagster_dbt_translator=translator,
                raise_on_error=False,
                target_path=target_dir / step,
            )
            yield from _as_check_results(invocation.stream())
        run_results = target_dir / step / "run_results.json"
        if run_results.exists():
            manifest = json.loads((target_dir / step / "manifest.json").read_text())
            outcome.extend(json.loads(run_results.read_text()), manifest)
        elif not invocation.is_successful():
            raise dg.Failure(description=f"dbt {step} failed before running anything: {invocation.get_error()}")
    target_dir.mkdir(parents=True, exist_ok=True)
    outcome_path.write_text(json.dumps(outcome.to_dict(), indent=2, default=str))
    # Failed checks raise alerts even when the run succeeds (and before a failure below).
    for alert in alerts.record(settings, alerts.alerts_from_outcome(outcome.to_dict(), context.run.run_id)):
        context.log.warning(f"ALERT {alert.message}")
    if not outcome.publishable:
        failed = [f"{check.name} ({check.status})" for check in outcome.integrity_failures + outcome.node_errors]
        raise dg.Failure(
            description=(
                f"{len(failed)} integrity check(s) or model(s) failed; the warehouse is not published: "
                + "; ".join(failed[:10])
            ),
            metadata={"failed": dg.MetadataValue.json(failed)},
        )
