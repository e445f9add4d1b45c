"""The refresh job (what `make refresh` and the daily schedule run) and its schedules."""

from __future__ import annotations

from datetime import datetime, timedelta

import dagster as dg

refresh_job = dg.define_asset_job(
    name="refresh",
    selection=dg.AssetSelection.all(),
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


PUBLISH_MONTH_TAG = "loyalty/publish_incentive_month"


def previous_month(moment: datetime) -> str:
    first = moment.date().replace(day=1)
    return (first - timedelta(days=1)).strftime("%Y-%m")


@dg.schedule(
    name="monthly_incentive_evaluation",
    job=refresh_job,
    cron_schedule="0 6 2 * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def monthly_incentive_evaluation(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """On the 2nd, refresh and publish the previous month's store incentive evaluation (the
    loader journals the publish action before it loads: orchestration/incentive_actions.py)."""
    month = previous_month(context.scheduled_execution_time)
    return dg.RunRequest(run_key=f"incentives-{month}", tags={PUBLISH_MONTH_TAG: month})
