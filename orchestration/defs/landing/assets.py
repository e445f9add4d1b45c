"""The loader as Dagster assets: one asset per raw table, upstream of the dbt sources."""

import json
from pathlib import Path

import dagster as dg
from dagster import AssetExecutionContext

from loyalty import incentive_actions
from loyalty.landing.contract import SOURCES
from loyalty.landing.loader import LoadError, load_landing
from loyalty.lock import WarehouseBusy, acquire
from loyalty.settings import Settings
from loyalty.warehouse import open_warehouse
from orchestration.defs.resources import WarehouseDbtResource

RAW_TABLES = (*SOURCES, "load_log", "incentive_period_actions")
FRESHNESS_CHECK = "source_freshness"


def source_freshness(settings: Settings, dbt: WarehouseDbtResource) -> dict[str, tuple[str, float | None]]:
    """`dbt source freshness` on the build: landing source -> (status, seconds since the
    loader last received a file of it). Thresholds are in the dbt sources YAML."""
    invocation = dbt.cli(
        ["source", "freshness"], raise_on_error=False, target_path=settings.dbt_target_dir / "freshness"
    )
    invocation.wait()
    results_path = Path(invocation.target_path) / "sources.json"
    if not results_path.exists():
        raise dg.Failure(description=f"dbt source freshness did not run: {invocation.get_error()}")
    results = json.loads(results_path.read_text())["results"]
    return {
        result["unique_id"].split(".")[-1]: (result["status"], result.get("max_loaded_at_time_ago_in_s"))
        for result in results
    }


@dg.multi_asset(
    name="load_landing",
    specs=[
        dg.AssetSpec(
            dg.AssetKey(["raw", table]),
            group_name="landing",
            kinds={"python"},
            description={
                "load_log": "One row per landing file loaded or recognised as a copy.",
                "incentive_period_actions": "Publish / reopen actions on incentive months (incentive_actions.py).",
            }.get(table, "Landing files not seen before, as text rows (loyalty/landing/loader.py)."),
        )
        for table in RAW_TABLES
    ],
    check_specs=[
        dg.AssetCheckSpec(
            FRESHNESS_CHECK,
            asset=dg.AssetKey(["raw", source]),
            blocking=False,
            description="dbt source freshness: a file of this source arrived within 26 h (warn) / 50 h (error).",
        )
        for source in SOURCES
    ],
)
def load_landing_asset(context: AssetExecutionContext, settings: dg.ResourceParam[Settings], dbt: WarehouseDbtResource):
    """Start a build from the published warehouse, then load what is new in the landing folder."""
    warehouse = open_warehouse(settings)
    try:
        # Held until publish (or the run's process ends); re-entrant under `refresh`.
        acquire(settings)
    except WarehouseBusy as error:
        raise dg.Failure(description=str(error)) from error
    warehouse.prepare()
    try:
        with warehouse.build_connection() as connection:
            report = load_landing(connection, settings.landing_dir)
            actions = incentive_actions.load_into(connection, settings)
    except LoadError as error:
        raise dg.Failure(description=str(error), metadata={"landing_dir": str(settings.landing_dir)}) from error
    context.log.info(
        f"loaded {len(report.loaded)} file(s), {report.rows_loaded} row(s); "
        f"{len(report.duplicate_files)} duplicate file(s); {report.already_loaded} already loaded"
    )
    for table in RAW_TABLES:
        files = [(name, rows) for name, rows in report.loaded if name.startswith(f"{table}/")]
        metadata: dict[str, dg.RawMetadataValue] = {
            "files_loaded": len(files),
            "rows_loaded": sum(rows for _, rows in files),
        }
        if table == "incentive_period_actions":
            metadata = {"actions": actions}
        if table == "load_log":
            metadata = {
                "files_loaded": len(report.loaded),
                "rows_loaded": report.rows_loaded,
                "duplicate_files": len(report.duplicate_files),
                "files_already_loaded": report.already_loaded,
                "ignored_paths": ", ".join(report.ignored) or "none",
                "landing_dir": str(settings.landing_dir),
            }
        yield dg.MaterializeResult(asset_key=dg.AssetKey(["raw", table]), metadata=metadata)
    for source, (status, age_seconds) in source_freshness(settings, dbt).items():
        yield dg.AssetCheckResult(
            asset_key=dg.AssetKey(["raw", source]),
            check_name=FRESHNESS_CHECK,
            passed=status == "pass",
            severity=dg.AssetCheckSeverity.ERROR if status == "error" else dg.AssetCheckSeverity.WARN,
            metadata={
                "status": status,
                "hours_since_last_file": round(age_seconds / 3600, 2) if age_seconds is not None else -1.0,
            },
        )
