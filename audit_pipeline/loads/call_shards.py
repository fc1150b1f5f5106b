"""One day's log files in shards: each shard staged by its own step, in its own process or
pod, and committed together by one step (AUDIT_SHARDS, docs/scaling.md).

A shard step parses and validates its files (a stable hash of the path picks them) and
leaves what it staged on the lake, under `_staging/llm_calls/<first>_<last>/<shard>/`:
accepted rows and parse rejections as Parquet, secrets already masked (the staging area is
storage like any table), and a manifest of its counts, days and the version of every file it
read. The commit step takes every shard's staging, refuses one made from files that have
since changed, de-duplicates all of them together exactly as a one-step load does, writes
`llm_calls`, `quarantine` and `ingest_log`, and removes the staging. Nothing passes between
the steps but the lake.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from audit_pipeline.lake import Lake
from audit_pipeline.landing import Landing
from audit_pipeline.loads.bookkeeping import FileCount, LoadReport, write_reports
from audit_pipeline.loads.calls import (
    Shard,
    StagedCalls,
    commit_calls,
    source_files,
    stage_calls,
)
from audit_pipeline.redaction import mask_batch
from audit_pipeline.scratch import scratch
from audit_pipeline.sources import registry
from audit_pipeline.sources.lines import RecordLimits

STAGING = "_staging/llm_calls"
MANIFEST = "manifest.json"


class ShardNotReady(RuntimeError):
    """A shard's staging is missing, or was made from files that changed since."""


def staging_prefix(first: date, last: date, shard: Shard | None = None) -> str:
    base = f"{STAGING}/{first.isoformat()}_{last.isoformat()}"
    return f"{base}/{shard.name}" if shard else base


def _count_dict(count: FileCount) -> dict:
    return {**vars(count), "skipped": dict(count.skipped)}


def _count(values: dict) -> FileCount:
    return FileCount(**{**values, "skipped": Counter(values["skipped"])})


def _masked_copy(source: Path, target: Path) -> None:
    """The Parquet file with every secret masked, batch by batch."""
    reader = pq.ParquetFile(source)
    with pq.ParquetWriter(target, reader.schema_arrow) as writer:
        for batch in reader.iter_batches(batch_size=100_000):
            writer.write_batch(mask_batch(batch))


def stage_shard(landing: Landing, lake: Lake, store: Landing, first: date, last: date, ingested_at: datetime,
                shard: Shard, limits: RecordLimits, skip_unchanged: bool = True) -> StagedCalls:
    """Stage one shard of [first, last] onto the lake's staging area (replacing an earlier
    staging of the same shard); returns what it staged (its local folder is gone by then)."""
    prefix = staging_prefix(first, last, shard)
    store.remove(prefix)
    with scratch("shard") as tmp:
        (tmp / "rows").mkdir()
        staged = stage_calls(landing, lake, first, last, skip_unchanged, limits, shard, tmp / "rows")
        manifest = {"shard": shard.name, "days": [d.isoformat() for d in staged.days],
                    "staged_at": ingested_at.isoformat(), "read": staged.read, "rows": [], "sources": {},
                    "counts": [{"file": f, "partition": p, "count": _count_dict(c)}
                               for (f, p), c in staged.counts.items()]}
        for path in sorted(staged.folder.glob("*.parquet")):
            _masked_copy(path, tmp / path.name)
            store.upload(f"{prefix}/rows/{path.name}", tmp / path.name)
            manifest["rows"].append(path.name)
        for name, report in staged.reports.items():
            rejected = [q for q in report.quarantine if q.num_rows]
            if rejected:
                pq.write_table(mask_batch(pa.concat_tables(rejected, promote_options="permissive")),
                               tmp / f"rejected-{name}.parquet")
                store.upload(f"{prefix}/rejected-{name}.parquet", tmp / f"rejected-{name}.parquet")
            manifest["sources"][name] = {
                "days_skipped": report.days_skipped, "unknown_fields": dict(report.unknown_fields),
                "rejected": bool(rejected),
                # Counts of files filed on a run day are the report's; others only feed routing.
                "files": [_count_dict(c) for c in report.files]}
        # Written last: a shard without its manifest was never staged.
        store.write_bytes(f"{prefix}/{MANIFEST}", json.dumps(manifest, sort_keys=True).encode())
    return staged


def _load_shard(store: Landing, prefix: str, shard: Shard, folder: Path) -> tuple[StagedCalls, dict]:
    try:
        [manifest_file] = [f for f in store.list(prefix, (MANIFEST,)) if f.path.endswith(f"/{MANIFEST}")]
    except ValueError:
        raise ShardNotReady(f"shard {shard.name} of {prefix} was not staged: materialize "
                            f"llm_calls_shard_{shard.number} for these days first") from None
    manifest = json.loads(store.read_bytes(manifest_file)[0])
    (folder / "rows").mkdir(parents=True)
    for name in manifest["rows"]:
        store.download(f"{prefix}/rows/{name}", folder / "rows" / name)
    reports = {}
    for name, values in manifest["sources"].items():
        report = LoadReport(name, [date.fromisoformat(d) for d in manifest["days"]],
                            days_skipped=values["days_skipped"], unknown_fields=Counter(values["unknown_fields"]))
        report.files = [_count(c) for c in values["files"]]
        if values["rejected"]:
            store.download(f"{prefix}/rejected-{name}.parquet", folder / f"rejected-{name}.parquet")
            report.quarantine.append(pq.read_table(folder / f"rejected-{name}.parquet"))
        reports[name] = report
    # The same objects as in the reports, so the commit's counts land in them.
    by_key = {(c.source_file, c.partition): c for r in reports.values() for c in r.files}
    counts = {(e["file"], e["partition"]): by_key.get((e["file"], e["partition"])) or _count(e["count"])
              for e in manifest["counts"]}
    staged = StagedCalls([date.fromisoformat(d) for d in manifest["days"]], reports, counts, manifest["read"],
                         folder / "rows")
    return staged, manifest


def _stale_files(landing: Landing, shard: Shard, staged: StagedCalls) -> list[str]:
    """Files the shard read that changed or went since it was staged (a file that arrived
    since is not in this run's ingest_log, so the next run redoes its days)."""
    current = {f.path: f.version for s in registry.line_sources() for f in source_files(landing, s)
               if shard.holds(f.path) and f.path in staged.read}
    return sorted(p for p, version in staged.read.items() if current.get(p) != version)


def commit_shards(landing: Landing, lake: Lake, store: Landing, first: date, last: date, ingested_at: datetime,
                  count: int, run_id: str = "") -> list[LoadReport]:
    """Commit every shard of [first, last] together: `llm_calls`, then `quarantine` and
    `ingest_log`, exactly as one step would have; then remove the staging."""
    shards = [Shard(n, count) for n in range(1, count + 1)]
    with scratch("commit") as tmp:
        staged = []
        for shard in shards:
            part, _ = _load_shard(store, staging_prefix(first, last, shard), shard, tmp / shard.name)
            if stale := _stale_files(landing, shard, part):
                raise ShardNotReady(f"shard {shard.name} of {first}..{last} was staged from files that changed "
                                    f"since ({', '.join(stale[:3])}): materialize llm_calls_shard_{shard.number} again")
            staged.append(part)
        if len({tuple(s.days) for s in staged}) > 1:
            raise ShardNotReady(f"the shards of {first}..{last} disagree on the days to load (files changed between "
                                "their steps): materialize every shard again")
        reports = commit_calls(lake, staged, ingested_at)
    write_reports(lake, reports, run_id, ingested_at)
    store.remove(staging_prefix(first, last))
    return reports
