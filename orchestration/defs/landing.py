"""The loader as Dagster assets: one asset per raw table, upstream of the dbt sources."""

import dagster as dg
from dagster import AssetExecutionContext

from orchestration.landing import SOURCES
from orchestration.loader import LoadError, load_landing
from orchestration.lock import WarehouseBusy, acquire
from orchestration.settings import load_settings
from orchestration.warehouse import connect, prepare_work_copy

RAW_TABLES = (*SOURCES, "load_log")


@dg.multi_asset(
    name="load_landing",
    specs=[
        dg.AssetSpec(
            dg.AssetKey(["raw", table]),
            group_name="landing",
            kinds={"duckdb", "python"},
            description=(
                "Landing files not seen before, as text rows (orchestration/loader.py)."
                if table != "load_log"
                else "One row per landing file loaded or recognised as a copy."
            ),
        )
        for table in RAW_TABLES
    ],
)
def load_landing_asset(context: AssetExecutionContext):
    """Copy the published warehouse to the work copy, then load what is new in the landing folder."""
    settings = load_settings()
    try:
        # Held until publish (or the run's process ends); re-entrant under `refresh`.
        acquire(settings)
    except WarehouseBusy as error:
        raise dg.Failure(description=str(error)) from error
    work = prepare_work_copy(settings)
    connection = connect(work)
    try:
        report = load_landing(connection, settings.landing_dir)
    except LoadError as error:
        raise dg.Failure(description=str(error), metadata={"landing_dir": str(settings.landing_dir)}) from error
    finally:
        connection.close()
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
