"""The Dagster code location: assembles what orchestration/defs/ defines for one warehouse.

``dagster dev -m orchestration.definitions`` loads ``defs``, built (when Dagster loads the
code location, not at import) from the environment's settings (loyalty/settings.py); the
``refresh`` command builds its own with :func:`build_defs`.
"""

from __future__ import annotations

import dagster as dg

from loyalty.settings import Settings, load_settings
from orchestration.defs.alerts.sensors import alert_on_failed_checks, alert_on_failed_refresh
from orchestration.defs.dbt.assets import build_dbt_assets
from orchestration.defs.dbt.project import prepare_manifest
from orchestration.defs.incentives.assets import build_incentive_defs
from orchestration.defs.jobs import daily_refresh_schedule, refresh_job
from orchestration.defs.landing.assets import load_landing_asset
from orchestration.defs.landing.sensors import new_landing_files
from orchestration.defs.publish.assets import build_published_warehouse
from orchestration.defs.resources import dbt_resource
from orchestration.instance import relax_sqlite_durability


def build_defs(settings: Settings) -> dg.Definitions:
    """Every asset, check, job, schedule and sensor of the warehouse ``settings`` name; parses
    the dbt project first when its manifest is missing or stale."""
    dbt = dbt_resource(settings)
    manifest = prepare_manifest(settings, dbt)
    dbt_assets = build_dbt_assets(settings, manifest)
    store_incentive_month, incentive_close_job, monthly_incentive_close = build_incentive_defs(
        settings.incentives_start, manifest
    )
    return dg.Definitions(
        assets=[load_landing_asset, dbt_assets, build_published_warehouse(dbt_assets), store_incentive_month],
        jobs=[refresh_job, incentive_close_job],
        schedules=[daily_refresh_schedule, monthly_incentive_close],
        sensors=[alert_on_failed_checks, alert_on_failed_refresh, new_landing_files],
        resources={"dbt": dbt, "settings": settings},
    )


@dg.definitions
def defs() -> dg.Definitions:
    # the webserver, daemon and run workers that load this code location write the event log
    relax_sqlite_durability()
    return build_defs(load_settings())
