"""With AUDIT_SHARDS above 1, one step per shard of the day's log files, upstream of
`llm_calls`: each parses and validates its files and stages them on the lake, in parallel
with the others on whatever executor runs the job; `llm_calls` then commits them together."""

from datetime import UTC, datetime

import dagster as dg

from audit_pipeline.defs.ingest.results import log_failed_files
from audit_pipeline.defs.partitions import first_partition_day, run_days
from audit_pipeline.defs.redacted import redacted
from audit_pipeline.defs.resources import AuditStorage
from audit_pipeline.defs.sharding import SHARDED, SHARDS, shard_asset
from audit_pipeline.loads.call_shards import stage_shard
from audit_pipeline.loads.calls import record_limits
from audit_pipeline.loads.staging import Shard, shard_step
from audit_pipeline.settings import load_settings

OWNERS = ["team:llm-platform"]


def _shard_asset(shard: Shard) -> dg.AssetsDefinition:
    @shard_asset(shard_step("llm_calls", shard), "ingest", OWNERS,
                 f"Shard {shard.number} of {shard.count} of the log files (a stable hash of each file's "
                 "path): parsed, validated and staged on the lake, secrets masked, for `llm_calls` to "
                 "de-duplicate with the other shards and commit.")
    @redacted
    def stage(context: dg.AssetExecutionContext, storage: AuditStorage):
        first, last = run_days(context)
        settings, now = load_settings(), datetime.now(UTC)
        staged = stage_shard(storage.landing(), storage.lake(), storage.staging(), first, last, now, shard,
                             record_limits(now, first_partition_day(), settings.max_file_bytes))
        reports = list(staged.reports.values())
        log_failed_files(context, reports)
        return dg.MaterializeResult(metadata={
            "files": len(staged.read),
            "days_staged": len(staged.days),
            "rows_quarantined": sum(r.total("rows_quarantined") for r in reports),
            "files_failed": sum(len(r.failed_files) for r in reports),
        })

    return stage


defs = dg.Definitions(assets=[_shard_asset(s) for s in SHARDS] if SHARDED else [])
