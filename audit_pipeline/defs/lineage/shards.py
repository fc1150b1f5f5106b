"""With AUDIT_SHARDS above 1, one step per shard of the day's calls (a hash of the event id)
builds their lineage onto the lake's staging area; `output_lineage` commits them together."""

import dagster as dg

from audit_pipeline.defs.partitions import run_days
from audit_pipeline.defs.redacted import redacted
from audit_pipeline.defs.resources import AuditStorage
from audit_pipeline.defs.sharding import SHARDED, SHARDS, shard_asset
from audit_pipeline.freshness import code_version
from audit_pipeline.loads.lineage import stage_lineage
from audit_pipeline.loads.staging import Shard, shard_step

OWNERS = ["team:llm-platform", "team:compliance"]
INPUTS = ["llm_calls", "prompt_versions", "prompt_commits", "price_catalog"]
"""What lineage is built from (the sharded and the one-step asset alike)."""


def _shard_asset(shard: Shard) -> dg.AssetsDefinition:
    @shard_asset(shard_step("output_lineage", shard), "lineage", OWNERS,
                 f"Shard {shard.number} of {shard.count} of the calls (a hash of the event id): their "
                 "lineage built onto the lake's staging area, for `output_lineage` to commit with the others.",
                 deps=INPUTS, code_version=code_version("audit_pipeline.loads.lineage"))
    @redacted
    def stage(context: dg.AssetExecutionContext, storage: AuditStorage):
        first, last = run_days(context)
        days = stage_lineage(storage.lake(), storage.staging(), first, last, shard)
        return dg.MaterializeResult(metadata={"days_built": len(days)})

    return stage


defs = dg.Definitions(assets=[_shard_asset(s) for s in SHARDS] if SHARDED else [])
