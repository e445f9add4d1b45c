"""The refresh job (what `make refresh` and the daily schedule run) and its schedules."""

from __future__ import annotations

import dagster as dg

refresh_job = dg.define_asset_job(
    name="refresh",
    # everything but the incentive month partitions (the incentive_close job closes those)
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets("store_incentive_month"),
    description="Load what is new, build every model, run every test, publish if integrity holds.",
    # One warehouse file, one writer: the steps run one after another in one process.
    executor_def=dg.in_process_executor,
    # queued one at a time (tag_concurrency_limits in orchestration/dagster.yaml)
    tags={"loyalty/warehouse": "write"},
)

daily_refresh_schedule = dg.ScheduleDefinition(
    name="daily_refresh",
    job=refresh_job,
    cron_schedule="0 6 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
