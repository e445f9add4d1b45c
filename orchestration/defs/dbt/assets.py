"""The whole dbt project as Dagster assets; every dbt test is an asset check.

One invocation builds everything but the reconciliation findings (tag ``finding``), then a
second runs the findings: an error-severity finding must not skip the marts downstream of
the model it tests, because the marts are what people use to investigate it
(docs/operations.md#checks).
"""

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

import dagster as dg
from dagster import AssetExecutionContext
from dagster_dbt import dbt_assets

from loyalty import alerts
from loyalty.outcome import RefreshOutcome
from loyalty.settings import Settings
from orchestration.defs.dbt.translator import translator
from orchestration.defs.resources import WarehouseDbtResource, dbt_project

OUTCOME_FILE = "outcome.json"


def as_check_results(events: Iterable) -> Iterator:
    """dbt test results reported without an asset context (``AssetCheckEvaluation``) as this
    op's own check results."""
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


def add_results(outcome: RefreshOutcome, invocation, step: str) -> None:
    """Fold one dbt command's run_results.json into ``outcome``; a command that ran nothing
    (bad project, no connection) raises ``dagster.Failure`` with dbt's error."""
    run_results = Path(invocation.target_path) / "run_results.json"
    if run_results.exists():
        manifest = json.loads((Path(invocation.target_path) / "manifest.json").read_text())
        outcome.extend(json.loads(run_results.read_text()), manifest)
    elif not invocation.is_successful():
        raise dg.Failure(description=f"dbt {step} failed before running anything: {invocation.get_error()}")


def raise_alerts(context: AssetExecutionContext, settings: Settings, outcome: RefreshOutcome) -> None:
    """Failed checks raise alerts even when the run succeeds (loyalty/alerts.py)."""
    for alert in alerts.record(settings, alerts.alerts_from_outcome(outcome.to_dict(), context.run.run_id)):
        context.log.warning(f"ALERT {alert.message}")


def fail_unless_publishable(outcome: RefreshOutcome, what: str) -> None:
    """Raise ``dagster.Failure`` naming the integrity checks and models that failed."""
    if outcome.publishable:
        return
    failed = [f"{check.name} ({check.status})" for check in outcome.integrity_failures + outcome.node_errors]
    raise dg.Failure(
        description=f"{len(failed)} integrity check(s) or model(s) failed; {what}: " + "; ".join(failed[:10]),
        metadata={"failed": dg.MetadataValue.json(failed)},
    )


def build_dbt_assets(project_settings: Settings, manifest_path: Path) -> dg.AssetsDefinition:
    """The ``@dbt_assets`` of the project parsed at ``manifest_path``."""
    project = dbt_project(project_settings)

    @dbt_assets(manifest=manifest_path, project=project, dagster_dbt_translator=translator, name="loyalty_dbt")
    def loyalty_dbt_assets(
        context: AssetExecutionContext, dbt: WarehouseDbtResource, settings: dg.ResourceParam[Settings]
    ):
        target_dir = settings.dbt_target_dir
        outcome_path = target_dir / OUTCOME_FILE
        outcome_path.unlink(missing_ok=True)
        outcome = RefreshOutcome()
        build = dbt.cli(
            ["build", "--exclude", "tag:finding"],
            context=context,
            raise_on_error=False,
            target_path=target_dir / "build",
        )
        yield from build.stream()
        add_results(outcome, build, "build")
        # With a context, dagster-dbt appends the asset selection after ours and dbt would run
        # every test again; without one it reports checks as evaluations, which this op turns
        # back into its own check results.
        findings = dbt.cli(
            ["test", "--select", "tag:finding"],
            manifest=manifest_path,
            dagster_dbt_translator=translator,
            raise_on_error=False,
            target_path=target_dir / "findings",
        )
        yield from as_check_results(findings.stream())
        add_results(outcome, findings, "findings")
        target_dir.mkdir(parents=True, exist_ok=True)
        outcome_path.write_text(json.dumps(outcome.to_dict(), indent=2, default=str))
        raise_alerts(context, settings, outcome)
        fail_unless_publishable(outcome, "the warehouse is not published")

    return loyalty_dbt_assets
