"""Load model-call records (application JSON lines and OTLP spans) for a range of days.

Files are filed by UTC day in their path (`logs/<system>/YYYY-MM-DD/…`). A record may sit
in a neighbouring day's file (a call at 23:59:59 logged after midnight), so a run over days
[first, last] reads files filed from first-1 to last+1 and routes each record to its own
day; a record more than a day from its file's day is quarantined (`outside_file_day`).
Accepted rows are staged as Parquet; DuckDB then removes duplicate event ids across all
sources and files (first by file path and line wins) and streams the result into Delta,
replacing exactly the run's days.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from audit_pipeline import engine
from audit_pipeline.lake import Lake, in_predicate
from audit_pipeline.landing import Landing, LandingFile, S3Landing
from audit_pipeline.loads.bookkeeping import (
    UNDATED,
    UNREADABLE,
    FileCount,
    LoadReport,
    with_file_columns,
    write_reports,
)
from audit_pipeline.loads.staging import EVERYTHING, Shard
from audit_pipeline.redaction import redact
from audit_pipeline.schemas import LLM_CALLS, conform_reader
from audit_pipeline.scratch import scratch
from audit_pipeline.sources import registry
from audit_pipeline.sources.lines import (
    DEFAULT_MAX_FILE_BYTES,
    ParsedFile,
    RecordLimits,
    parse_file_bulk,
    parse_lines,
)
from audit_pipeline.sources.registry import LineSource

TOLERANCE = timedelta(days=1)
"""How far a record's day may be from its file's day and still be loaded."""
CLOCK_SKEW = timedelta(minutes=5)
"""How far past the load's time a record may be stamped before it is `future_timestamp`."""


def source_files(landing: Landing, source: LineSource) -> list[LandingFile]:
    return [f for f in landing.list(source.prefix, source.suffixes)
            if not f.path.startswith(source.excluded_prefixes)]


