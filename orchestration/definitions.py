"""The Dagster code location: assembles what orchestration/defs/ defines."""

from __future__ import annotations

import dagster as dg

from orchestration.defs.dbt import loyalty_dbt_assets
from orchestration.defs.incentives import incentive_close_job, monthly_incentive_close, store_incentive_month
from orchestration.defs.jobs import daily_refresh_schedule, refresh_job
from orchestration.defs.landing import load_landing_asset
from orchestration.defs.publish import published_warehouse
from orchestration.defs.resources import dbt_resource
from orchestration.defs.sensors import alert_on_failed_checks, alert_on_failed_refresh, new_landing_files

defs = dg.Definitions(
    assets=[load_landing_asset, loyalty_dbt_assets, published_warehouse, store_incentive_month],
    jobs=[refresh_job, incentive_close_job],
    schedules=[daily_refresh_schedule, monthly_incentive_close],
    sensors=[alert_on_failed_checks, alert_on_failed_refresh, new_landing_files],
    resources={"dbt": dbt_resource()},
)
