"""A sensor that marks failed the CLI runs whose process is gone, so a run killed by SIGKILL,
the OOM killer or a reboot does not stay STARTED until the next CLI run notices it."""

import dagster as dg

from audit_pipeline.runner import fail_abandoned_runs


@dg.sensor(
    minimum_interval_seconds=120,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Every 2 minutes: a run started by `audit-pipeline` on this machine whose process "
    "no longer exists is marked failed (it was killed). Runs launched from the UI or a schedule are "
    "watched by the instance's run monitoring (dagster_home/dagster.yaml).",
)
def abandoned_runs(context: dg.SensorEvaluationContext):
    failed = fail_abandoned_runs(context.instance)
    return dg.SkipReason(f"marked failed: {', '.join(failed)}" if failed else "no abandoned run")
