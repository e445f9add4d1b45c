"""Store incentive months as Dagster partitions: materializing month M closes it — the
incentive models are evaluated on a build of the published warehouse, M is published
(journaled, loyalty/incentive_actions.py) and the warehouse is published again
(docs/program.md#store-incentives). A schedule closes the previous month on the 2nd; a range
of months is a backfill, from the UI or
`dagster job backfill -m orchestration.definitions -j incentive_close --partitions ...`.

The dbt build runs through the same dbt resource as the refresh, so its models show as
materializations and its tests as checks, and its results go through the same outcome and
alert code (loyalty/outcome.py, loyalty/alerts.py).
"""

import json
from pathlib import Path

import dagster as dg
from dagster import AssetExecutionContext

from loyalty import incentive_actions
from loyalty.failpoints import failpoint
from loyalty.lock import WarehouseBusy, holding
from loyalty.outcome import RefreshOutcome
from loyalty.settings import Settings
from loyalty.warehouse import open_warehouse
from orchestration.defs.dbt.assets import add_results, fail_unless_publishable, raise_alerts
from orchestration.defs.dbt.translator import translator
from orchestration.defs.resources import WarehouseDbtResource

# the incentive chain: its control input, its models, its tests and the rules seed
INCENTIVE_SELECTION = [
    "incentive_rules",
    "path:models/staging/control",
    "path:models/intermediate/incentives",
    "path:models/marts/incentives",
    "path:tests/incentives",
]


# As in a refresh (orchestration/defs/dbt/assets.py): unit tests run in `make test`, and the
# reconciliation findings are not part of the build, because an error-severity finding would
# skip the marts downstream of its model (rpt_reconciliation_summary, rpt_warehouse_summary) and
# a close would publish a warehouse without them. A close loads nothing, so the findings of the
# last refresh stand (on PostgreSQL the published `findings` schema is kept: no build of it).
INCENTIVE_EXCLUSION = ["--exclude", "tag:finding resource_type:unit_test"]


def incentive_selection(warehouse) -> list[str]:
    """dbt selection arguments of an incentive close. DuckDB rebuilds only the incentive chain
    in its build database. PostgreSQL builds into empty build schemas that replace the
    published ones whole, so it rebuilds every model (and runs every integrity test) to publish
    a complete warehouse. Neither runs the findings nor the unit tests (INCENTIVE_EXCLUSION)."""
    # one argument: dagster-dbt reads a single value after --select (dbt takes the union of
    # space-separated selectors)
    selection = ["--select", " ".join(INCENTIVE_SELECTION)] if warehouse.engine == "duckdb" else []
    return [*selection, *INCENTIVE_EXCLUSION]


def latest_action(settings: Settings, month: str) -> str | None:
    """The last journaled action (``publish`` / ``reopen``) on ``month`` (YYYY-MM), or None."""
    path = incentive_actions.journal_path(settings)
    if not path.exists():
        return None
    actions = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    of_month = [entry["action"] for entry in actions if entry["period_month"] == f"{month}-01"]
    return of_month[-1] if of_month else None


def build_incentive_defs(
    first_month: str, manifest_path: Path
) -> tuple[dg.AssetsDefinition, dg.JobDefinition, dg.ScheduleDefinition]:
    """The ``store_incentive_month`` asset (monthly partitions from ``first_month``,
    YYYY-MM-01), the ``incentive_close`` job and its monthly schedule."""
    monthly = dg.MonthlyPartitionsDefinition(start_date=first_month, end_offset=0)

    @dg.asset(
        key=dg.AssetKey(["store_incentive_month"]),
        partitions_def=monthly,
        group_name="incentives",
        kinds={"dbt"},
        deps=[dg.AssetKey(["fct_store_incentive_eligibility"]), dg.AssetKey(["fct_store_incentive_restatements"])],
        description="A closed (evaluated and published) store incentive month.",
    )
    def store_incentive_month(
        context: AssetExecutionContext, settings: dg.ResourceParam[Settings], dbt: WarehouseDbtResource
    ) -> dg.MaterializeResult:
        month = context.partition_key[:7]
        warehouse = open_warehouse(settings)
        if not warehouse.exists():
            raise dg.Failure(description=f"no published warehouse at {warehouse.describe()}: run a refresh first")
        try:
            with holding(settings, wait_seconds=1800):
                warehouse.begin()
                already = latest_action(settings, month) == "publish"
                if not already:  # a re-run of a closed month must not re-publish a changed result
                    incentive_actions.record(settings, "publish", month, "dagster incentive_close", context.run.run_id)
                with warehouse.build_connection() as connection:
                    incentive_actions.load_into(connection, settings)
                build = dbt.cli(
                    ["build", *incentive_selection(warehouse)],
                    manifest=manifest_path,
                    dagster_dbt_translator=translator,
                    raise_on_error=False,
                    target_path=settings.dbt_target_dir / "incentives",
                )
                for event in build.stream():
                    if isinstance(event, dg.AssetMaterialization | dg.AssetCheckEvaluation):
                        context.log_event(event)
                outcome = RefreshOutcome()
                add_results(outcome, build, "incentive build")
                raise_alerts(context, settings, outcome)
                fail_unless_publishable(outcome, f"month {month} not published", settings)
                failpoint("incentives.close")
                if warehouse.reads_after_publish:
                    warehouse.publish()
                with warehouse.reader() as connection:
                    stores, eligible = connection.execute(
                        "select count(*), count(*) filter (where eligible) from marts.fct_store_incentive_eligibility"
                        " where period_month = cast(? as date)",
                        [f"{month}-01"],
                    ).fetchall()[0]
                    restated = connection.execute(
                        "select count(*) from marts.fct_store_incentive_restatements"
                        " where period_month = cast(? as date)",
                        [f"{month}-01"],
                    ).fetchall()[0][0]
                if not warehouse.reads_after_publish:
                    warehouse.publish()
                warehouse.commit()
        except WarehouseBusy as error:
            raise dg.Failure(description=str(error)) from error
        context.log.info(f"closed {month}: {eligible} of {stores} stores eligible, {restated} restatement(s)")
        return dg.MaterializeResult(
            metadata={
                "month": month,
                "stores": stores,
                "eligible_stores": eligible,
                "restatements": restated,
                "newly_published": not already,
            }
        )

    incentive_close_job = dg.define_asset_job(
        name="incentive_close",
        selection=[store_incentive_month],
        executor_def=dg.in_process_executor,
        tags={"loyalty/warehouse": "write"},
        description="Evaluate and publish store incentive months (one partition per month).",
    )
    monthly_incentive_close = dg.build_schedule_from_partitioned_job(
        incentive_close_job,
        name="monthly_incentive_evaluation",
        day_of_month=2,
        hour_of_day=7,
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
    return store_incentive_month, incentive_close_job, monthly_incentive_close
