"""Publish: the last step of write-audit-publish."""

import os

import dagster as dg
from dagster import AssetExecutionContext

from orchestration import alerts
from orchestration.defs.dbt import loyalty_dbt_assets
from orchestration.lock import warehouse_lock
from orchestration.report import write_report
from orchestration.settings import load_settings
from orchestration.summary import jsonable, reconciliation_markdown, warehouse_figures
from orchestration.warehouse import connect, publish


@dg.asset(
    key=dg.AssetKey(["published_warehouse"]),
    deps=list(loyalty_dbt_assets.keys),
    group_name="publish",
    kinds={"duckdb"},
    description=(
        "The warehouse file BI tools read (LOYALTY_WAREHOUSE), atomically replaced by the work "
        "copy once every integrity check passed. Never runs after a failed integrity check."
    ),
)
def published_warehouse(context: AssetExecutionContext) -> dg.MaterializeResult:
    settings = load_settings()
    # Read the figures from the work copy before it becomes the published file: nothing in
    # this process opens the published file (DuckDB locks are per open file).
    with connect(settings.work_copy) as connection:
        alerts_published = alerts.load_into(connection, settings)
    figures = warehouse_figures(settings.work_copy)
    report_draft = settings.report_path.with_name(settings.report_path.name + ".work")
    write_report(settings.work_copy, report_draft)
    path = publish(settings)
    os.replace(report_draft, settings.report_path)
    lock = warehouse_lock(settings)
    if lock.is_locked:
        lock.release()  # the level taken by the loader at the start of this run
    context.log.info(f"published {path}")
    return dg.MaterializeResult(
        metadata={
            "path": str(path),
            "report": dg.MetadataValue.path(str(settings.report_path)),
            "size_bytes": path.stat().st_size,
            "alerts_added_to_audit_alerts": alerts_published,
            "reconciliation_summary": dg.MetadataValue.md(reconciliation_markdown(figures)),
            "figures": dg.MetadataValue.json(jsonable(figures)),
        }
    )
