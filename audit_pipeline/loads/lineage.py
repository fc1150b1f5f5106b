"""`output_lineage`: tie every logged output to its prompt version, model and cost.

Resolution, strongest evidence first (one row per call, the reason kept in
`resolution_note`):

1. `explicit`: the call names a prompt version that the repository has, either a commit
   that changed that prompt or any repository commit (then the prompt's version as of that
   commit is meant).
2. `content_hash`: the call's `prompt_sha256` equals a version's content hash; among
   matches the version valid at the call's time wins, else the latest committed before it.
3. `time_inferred`: the call names only a prompt id; the version valid at its time is used.
4. `unresolved`: none of the above. A call that names a version the repository does not
   have is not time-inferred: a guess would hide an unreviewed prompt from the auditor.

Model: `snapshot` when the provider returned a dated or versioned model name,
`alias_only` when only an alias is known. Cost: the dated price catalog, per token type.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from audit_pipeline import engine, pricing
from audit_pipeline.freshness import Recipe, code_version, record, stale
from audit_pipeline.lake import Lake, date_range_predicate, in_predicate
from audit_pipeline.landing import Landing
from audit_pipeline.loads.staging import (
    EVERYTHING,
    Shard,
    ShardNotReady,
    Staging,
    remove_abandoned,
    shard_step,
)
from audit_pipeline.schemas import OUTPUT_LINEAGE, conform_reader
from audit_pipeline.scratch import scratch
from audit_pipeline.sql import load_sql

RESOLUTIONS = ("explicit", "content_hash", "time_inferred", "unresolved")
MODEL_STATUSES = ("snapshot", "alias_only")

_SNAPSHOT_PATTERN = r"(\d{4}-?\d{2}-?\d{2}|-v\d+(:\d+)?$|-\d{3,}$)"
"""Dated (`-2024-07-18`, `-20250929`) or versioned (`-v1:0`, `-0613`) model names."""



def _recipe(lake: Lake) -> Recipe:
    """Lineage of a day is built from that day's calls, the whole prompt history, the price
    catalog and its prompt-length bands, and this module's code."""
    return Recipe("output_lineage", code_version(__name__),
                  {**{table: lake.signatures(table)["all"] for table in ("prompt_versions", "prompt_commits",
                                                                         "price_catalog")},
                   "context_bands": pricing.bands_fingerprint()})


def _fingerprints(lake: Lake, days: list[date]) -> dict[str, str]:
    recipe = _recipe(lake)
    calls = lake.signatures("llm_calls", days)
    return {day: recipe.fingerprint({"llm_calls": calls[day]}) for day in calls}


def stale_days(lake: Lake, first: date, last: date) -> list[date]:
    """Days of [first, last] whose lineage was built from other calls, another prompt
    history or price catalog, or other code than now (`freshness`): a re-ingested day, a new
    commit in the prompt repository, a price change or a fix to this module rebuilds them."""
    fingerprints = _fingerprints(lake, [first + timedelta(days=n) for n in range((last - first).days + 1)])
    return [date.fromisoformat(d) for d in stale(lake, "output_lineage", fingerprints)]


def build_output_lineage(lake: Lake, first: date, last: date, built_at: datetime | None = None,
                         only_stale: bool = True, run_id: str = "") -> dict[str, int]:
    """Rebuild the stale days of [first, last] of `output_lineage` (every day unless
    `only_stale`); return counts by resolution over the whole range."""
    built_at = built_at or datetime.now(UTC)
    # Fingerprinted before building: inputs that change meanwhile leave the day stale.
    fingerprints = _fingerprints(lake, [first + timedelta(days=n) for n in range((last - first).days + 1)])
    days = stale(lake, "output_lineage", fingerprints) if only_stale else sorted(fingerprints)
    if days:
        predicate = in_predicate("event_date", days)
        con = engine.connect()
        lake.replace_where("output_lineage", _lineage_rows(con, lake, predicate, built_at, EVERYTHING), predicate)
        record(lake, "output_lineage", {d: fingerprints[d] for d in days}, run_id, built_at)
    return resolution_counts(lake, first, last)


def resolution_counts(lake: Lake, first: date, last: date) -> dict[str, int]:
    """Outputs of [first, last] by how their prompt version was resolved."""
    resolutions = lake.read("output_lineage", where=date_range_predicate("event_date", first, last),
                            columns=["resolution"]).column("resolution")
    counts = dict.fromkeys(RESOLUTIONS, 0)
    counts.update({r["values"]: r["counts"] for r in resolutions.value_counts().to_pylist()})
    return counts


