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
import duckdb
from dagster import AssetExecutionContext
from dagster_dbt import dbt_assets

from loyalty import alerts
from loyalty.failpoints import failpoint
from loyalty.outcome import RefreshOutcome
from loyalty.settings import Settings
from loyalty.warehouse import BuildJournal, PgQueries, open_warehouse
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
    """Failed checks raise alerts even when the run succeeds (loyalty/alerts.py); a warned feed
    anomaly test raises one alert per failing row, read from where dbt stored them."""
    run_id = context.run.run_id
    found = alerts.alerts_from_outcome(outcome.to_dict(), run_id)
    found += feed_anomaly_alerts(settings, outcome, run_id)
    for alert in alerts.record(settings, found):
        context.log.warning(f"ALERT {alert.message}")


def feed_anomaly_alerts(settings: Settings, outcome: RefreshOutcome, run_id: str) -> list[alerts.Alert]:
    """The alerts of the warned tests whose runbook section is a row-alert one
    (``alerts.ROW_ALERT_SECTIONS``): their stored failing rows from the build, one alert each."""
    tests = [
        check
        for check in outcome.warnings
        if check.runbook in alerts.ROW_ALERT_SECTIONS and check.relation_name is not None
    ]
    if not tests:
        return []
    found = []
    with open_warehouse(settings).build_connection() as connection:
        for check in tests:
            cursor = PgQueries(connection) if not isinstance(connection, duckdb.DuckDBPyConnection) else connection
            # schema.table: the build's catalog is not always named as dbt's profile names it
            relation = ".".join(check.relation_name.split(".")[-2:])
            result = cursor.execute(f"select * from {relation}")
            columns = [column[0] for column in result.description]
            rows = [dict(zip(columns, row, strict=True)) for row in result.fetchall()]
            found += alerts.feed_anomaly_alerts(
                check.name, check.runbook, rows, run_id, check.failing_rows_at or check.relation_name
            )
    return found


# Crash points inside the dbt commands (loyalty/failpoints.py): fired from this process's event
# loop when a node's result arrives while dbt is still running the others, so the kill takes dbt
# mid-command (docs/reliability.md#crash-safety).
NODE_FAILPOINTS = {
    "model.loyalty.base_loyalty__ledger_events": "dbt.staging_incremental",
    "model.loyalty.int_points_lots": "dbt.intermediate",
    "model.loyalty.fct_points_liability_monthly": "dbt.mart",
    "model.loyalty.fct_store_incentive_evaluations": "dbt.incremental_mart",
}
TEST_FAILPOINT_ASSET = "dim_members"


def with_failpoints(events: Iterable, phase: str) -> Iterator:
    """Pass dbt's Dagster events through, firing the crash point of each node as its result
    arrives: ``NODE_FAILPOINTS`` in the build, ``dbt.test`` at the first test of
    ``TEST_FAILPOINT_ASSET``, and in the findings run (``phase`` "findings") ``findings.test``
    at the first finding. No-ops unless a point is armed."""
    for event in events:
        yield event
        if isinstance(event, dg.AssetCheckResult | dg.AssetCheckEvaluation):
            if phase == "findings":
                failpoint("findings.test")
            elif event.asset_key.path[-1] == TEST_FAILPOINT_ASSET:
                failpoint("dbt.test")
        elif phase == "build":
            unique_id = (getattr(event, "metadata", None) or {}).get("unique_id")
            name = NODE_FAILPOINTS.get(getattr(unique_id, "text", unique_id))
            if name:
                failpoint(name)


def partial_parse_args(settings: Settings) -> list[str]:
    """Reuse the parse of the prepared manifest (orchestration/defs/dbt/project.py), so that a
    refresh parses the project once: dbt's ``--partial-parse-file-path`` (it must exist)."""
    saved = settings.manifest_dir / "partial_parse.msgpack"
    return ["--partial-parse-file-path", str(saved)] if saved.exists() else []


def fail_unless_publishable(outcome: RefreshOutcome, what: str, settings: Settings | None = None) -> None:
    """Raise ``dagster.Failure`` naming the integrity checks and models that failed; with
    ``settings``, first put the build state back as it was before the refresh
    (docs/operations.md#rollback)."""
    if outcome.publishable:
        return
    if settings is not None:
        open_warehouse(settings).rollback()
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
        journal = BuildJournal.read(settings)
        if journal is not None and journal.status == "unchanged":
            context.log.info("nothing new since the last publish: no model is rebuilt, the last results stand")
            return
        outcome = RefreshOutcome()
        # unit tests run in `make test` and CI, not in production (docs/operations.md#checks)
        args = ["build", "--exclude", "tag:finding resource_type:unit_test", *partial_parse_args(settings)]
        # --full-refresh, or a build state computed by another version of the project (the
        # landing step decided: orchestration/defs/landing/assets.py)
        if journal is not None and journal.full_refresh:
            args.append("--full-refresh")
        build = dbt.cli(
            args,
            context=context,
            raise_on_error=False,
            target_path=target_dir / "build",
        )
        yield from with_failpoints(build.stream(), "build")
        add_results(outcome, build, "build")
        # With a context, dagster-dbt appends the asset selection after ours and dbt would run
        # every test again; without one it reports checks as evaluations, which this op turns
        # back into its own check results.
        findings = dbt.cli(
            ["test", "--select", "tag:finding", *partial_parse_args(settings)],
            manifest=manifest_path,
            dagster_dbt_translator=translator,
            raise_on_error=False,
            target_path=target_dir / "findings",
        )
        yield from as_check_results(with_failpoints(findings.stream(), "findings"))
        add_results(outcome, findings, "findings")
        target_dir.mkdir(parents=True, exist_ok=True)
        outcome_path.write_text(json.dumps(outcome.to_dict(), indent=2, default=str))
        raise_alerts(context, settings, outcome)
        fail_unless_publishable(outcome, "the warehouse is not published", settings)

    return loyalty_dbt_assets