class _ParquetFolder:
    """Accepted rows of every file in a local folder (not the lake's staging area), as
    Parquet named `<source>-<n>[-<chunk>…].parquet`."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.files = 0

    def next_path(self, source: str) -> Path:
        self.files += 1
        return self.folder / f"{source}-{self.files:06d}.parquet"

    def discard_since(self, mark: int) -> None:
        """Delete what was staged under numbers handed out after `mark` (a failed file's)."""
        for path in self.folder.glob("*.parquet"):
            if int(re.search(r"-(\d{6})(-|\.parquet$)", path.name).group(1)) > mark:
                path.unlink()


def _stage_precisely(landing: Landing, source: LineSource, file: LandingFile, staging: _ParquetFolder,
                     con: duckdb.DuckDBPyConnection, parsed: ParsedFile, limits: RecordLimits) -> str:
    """The line-by-line path (streamed blocks); returns the file's sha256."""
    stream, hashing = landing.open(file)
    writer = None
    try:
        with stream:
            for accepted in parse_lines(stream, file.path, _window(file), source.line_format, parsed, con,
                                        whole_document=file.path.endswith(source.whole_document_suffixes),
                                        limits=limits):
                writer = writer or pq.ParquetWriter(staging.next_path(source.name), accepted.schema)
                writer.write_table(accepted)
    finally:
        if writer is not None:
            writer.close()
    return hashing.sha256.hexdigest()


def _window(file: LandingFile) -> tuple[date, date]:
    return file.day - TOLERANCE, file.day + TOLERANCE


def _may_expand_beyond(landing: Landing, file: LandingFile, limits: RecordLimits) -> bool:
    """Whether a gzip file claims (in its trailer) more than the cap, or a ratio no log has:
    such a file takes the precise path, which stops at the cap; DuckDB would expand it whole."""
    if not file.path.endswith(".gz") or isinstance(landing, S3Landing) or file.size < 4:
        return False
    path = Path(landing.root) / file.path
    if path.is_symlink():
        return False  # never opened here: reading it is refused, and reported
    with path.open("rb") as f:
        f.seek(-4, 2)
        expanded = int.from_bytes(f.read(4), "little")  # ISIZE: the size modulo 4 GiB
    return expanded > limits.max_file_bytes or expanded > 200 * file.size


def _stage_file(landing: Landing, source: LineSource, file: LandingFile, staging: _ParquetFolder,
                con: duckdb.DuckDBPyConnection, report: LoadReport,
                limits: RecordLimits) -> tuple[FileCount, ParsedFile]:
    """Stage one file's accepted records: the bulk path when the file is clean, else the
    precise path. An unreadable file (corrupt gzip, truncated stream, a line longer than
    the reader's block) is reported as failed and contributes nothing, not even the records
    before the damage, so re-delivering it later loads it whole; the other files still load."""
    count = FileCount(source.name, file.path, file.day.isoformat(), file_bytes=file.size,
                      file_version=file.version)
    parsed = ParsedFile()
    mark = staging.files
    try:
        staged = False
        if not file.path.endswith(source.whole_document_suffixes) and not _may_expand_beyond(landing, file, limits):
            with landing.local_copy(file) as (path, sha):
                count.file_sha256 = sha
                staged = parse_file_bulk(str(path), file.path, _window(file), source.line_format,
                                         parsed, con, str(staging.next_path(source.name).with_suffix("")),
                                         limits)
        if not staged:
            count.file_sha256 = _stage_precisely(landing, source, file, staging, con, parsed, limits)
    except UNREADABLE as exc:
        count.status, count.error = "failed", redact(f"{file.path}: {exc}")[:500]
        staging.discard_since(mark)
        parsed = ParsedFile()
    report.unknown_fields.update(parsed.unknown_fields)
    return count, parsed


_STAGED = """
SELECT * EXCLUDE (filename),
       regexp_extract(filename, '([a-z_]+)-[0-9]+(-[0-9]+)*\\.parquet$', 1) AS source,
       row_number() OVER (PARTITION BY event_id ORDER BY source_file, line_no) AS copy_no,
       list_contains($days, event_date) AS wanted
FROM read_parquet($files, filename = true, union_by_name = true)
"""
"""Every record staged from the files of the run's days and the day either side, ranked per
event id by (file, line) over all of them, not only over the run's days: a copy routed to a
neighbouring day competes too, so day-by-day runs keep exactly the copy one range run keeps."""


def unchanged_days(lake: Lake, files: list[LandingFile], days: list[date]) -> set[date]:
    """Days whose records cannot have changed since they were last loaded.

    A day is unchanged when it was loaded before and every file that may hold its records
    (filed on the day or the day either side) is the same file as then, by its recorded
    version (S3 ETag, or size and modification time), and no file it was loaded from has
    gone. Anything unknown counts as changed.
    """
    window = {d + timedelta(days=k) for d in days for k in (-1, 0, 1)}
    recorded = lake.read(
        "ingest_log",
        where=f"{in_predicate('source', [s.name for s in registry.line_sources()])} AND "
              f"{in_predicate('partition', [d.isoformat() for d in window])}",
        columns=["source_file", "partition", "file_version", "status"],
    ).to_pylist()
    version = {r["source_file"]: r["file_version"] if r["status"] == "ok" else None for r in recorded}
    loaded_from: dict[str, set[str]] = {}
    for r in recorded:
        loaded_from.setdefault(r["partition"], set()).add(r["source_file"])
    current = {f.path: f.version for f in files}
    unchanged = set()
    for day in days:
        sources = loaded_from.get(day.isoformat())
        if sources is None or not sources <= current.keys():
            continue
        relevant = {f.path for f in files if f.day is not None and abs((f.day - day).days) <= 1}
        if all(version.get(path) is not None and version.get(path) == current[path] for path in relevant | sources):
            unchanged.add(day)
    return unchanged


def record_limits(ingested_at: datetime, start_day: date | None, max_file_bytes: int) -> RecordLimits:
    """What a record is held to: stamped no later than the load (plus clock skew), no earlier
    than the first partition, and its file no larger than the cap once decompressed."""
    return RecordLimits(not_after=ingested_at + CLOCK_SKEW, start_day=start_day, max_file_bytes=max_file_bytes)


def load_calls(landing: Landing, lake: Lake, first: date, last: date, ingested_at: datetime,
               run_id: str = "", skip_unchanged: bool = True, start_day: date | None = None,
               max_file_bytes: int = DEFAULT_MAX_FILE_BYTES) -> list[LoadReport]:
    """Parse, validate, deduplicate and write the days [first, last] of `llm_calls`, with
    their `ingest_log` and `quarantine` rows.

    Days whose files did not change since they were loaded are skipped (their rows, log and
    quarantine stay as they are), so a nightly rerun over a lookback window costs a listing.
    A record stamped after `ingested_at` (plus clock skew) or before `start_day` (the first
    partition) is quarantined.
    """
    limits = record_limits(ingested_at, start_day, max_file_bytes)
    reports = _load_calls(landing, lake, first, last, ingested_at, skip_unchanged, limits)
    write_reports(lake, reports, run_id, ingested_at)
    return reports


@dataclass
class StagedCalls:
    """What staging one shard's files for the days of a run left: the days it staged, each
    source's report (file counts, parse rejections), every (file, day) count the commit adds
    accepted and duplicate rows to (a neighbouring day's file under `(file, "")`), the
    version of every file it read, and the folder of staged Parquet."""

    days: list[date]
    reports: dict[str, LoadReport]
    counts: dict[tuple[str, str], FileCount]
    read: dict[str, str | None]
    folder: Path


def stage_calls(landing: Landing, lake: Lake, first: date, last: date, skip_unchanged: bool,
                limits: RecordLimits, shard: Shard, folder: Path) -> StagedCalls:
    """Parse and validate the shard's files that may hold records of [first, last] (filed a
    day either side too), staging accepted rows as Parquet in `folder`. Which days to redo is
    decided on every file of the landing zone, so all shards of a run agree."""
    sources = registry.line_sources()
    files = {s.name: source_files(landing, s) for s in sources}
    all_days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    skipped = unchanged_days(lake, [f for fs in files.values() for f in fs], all_days) if skip_unchanged else set()
    days = [d for d in all_days if d not in skipped]
    reports = {s.name: LoadReport(s.name, days, days_skipped=len(skipped)) for s in sources}
    staged = StagedCalls(days, reports, {}, {}, folder)
    if not days:
        return staged
    wanted = set(days)
    near = {d + timedelta(days=k) for d in days for k in (-1, 0, 1)}
    con = engine.connect()
    staging = _ParquetFolder(folder)
    for source in sources:
        report = reports[source.name]
        for file in files[source.name]:
            if not shard.holds(file.path):
                continue
            if file.day is None:
                report.files.append(FileCount(source.name, file.path, UNDATED, file_bytes=file.size,
                                              status="failed", error=f"{file.path}: no YYYY-MM-DD day in the path",
                                              file_version=file.version))
                continue
            if file.day not in near:
                continue
            staged.read[file.path] = file.version
            count, parsed = _stage_file(landing, source, file, staging, con, report, limits)
            if file.day in wanted:  # a file's rejections belong to its own day
                staged.counts[file.path, count.partition] = count
                report.files.append(count)
                count.rows_read = count.rows_quarantined = parsed.rows_rejected
                count.skip(parsed.skipped)
                report.quarantine += [with_file_columns(r, source.name, file.path, count.partition)
                                      for r in parsed.rejected]
            else:
                staged.counts[file.path, ""] = count  # only its routed records count in this run
    return staged


def commit_calls(lake: Lake, shards: list[StagedCalls], ingested_at: datetime, workdir: Path) -> list[LoadReport]:
    """De-duplicate every shard's staged rows together (first by file path and line wins,
    across all of them) and replace the run's days of `llm_calls`; the shards' reports,
    completed with accepted and duplicate counts, are returned for `write_reports`.

    The day's rows are ranked in a DuckDB database file in `workdir`: an in-memory database
    cannot evict a table, and a 16M-call day's would take 9 GB (measured); on disk it spills
    within the engine's budget."""
    days = shards[0].days
    reports = {name: LoadReport(name, days, days_skipped=r.days_skipped) for name, r in shards[0].reports.items()}
    counts: dict[tuple[str, str], FileCount] = {}
    for shard in shards:
        counts.update(shard.counts)
        for name, report in shard.reports.items():
            reports[name].files += report.files
            reports[name].quarantine += report.quarantine
            reports[name].unknown_fields.update(report.unknown_fields)
    if not days:
        return list(reports.values())
    predicate = in_predicate("event_date", [d.isoformat() for d in days])
    paths = sorted(str(p) for shard in shards for p in shard.folder.glob("*.parquet"))
    if not paths:
        lake.replace_where("llm_calls", LLM_CALLS.empty_table(), predicate)
        return list(reports.values())
    con = engine.connect(str(workdir / "commit.duckdb"))
    con.sql(f"CREATE TABLE staged AS {_STAGED}", params={"files": paths, "days": days})
    _count_outcomes(con, reports, counts)
    rows = con.sql(
        "SELECT * EXCLUDE (copy_no, source, wanted), $ingested_at AS ingested_at FROM staged "
        "WHERE copy_no = 1 AND wanted",
        params={"ingested_at": ingested_at},
    ).to_arrow_reader(batch_size=200_000)
    lake.replace_where("llm_calls", conform_reader(rows, LLM_CALLS), predicate)
    return list(reports.values())


def _load_calls(landing: Landing, lake: Lake, first: date, last: date, ingested_at: datetime,
                skip_unchanged: bool, limits: RecordLimits) -> list[LoadReport]:
    with scratch("stage") as tmp:
        (tmp / "parsed").mkdir()
        staged = stage_calls(landing, lake, first, last, skip_unchanged, limits, EVERYTHING, tmp / "parsed")
        return commit_calls(lake, [staged], ingested_at, tmp)


def stored_versus_logged(lake: Lake, days: list[date]) -> list[str]:
    """Per day, the rows `llm_calls` holds against the rows `ingest_log` says were accepted
    into it; one line per day where they differ (a write lost or doubled rows)."""
    stored = Counter(lake.read("llm_calls", where=in_predicate("event_date", [d.isoformat() for d in days]),
                               columns=["event_date"])["event_date"].to_pylist())
    log = lake.read("ingest_log", columns=["partition", "rows_accepted"], where=(
        f"{in_predicate('source', [s.name for s in registry.line_sources()])} AND "
        f"{in_predicate('partition', [d.isoformat() for d in days])}")).to_pylist()
    logged = Counter()
    for row in log:
        logged[date.fromisoformat(row["partition"])] += row["rows_accepted"]
    return [f"{d}: ingest_log accepted {logged[d]:,} rows, llm_calls holds {stored[d]:,}"
            for d in days if logged[d] != stored[d]]


def _count_outcomes(con: duckdb.DuckDBPyConnection, reports: dict[str, LoadReport],
                    counts: dict[tuple[str, str], FileCount]) -> None:
    """Accepted and duplicate counts per (file, day); duplicates quarantined with their origin."""
    for source, source_file, day, accepted, duplicate in con.sql(
        "SELECT source, source_file, CAST(event_date AS VARCHAR), count(*) FILTER (copy_no = 1), "
        "count(*) FILTER (copy_no > 1) FROM staged WHERE wanted GROUP BY ALL ORDER BY ALL"
    ).fetchall():
        count = counts.get((source_file, day))
        if count is None:  # records routed here from a neighbouring day's file
            file = counts.get((source_file, "")) or next(c for (f, _), c in counts.items() if f == source_file)
            count = FileCount(source, source_file, day, file.file_sha256, file.file_bytes,
                              file_version=file.file_version)
            counts[source_file, day] = count
            reports[source].files.append(count)
        count.rows_accepted += accepted
        count.rows_duplicate += duplicate
        count.rows_read += accepted + duplicate
    duplicates = con.sql("""
        SELECT d.source, d.source_file, CAST(d.event_date AS VARCHAR) AS partition, d.line_no,
               'duplicate' AS error_code,
               'event_id ' || d.event_id || ' first seen in ' || o.source_file || ' line ' || o.line_no AS error_detail,
               d.event_id AS raw_excerpt
        FROM staged d JOIN staged o ON o.event_id = d.event_id AND o.copy_no = 1
        WHERE d.copy_no > 1 AND d.wanted
    """).to_arrow_table()
    for name, report in reports.items():
        mine = duplicates.filter(pa.compute.equal(duplicates["source"], name))
        if mine.num_rows:
            report.quarantine.append(mine)
