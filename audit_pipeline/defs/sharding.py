"""How many shards one run's heavy work splits into (AUDIT_SHARDS): with more than one, the
log files are staged and the lineage built by a step per shard, in parallel on whatever
executor runs the job, and one step per table commits them (docs/scaling.md)."""

import dagster as dg

from audit_pipeline.defs.partitions import daily_partitions, single_run
from audit_pipeline.loads.staging import Shard
from audit_pipeline.settings import load_settings

SHARDS = [Shard(n, load_settings().shards) for n in range(1, load_settings().shards + 1)]
SHARDED = len(SHARDS) > 1
"""Whether the shards are steps of their own (AUDIT_SHARDS above 1)."""


def shard_asset(name: str, group: str, owners: list[str], description: str, **extra) -> dg.AssetsDefinition:
    """The decorator of one shard's stage asset: daily, a day range per run like the table it
    feeds, so all shards of a run are steps of that run."""
    return dg.asset(name=name, group_name=group, partitions_def=daily_partitions, backfill_policy=single_run,
                    owners=owners, kinds={"python", "duckdb"}, description=description, **extra)