def _lineage_rows(con, lake: Lake, predicate: str, built_at: datetime, shard: Shard) -> pa.RecordBatchReader:
    """The lineage of the calls `predicate` selects that fall in `shard` (by a hash of the
    event id), streamed."""
    # The calls are scanned by several joins: stage them once in DuckDB (it spills to disk).
    con.register("calls_stream", lake.scan("llm_calls", where=predicate))
    in_shard = "" if shard.count == 1 else f"WHERE hash(event_id) % {shard.count} = {shard.number - 1}"
    con.sql(f"CREATE TEMP TABLE calls AS SELECT * FROM calls_stream {in_shard}")
    con.register("versions", lake.read("prompt_versions"))
    con.register("commits", lake.read("prompt_commits", columns=["commit_sha", "committed_at"]))
    pricing.register(con, lake)
    rows = con.sql(load_sql(__package__, "output_lineage"), params={
        "built_at": built_at, "snapshot_pattern": _SNAPSHOT_PATTERN}).to_arrow_reader(batch_size=200_000)
    return conform_reader(rows, OUTPUT_LINEAGE)


def stage_lineage(lake: Lake, store: Landing, first: date, last: date, shard: Shard,
                  built_at: datetime | None = None) -> list[str]:
    """Build the lineage of one shard of the stale days of [first, last] onto the lake's
    staging area, with the fingerprints it was built from; returns those days. (Lineage rows
    come from tables already masked: there is no secret to mask here.)"""
    built_at = built_at or datetime.now(UTC)
    fingerprints = _fingerprints(lake, [first + timedelta(days=n) for n in range((last - first).days + 1)])
    days = stale(lake, "output_lineage", fingerprints)
    with scratch("lineage") as tmp:
        if days:
            rows = _lineage_rows(engine.connect(), lake, in_predicate("event_date", days), built_at, shard)
            with pq.ParquetWriter(tmp / "rows.parquet", rows.schema) as writer:
                for batch in rows:
                    writer.write_batch(batch)
        Staging(store, "output_lineage", first, last).put(shard, tmp, {
            "days": days, "fingerprints": {d: fingerprints[d] for d in days}}, staged_at=built_at)
    return days


def _staged_rows(parts: list[Path]) -> pa.RecordBatchReader:
    """The shards' rows, one file and one batch at a time: a dataset scan reads ahead several
    files and batches at once, which held 7.6 GB for a 16M-call day (measured)."""
    def batches() -> Iterator[pa.RecordBatch]:
        for part in parts:
            yield from pq.ParquetFile(part).iter_batches(batch_size=100_000)

    return pa.RecordBatchReader.from_batches(OUTPUT_LINEAGE, batches())


def commit_lineage(lake: Lake, store: Landing, first: date, last: date, count: int,
                   run_id: str = "") -> dict[str, int]:
    """Write every shard's lineage of [first, last] in one commit and record what it was
    built from; refused when a shard was built from other calls, prompts or prices than the
    lake holds now. Returns counts by resolution."""
    area = Staging(store, "output_lineage", first, last)
    current = _fingerprints(lake, [first + timedelta(days=n) for n in range((last - first).days + 1)])
    with scratch("lineage-commit") as tmp:
        manifests = []
        for shard in (Shard(n, count) for n in range(1, count + 1)):
            manifest = area.get(shard, tmp / shard.name)
            changed = sorted(d for d, fp in manifest["fingerprints"].items() if current.get(d) != fp)
            if changed:
                raise ShardNotReady(f"shard {shard.name} of output_lineage was built from inputs that changed since "
                                    f"(days {', '.join(changed)}): materialize {shard_step('output_lineage', shard)} again")
            manifests.append(manifest)
        if len({tuple(m["days"]) for m in manifests}) > 1:
            raise ShardNotReady(f"the lineage shards of {first}..{last} disagree on the days to build: "
                                "materialize every shard again")
        days = manifests[0]["days"]
        if days:
            parts = sorted(tmp.rglob("rows.parquet"))
            predicate = in_predicate("event_date", days)
            lake.replace_where("output_lineage", conform_reader(_staged_rows(parts), OUTPUT_LINEAGE), predicate)
            record(lake, "output_lineage", {d: current[d] for d in days}, run_id,
                   datetime.fromisoformat(manifests[0]["staged_at"]))
    area.remove()
    remove_abandoned(store, "output_lineage", datetime.now(UTC))
    return resolution_counts(lake, first, last)
