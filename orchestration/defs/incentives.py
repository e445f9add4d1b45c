"""Store incentive months as Dagster partitions: materializing month M closes it — the
incentive models are evaluated on a work copy of the published warehouse, M is published
(journaled, orchestration/incentive_actions.py) and the warehouse is published again.
A schedule closes the previous month on the 2nd; a range of months is a backfill, from the UI
or `dagster job backfill -m orchestration.definitions -j incentive_close --partitions ...`.
"""

import json
import os
import subprocess

import dagster as dg
from dagster import AssetExecutionContext

from orchestration import incentive_actions
from orchestration.defs.resources import dbt_executable
from orchestration.lock import WarehouseBusy, holding
from orchestration.settings import PROJECT_DIR, load_settings
from orchestration.warehouse import open_warehouse

# The data's first month; months before it have nothing to evaluate.
INCENTIVES_START = os.environ.get("LOYALTY_INCENTIVES_START", "2024-01-01")
monthly = dg.MonthlyPartitionsDefinition(start_date=INCENTIVES_START, end_offset=0)

# the incentive chain: its control input, its models, its tests and the rules seed
INCENTIVE_SELECTION = [
    "incentive_rules",
    "path:models/staging/control",
    "path:models/intermediate/incentives",
    "path:models/marts/incentives",
    "path:tests/incentives",
]


def incentive_selection(warehouse) -> list[str]:
    """DuckDB rebuilds only the incentive chain in its work copy (a full copy of the published
    file). PostgreSQL builds into empty build schemas that replace the published ones whole,
    so it rebuilds every model (and runs every test) to publish a complete warehouse."""
    return ["--select", *INCENTIVE_SELECTION] if warehouse.engine == "duckdb" else []


def latest_action(settings, month: str) -> str | None:
    path = incentive_actions.journal_path(settings)
    if not path.exists():
        return None
    actions = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    of_month = [entry["action"] for entry in actions if entry["period_month"] == f"{month}-01"]
    return of_month[-1] if of_month else None


@dg.asset(
    key=dg.AssetKey(["store_incentive_month"]),
    partitions_def=monthly,
    group_name="incentives",
    kinds={"dbt"},
    deps=[dg.AssetKey(["fct_store_incentive_eligibility"]), dg.AssetKey(["fct_store_incentive_restatements"])],
    description="A closed (evaluated and published) store incentive month.",
)
def store_incentive_month(context: AssetExecutionContext) -> dg.MaterializeResult:
    month = context.partition_key[:7]
    settings = load_settings()
    warehouse = open_warehouse(settings)
    if not warehouse.exists():
        raise dg.Failure(description=f"no published warehouse at {warehouse.describe()}: run a refresh first")
    try:
        with holding(settings, wait_seconds=1800):
            warehouse.prepare()
            already = latest_action(settings, month) == "publish"
            if not already:  # a re-run of a closed month must not re-publish a changed result
                incentive_actions.record(settings, "publish", month, "dagster incentive_close", context.run.run_id)
            with warehouse.build_connection() as connection:
                incentive_actions.load_into(connection, settings)
            target = settings.dbt_target_dir / "incentives"
            completed = subprocess.run(
                [
                    dbt_executable(),
                    "build",
                    *incentive_selection(warehouse),
                    "--profiles-dir",
                    str(PROJECT_DIR),
                    "--target-path",
                    str(target),
                ],
                cwd=PROJECT_DIR,
                env={**os.environ, **warehouse.dbt_env()},
                capture_output=True,
                text=True,
            )
            run_results = target / "run_results.json"
            results = json.loads(run_results.read_text())["results"] if run_results.exists() else []
            manifest = json.loads((target / "manifest.json").read_text())["nodes"] if results else {}
            broken = [
                result["unique_id"]
                for result in results
                if result["status"] in ("error", "fail")
                and "finding" not in manifest.get(result["unique_id"], {}).get("tags", [])
            ]
            if completed.returncode != 0 and (broken or not results):
                raise dg.Failure(
                    description=f"incentive models failed; month {month} not published: {broken[:5]}",
                    metadata={"dbt_output": completed.stdout[-3000:]},
                )
            if warehouse.reads_after_publish:
                warehouse.publish()
            with warehouse.reader() as connection:
                stores, eligible = connection.execute(
                    "select count(*), count(*) filter (where eligible) from marts.fct_store_incentive_eligibility"
                    " where period_month = cast(? as date)",
                    [f"{month}-01"],
                ).fetchall()[0]
                restated = connection.execute(
                    "select count(*) from marts.fct_store_incentive_restatements where period_month = cast(? as date)",
                    [f"{month}-01"],
                ).fetchall()[0][0]
            if not warehouse.reads_after_publish:
                warehouse.publish()
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
