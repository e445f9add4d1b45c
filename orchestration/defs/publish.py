"""Publish: the last step of write-audit-publish."""

import dagster as dg
from dagster import AssetExecutionContext

from orchestration.defs.dbt import loyalty_dbt_assets
from orchestration.settings import load_settings
from orchestration.warehouse import publish


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
    path = publish(settings)
    context.log.info(f"published {path}")
    return dg.MaterializeResult(metadata={"path": str(path), "size_bytes": path.stat().st_size})
