"""The loader as Dagster assets: one asset per raw table, upstream of the dbt sources."""

import dagster as dg
from dagster import AssetExecutionContext

from loyalty import alerts, incentive_actions
from loyalty.failpoints import failpoint
from loyalty.landing.contract import SOURCES
from loyalty.landing.freshness import source_freshness
from loyalty.landing.loader import LoadError, load_landing, new_load_id
from loyalty.lock import WarehouseBusy, acquire
from loyalty.settings import Settings
from loyalty.warehouse import FINAL_STATUSES, BuildJournal, build_fingerprint, open_warehouse, project_fingerprint
from orchestration.defs.resources import FULL_REFRESH_TAG

RAW_TABLES = (*SOURCES, "load_log", "incentive_period_actions")
FRESHNESS_CHECK = "source_freshness"


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
            description=(
                "Source freshness from the load log: a file of this source arrived within the "
                "dbt sources' freshness thresholds (26 h warn / 50 h error)."
            ),
        )
        for source in SOURCES
    ],
)
def load_landing_asset(context: AssetExecutionContext, settings: dg.ResourceParam[Settings]):
    """Begin a refresh of the build database (rolling back what an unfinished one left), then
    load what is new in the landing folder. With nothing new and nothing else changed since
    the last publish, the refresh journal says so and the build and publish steps stand down
    (docs/operations.md#incremental-refresh)."""
    warehouse = open_warehouse(settings)
    try:
        # Held until publish (or the run's process ends); re-entrant under `refresh`.
        acquire(settings)
    except WarehouseBusy as error:
        raise dg.Failure(description=str(error)) from error
    full_refresh = context.run.tags.get(FULL_REFRESH_TAG) == "true"
    built_with = BuildJournal.read(settings)
    if not full_refresh and built_with is not None and built_with.project != project_fingerprint(settings):
        # the incremental models' rows were computed by another version of the project (its
        # SQL, macros or seeds) or engine: rebuild them (docs/operations.md#incremental-refresh)
        context.log.info("the dbt project changed since the last build: every incremental model is rebuilt")
        full_refresh = True
    previous = warehouse.begin(full_refresh=full_refresh)
    # journaled before the first row is written: a refresh killed between two files is rolled
    # back whole by the next one (docs/operations.md#rollback)
    load_id = new_load_id()
    warehouse.record_load(load_id)
    try:
        with warehouse.build_connection() as connection:
            report = load_landing(connection, settings.landing_dir, load_id=load_id)
            actions = incentive_actions.load_into(connection, settings)
            freshness = source_freshness(connection, settings.manifest_dir / "manifest.json")
    except LoadError as error:
        warehouse.rollback()
        raise dg.Failure(description=str(error), metadata={"landing_dir": str(settings.landing_dir)}) from error
    fingerprint = build_fingerprint(settings)
    unchanged = (
        not full_refresh
        and not report.loaded
        and not report.duplicate_files
        and previous is not None
        and previous.status in FINAL_STATUSES
        and previous.fingerprint == fingerprint
        # a published warehouse removed or lost since is published again (docs/runbook.md#restore)
        and warehouse.exists()
    )
    warehouse.set_fingerprint(fingerprint, unchanged=unchanged)
    failpoint("load.after")
    if unchanged:
        context.log.info("nothing new since the last publish: the published warehouse stands")
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
    stale = [
        (result.source, result.status, None if result.age_seconds is None else result.age_seconds / 3600)
        for result in freshness
        if result.source in SOURCES and result.status != "pass"
    ]
    for alert in alerts.record(settings, alerts.stale_source_alerts(context.run.run_id, stale)):
        context.log.warning(f"ALERT {alert.message}")
    for result in freshness:
        if result.source not in SOURCES:
            continue
        yield dg.AssetCheckResult(
            asset_key=dg.AssetKey(["raw", result.source]),
            check_name=FRESHNESS_CHECK,
            passed=result.status == "pass",
            severity=dg.AssetCheckSeverity.ERROR if result.status == "error" else dg.AssetCheckSeverity.WARN,
            metadata={
                "status": result.status,
                "hours_since_last_file": -1.0 if result.age_seconds is None else round(result.age_seconds / 3600, 2),
            },
        )
