"""How many shards one run's heavy work splits into (AUDIT_SHARDS): with more than one, the
log files are staged and the lineage built by a step per shard, in parallel on whatever
executor runs the job, and one step per table commits them (docs/scaling.md)."""

from audit_pipeline.loads.staging import Shard
from audit_pipeline.settings import load_settings

SHARDS = [Shard(n, load_settings().shards) for n in range(1, load_settings().shards + 1)]
SHARDED = len(SHARDS) > 1
"""Whether the shards are steps of their own (AUDIT_SHARDS above 1)."""
