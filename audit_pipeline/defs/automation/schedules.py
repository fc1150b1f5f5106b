"""The nightly run: yesterday plus a lookback window, because billing is restated for days."""


from datetime import timedelta

import dagster as dg

from audit_pipeline.defs.partitions import partition_range_tags
from audit_pipeline.settings import load_settings

every_asset = dg.define_asset_job("every_asset", selection=dg.AssetSelection.all())


@dg.schedule(
    job=every_asset,
    cron_schedule="0 2 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="02:00 UTC: re-materialize yesterday and the AUDIT_LOOKBACK_DAYS before it in "
    "one run (late logs and restated billing land in those days).",
)
def nightly(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    yesterday = (context.scheduled_execution_time - timedelta(days=1)).date()
    first = yesterday - timedelta(days=load_settings().lookback_days)
    return dg.RunRequest(
        run_key=f"nightly-{yesterday.isoformat()}",
        tags=partition_range_tags(first, yesterday),
    )
