"""The nightly run (yesterday plus a lookback window, because billing is restated for days),
the weekly retention enforcement and the monthly auditor export."""


from datetime import timedelta

import dagster as dg

from audit_pipeline.defs.partitions import partition_range_tags
from audit_pipeline.exports.build import previous_month
from audit_pipeline.settings import load_settings

ENFORCEMENT = dg.AssetSelection.assets("retention_enforcement")
EXPORT = dg.AssetSelection.assets("auditor_export")

every_asset = dg.define_asset_job(
    "every_asset", selection=dg.AssetSelection.all() - ENFORCEMENT - EXPORT,
    description="Every asset except retention enforcement (it deletes) and the auditor export (a "
    "period at a time); each runs on its own schedule.")

retention_reports = dg.define_asset_job(
    "retention_reports", selection=dg.AssetSelection.assets("retention_report"),
    description="Retention reports only, e.g. as of a past moment (`audit-pipeline report --as-of`).")

auditor_exports = dg.define_asset_job(
    "auditor_exports", selection=EXPORT,
    description="Export a period for auditors (`audit-pipeline export --from --to`, or monthly).")

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


@dg.schedule(
    job=auditor_exports,
    cron_schedule="0 5 5 * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="The 5th of each month, 05:00 UTC: export the previous calendar month for auditors. "
    "It waits until the nightly runs have re-read the month's last days (billing is restated for "
    "AUDIT_LOOKBACK_DAYS), so the export holds the settled figures.",
)
def monthly_export(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    first, last = previous_month(context.scheduled_execution_time.date())
    return dg.RunRequest(
        run_key=f"export-{first:%Y-%m}",
        run_config={"ops": {"auditor_export": {"config": {"first": first.isoformat(), "last": last.isoformat()}}}},
    )
