"""Publish: the last step of write-audit-publish (docs/operations.md#write-audit-publish)."""

import json
import os

import dagster as dg
from dagster import AssetExecutionContext

from loyalty import alerts
from loyalty.failpoints import failpoint
from loyalty.lock import warehouse_lock
from loyalty.reporting.report import write_report_from
from loyalty.reporting.summary import jsonable, reconciliation_markdown, warehouse_figures
from loyalty.reporting.workbook import write_workbook_from
from loyalty.settings import Settings
from loyalty.warehouse import open_warehouse
from orchestration.defs.dbt.assets import OUTCOME_FILE


def build_published_warehouse(dbt_assets: dg.AssetsDefinition) -> dg.AssetsDefinition:
    """The publish asset, downstream of every dbt asset."""

    @dg.asset(
        key=dg.AssetKey(["published_warehouse"]),
        deps=list(dbt_assets.keys),
        group_name="publish",
        kinds={"duckdb", "postgres"},
        description=(
            "The warehouse BI tools read, atomically replaced once every integrity check passed: the "
            "DuckDB file LOYALTY_WAREHOUSE (marts and masked audit written from the build database "
            "into a new file, then os.replace) or the "
            "PostgreSQL schemas (build schemas renamed over the published ones in one transaction). "
            "Also writes the reconciliation report and the month-end roll-forwards workbook into the "
            "state folder. Never runs after a failed integrity check."
        ),
    )
    def published_warehouse(
        context: AssetExecutionContext, settings: dg.ResourceParam[Settings]
    ) -> dg.MaterializeResult:
        warehouse = open_warehouse(settings)
        outcome_path = settings.dbt_target_dir / OUTCOME_FILE
        exit_code = json.loads(outcome_path.read_text())["exit_code"] if outcome_path.exists() else None
        warehouse.note_pending_exit_code(exit_code)
        report_draft = settings.report_draft_path
        # DuckDB: read the work copy before it becomes the published file (nothing in this process
        # opens the published file; DuckDB locks are per open file). PostgreSQL: the build schemas
        # only get their real names at publish, so read after it.
        if warehouse.reads_after_publish:
            published = warehouse.publish()
        with warehouse.build_connection() as connection:
            alerts_published = alerts.load_into(connection, settings)
        with warehouse.reader() as connection:
            figures = warehouse_figures(connection)
            write_report_from(connection, report_draft, source=warehouse.describe())
            write_workbook_from(connection, settings.workbook_draft_path, source=warehouse.describe())
        if not warehouse.reads_after_publish:
            published = warehouse.publish()
        failpoint("publish.after_swap")
        warehouse.commit(exit_code)
        for draft, final in settings.publish_drafts():  # the report and the workbook
            os.replace(draft, final)
        lock = warehouse_lock(settings)
        if lock.is_locked:
            lock.release()  # the level taken by the loader at the start of this run
        context.log.info(f"published {published}")
        metadata = {
            "published": published,
            "engine": warehouse.engine,
            "report": dg.MetadataValue.path(str(settings.report_path)),
            "workbook": dg.MetadataValue.path(str(settings.workbook_path)),
            "alerts_added_to_audit_alerts": alerts_published,
            "reconciliation_summary": dg.MetadataValue.md(reconciliation_markdown(figures)),
            "figures": dg.MetadataValue.json(jsonable(figures)),
        }
        if warehouse.engine == "duckdb":
            metadata["path"] = str(settings.warehouse)
            metadata["size_bytes"] = settings.warehouse.stat().st_size
        return dg.MaterializeResult(metadata=metadata)

    return published_warehouse
