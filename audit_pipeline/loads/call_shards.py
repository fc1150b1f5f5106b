"""One day's log files in shards: each shard staged by its own step, in its own process or
pod, and committed together by one step (AUDIT_SHARDS, docs/scaling.md).

A shard step parses and validates its files (a stable hash of the path picks them) and
leaves what it staged on the lake (`staging.py`, `_staging/llm_calls/<first>_<last>/<shard>/`):
accepted rows and parse rejections as Parquet, secrets already masked (the staging area is
storage like any table), and a manifest of its counts, days and the version of every file it
read. The commit step takes every shard's staging, refuses one made from files that have
since changed, de-duplicates all of them together exactly as a one-step load does, writes
`llm_calls`, `quarantine` and `ingest_log`, and removes the staging. Nothing passes between
the steps but the lake.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from audit_pipeline.lake import Lake
from audit_pipeline.landing import Landing
from audit_pipeline.loads.bookkeeping import FileCount, LoadReport, write_reports
from audit_pipeline.loads.calls import (
    StagedCalls,
    commit_calls,
    source_files,
    stage_calls,
)
from audit_pipeline.loads.staging import Shard, ShardNotReady, Staging, remove_abandoned, shard_step
from audit_pipeline.redaction import mask_batch, redact
from audit_pipeline.scratch import scratch
from audit_pipeline.sources import registry
from audit_pipeline.sources.lines import RecordLimits

TABLE = "llm_calls"


def staging(store: Landing, first: date, last: date) -> Staging:
    return Staging(store, TABLE, first, last)


def _count_dict(count: FileCount) -> dict:
    return {**vars(count), "skipped": dict(count.skipped)}


def _count(values: dict) -> FileCount:
    return FileCount(**{**values, "skipped": Counter(values["skipped"])})


def _masked(value):
    """A manifest as it may be stored: every string in it (file paths, errors, field names)
    with its secrets masked exactly as the staged rows' strings are, so a file named after a
    secret keeps matching its rows."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {_masked(k): _masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value


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
    with scratch("shard") as tmp:
        (tmp / "parsed").mkdir()
        staged = stage_calls(landing, lake, first, last, skip_unchanged, limits, shard, tmp / "parsed")
        out = tmp / "out"
        (out / "rows").mkdir(parents=True)
        for path in staged.folder.glob("*.parquet"):
            _masked_copy(path, out / "rows" / path.name)
        sources = {}
        for name, report in staged.reports.items():
            rejected = [q for q in report.quarantine if q.num_rows]
            if rejected:
                pq.write_table(mask_batch(pa.concat_tables(rejected, promote_options="permissive")),
                               out / f"rejected-{name}.parquet")
            sources[name] = {"days_skipped": report.days_skipped, "unknown_fields": dict(report.unknown_fields),
                             "rejected": bool(rejected),
                             # Counts of files filed on a run day are the report's; others only feed routing.
                             "files": [_count_dict(c) for c in report.files]}
        staging(store, first, last).put(shard, out, _masked({
            "days": [d.isoformat() for d in staged.days], "read": staged.read, "sources": sources,
            "counts": [{"file": f, "partition": p, "count": _count_dict(c)} for (f, p), c in staged.counts.items()]}),
            staged_at=ingested_at)
    return staged


def _load_shard(area: Staging, shard: Shard, folder: Path) -> StagedCalls:
    manifest = area.get(shard, folder)
    days = [date.fromisoformat(d) for d in manifest["days"]]
    reports = {}
    for name, values in manifest["sources"].items():
        report = LoadReport(name, days, days_skipped=values["days_skipped"],
                            unknown_fields=Counter(values["unknown_fields"]))
        report.files = [_count(c) for c in values["files"]]
        if values["rejected"]:
            report.quarantine.append(pq.read_table(folder / f"rejected-{name}.parquet"))
        reports[name] = report
    # The same objects as in the reports, so the commit's counts land in them.
    by_key = {(c.source_file, c.partition): c for r in reports.values() for c in r.files}
    counts = {(e["file"], e["partition"]): by_key.get((e["file"], e["partition"])) or _count(e["count"])
              for e in manifest["counts"]}
    (folder / "rows").mkdir(parents=True, exist_ok=True)
    return StagedCalls(days, reports, counts, manifest["read"], folder / "rows")


def _stale_files(current: dict[str, str | None], staged: StagedCalls) -> list[str]:
    """Files the shard read whose version now (`current`: masked path → version of every log file)
    differs or which went since it was staged (a file that arrived since is not in this run's
    ingest_log, so the next run redoes its days)."""
    return sorted(p for p, version in staged.read.items() if current.get(p, "(gone)") != version)


def commit_shards(landing: Landing, lake: Lake, store: Landing, first: date, last: date, ingested_at: datetime,
                  count: int, run_id: str = "") -> list[LoadReport]:
    """Commit every shard of [first, last] together: `llm_calls`, then `quarantine` and
    `ingest_log`, exactly as one step would have; then remove the staging."""
    area = staging(store, first, last)
    # Keyed as the manifests are: paths with their secrets masked.
    current = {redact(f.path): f.version for s in registry.line_sources() for f in source_files(landing, s)}
    with scratch("commit") as tmp:
        staged = []
        for shard in (Shard(n, count) for n in range(1, count + 1)):
            part = _load_shard(area, shard, tmp / shard.name)
            if stale := _stale_files(current, part):
                raise ShardNotReady(f"shard {shard.name} of {first}..{last} was staged from files that changed "
                                    f"since ({', '.join(stale[:3])}): materialize {shard_step(TABLE, shard)} again")
            staged.append(part)
        if len({tuple(s.days) for s in staged}) > 1:
            raise ShardNotReady(f"the shards of {first}..{last} disagree on the days to load (files changed between "
                                "their steps): materialize every shard again")
        reports = commit_calls(lake, staged, ingested_at, tmp)
    write_reports(lake, reports, run_id, ingested_at)
    area.remove()
    remove_abandoned(store, TABLE, ingested_at)
    return reports
