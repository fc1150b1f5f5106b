"""A sensor that runs the pipeline for exactly the days that new or changed files affect."""

import hashlib
import json

import dagster as dg

from audit_pipeline.defs.automation.schedules import every_asset
from audit_pipeline.defs.partitions import partition_range_tags
from audit_pipeline.defs.resources import AuditStorage
from audit_pipeline.loads.changes import Seen, changed_files, days_to_run
from audit_pipeline.settings import load_settings


@dg.sensor(
    job=every_asset,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Every 5 minutes: new or changed landing files (by ETag or sha256) start one "
    "run over the days they affect; the cursor keeps unchanged files from starting runs again.",
)
def landing_files(context: dg.SensorEvaluationContext, storage: AuditStorage):
    seen = {path: Seen(*v) for path, v in json.loads(context.cursor or "{}").items()}
    changed, now_seen = changed_files(storage.landing(), seen)
    days = days_to_run(storage.landing(), changed, load_settings().start_date)
    context.update_cursor(json.dumps({p: [s.version, s.content] for p, s in sorted(now_seen.items())}))
    if not days:
        return dg.SkipReason(f"{len(changed)} changed files, no partition to rebuild" if changed
                             else "no new or changed landing files")
    change_id = hashlib.sha256("".join(sorted(now_seen[f.path].content for f in changed)).encode())
    return dg.RunRequest(
        run_key=f"landing-{change_id.hexdigest()[:16]}",
        tags={**partition_range_tags(min(days), max(days)), "audit/changed_files": str(len(changed))},
    )
