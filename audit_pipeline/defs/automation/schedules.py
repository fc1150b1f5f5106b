"""The nightly run (yesterday plus a lookback window, because billing is restated for days)
and the weekly retention enforcement."""


from datetime import timedelta

import dagster as dg

from audit_pipeline.defs.partitions import partition_range_tags
from audit_pipeline.settings import load_settings

ENFORCEMENT = dg.AssetSelection.assets("retention_enforcement")

every_asset = dg.define_asset_job(
    "every_asset", selection=dg.AssetSelection.all() - ENFORCEMENT,
    description="Every asset except retention enforcement, which deletes and runs on its own schedule.")

retention_reports = dg.define_asset_job(
    "retention_reports", selection=dg.AssetSelection.assets("retention_report"),
    description="Retention reports only, e.g. as of a past moment (`audit-pipeline report --as-of`).")

enforce_retention = dg.define_asset_job(
    "enforce_retention", selection=ENFORCEMENT,
    description="Delete rows past their retention ceiling (dry run unless configured otherwise).")


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


@dg.schedule(
    job=enforce_retention,
    cron_schedule="0 3 * * 0",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Sundays 03:00 UTC: delete rows past each AI system's retention ceiling (never "
    "inside the floor or under an active legal hold) and vacuum, for real: not a dry run.",
)
def weekly_enforcement(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    return dg.RunRequest(
        run_key=f"enforcement-{context.scheduled_execution_time:%Y-%m-%d}",
        run_config={"ops": {"retention_enforcement": {"config": {"dry_run": False}}}},
    )
