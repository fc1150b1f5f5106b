"""Load every billing source for a range of days into `billing_usage` and `billing_costs`.

Providers restate recent days, so a landing zone holds several pulls covering the same day.
A newer pull (the greater folder, e.g. `pull-20261121/` or `BILLING_PERIOD=2026-11/`) wins,
at the grain it reports: for export files the whole day, for admin-API pages the day's keys,
projects, workspaces and models it contains (a project-filtered pull leaves the other
projects' rows of an older pull in place). Restated rows are counted as `rows_superseded`
in ingest_log, never summed. Admin-API pages are small and parsed
whole; export files (CUR, FOCUS) are streamed in column-pruned batches.
"""

from __future__ import annotations

import contextlib
import itertools
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from audit_pipeline import engine
from audit_pipeline.lake import Lake, date_range_predicate
from audit_pipeline.landing import Landing, LandingFile
from audit_pipeline.loads.bookkeeping import (
    UNDATED,
    UNREADABLE,
    FileCount,
    LoadReport,
    with_file_columns,
    write_reports,
)
from audit_pipeline.redaction import redact
from audit_pipeline.schemas import BILLING_COSTS, BILLING_USAGE, conform
from audit_pipeline.sources import registry
from audit_pipeline.sources.aws_cur import ManifestError, parse_manifest
from audit_pipeline.sources.export_files import ExportBatch, export_rows, iter_batches
from audit_pipeline.sources.pages import PageError, ParsedPage
from audit_pipeline.sources.registry import ExportSource, PageSource

_PULL = "regexp_replace(source_file, '/[^/]*$', '')"
"""The pull a file belongs to: its folder."""


def _source_sql() -> str:
    """The source a row came from, by its file's landing prefix."""
    cases = " ".join(f"WHEN starts_with(source_file, '{s.prefix}/') THEN '{s.name}'"
                     for s in registry.billing_sources())
    return f"CASE {cases} END"


class _Collected:
    """Rows gathered per table, and the (file, day) counts they came from."""

    def __init__(self, days: list[date]):
        self.days = days
        self.tables: dict[str, list[pa.Table]] = defaultdict(list)
        self.counts: dict[tuple[str, date], FileCount] = {}

    def count(self, source: str, file: str, day: date | str, sha: str | None, size: int | None) -> FileCount:
        """The counts of `file` for a day (or UNDATED)."""
        key = (file, day)
        if key not in self.counts:
            self.counts[key] = FileCount(source, file, day if isinstance(day, str) else day.isoformat(), sha, size)
        return self.counts[key]


def _pull_grouping(source: PageSource, pages: list[tuple[LandingFile, bytes, str]]) -> frozenset[str]:
    """The dimensions any page of one pull shows it was grouped by; a page that cannot be
    read says nothing (it is reported when it is parsed)."""
    dimensions: set[str] = set()
    for file, raw, _ in pages:
        with contextlib.suppress(PageError):
            dimensions |= source.grouped_dimensions(raw, file.path)
    return frozenset(dimensions)


def _read_pull(source: PageSource, landing: Landing, files: Iterable[LandingFile], first: date,
               report: LoadReport) -> list[tuple[LandingFile, bytes, str]]:
    """The bytes of one pull's pages (small: an admin-API page holds at most 31 buckets)."""
    pages = []
    for file in files:
        try:
            raw, sha = landing.read_bytes(file)
        except UNREADABLE as exc:
            report.files.append(FileCount(source.name, file.path, first.isoformat(), None, file.size,
                                          status="failed", error=str(exc)))
            continue
        pages.append((file, raw, sha))
    return pages


def _collect_pages(source: PageSource, landing: Landing, first: date, ingested_at: datetime,
                   collected: _Collected, report: LoadReport) -> None:
    """Parse a source's pages a pull (folder) at a time: where nulls mean something only in a
    grouped pull, the whole pull decides whether it was grouped."""
    listing = sorted(landing.list(source.prefix, source.suffixes), key=lambda f: f.path)
    for _, files in itertools.groupby(listing, key=lambda f: f.path.rpartition("/")[0]):
        pages = _read_pull(source, landing, files, first, report)
        grouping = _pull_grouping(source, pages) if source.grouped_dimensions else None
        for file, raw, sha in pages:
            try:
                parsed = (source.parse(raw, file.path, ingested_at) if grouping is None
                          else source.parse(raw, file.path, ingested_at, pull_grouping=grouping))
            except PageError as exc:
                report.files.append(FileCount(source.name, file.path, first.isoformat(), sha, file.size,
                                              status="failed", error=str(exc)))
                continue
            _keep_page(source, file, sha, parsed, first, collected, report)


def _keep_page(source: PageSource, file: LandingFile, sha: str, parsed: ParsedPage, first: date, collected: _Collected,
               report: LoadReport) -> None:
    """Keep one parsed page's rows; quarantine its rejected results, counted per day."""
    collected.tables[source.table].append(parsed.rows)
    report.unknown_fields.update(parsed.unknown_fields)
    rejected = parsed.rejected_table()
    # A result whose bucket day is unreadable is reported under the run's first day.
    rejected_days = pc.fill_null(rejected["day"], pa.scalar(first, pa.date32()))
    for day in collected.days:
        in_day = rejected.filter(pc.equal(rejected_days, pa.scalar(day, pa.date32())))
        count = collected.count(source.name, file.path, day, sha, file.size)
        count.rows_read += in_day.num_rows
        count.rows_quarantined += in_day.num_rows
        if in_day.num_rows:
            report.quarantine.append(with_file_columns(in_day.drop_columns(["day"]), source.name,
                                                       file.path, day.isoformat()))


def export_files(source: ExportSource, landing: Landing, report: LoadReport, first: date) -> list[LandingFile]:
    """The data files of an export source: listed, or those its current manifests name."""
    if source.manifest_suffix is None:
        return landing.list(source.prefix, source.suffixes)
    current: dict[str, list[str]] = {}
    for manifest_file in landing.list(source.prefix, (source.manifest_suffix,)):
        sha = None
        try:
            raw, sha = landing.read_bytes(manifest_file)
            manifest = parse_manifest(raw, manifest_file.path)
        except (ManifestError, *UNREADABLE) as exc:
            report.files.append(FileCount(source.name, manifest_file.path, first.isoformat(), sha,
                                          manifest_file.size, status="failed", error=str(exc)))
            continue
        current[manifest.billing_period] = list(manifest.data_files)  # sorted: the last one wins
    wanted = {path for files in current.values() for path in files}
    found = {f.path: f for f in landing.list(source.prefix, ("",)) if f.path in wanted}
    for path in sorted(wanted - set(found)):
        report.files.append(FileCount(source.name, path, first.isoformat(), status="failed",
                                      error=f"{path}: listed in the manifest but missing"))
    return [found[p] for p in sorted(found)]


def _collect_exports(source: ExportSource, landing: Landing, con: duckdb.DuckDBPyConnection,
                     params: dict, collected: _Collected, report: LoadReport) -> None:
    """Read each export file whole before keeping any of it: a file that breaks half-way
    (truncated gzip, corrupt Parquet) is reported as failed and contributes nothing."""
    for file in export_files(source, landing, report, params["first"]):
        batches: list[ExportBatch] = []
        try:
            with landing.local_copy(file) as (path, sha):
                for batch in iter_batches(path, file.path, source.export.columns):
                    batches.append(export_rows(con, batch, source.export, {**params, "source_file": file.path}))
        except UNREADABLE as exc:
            report.files.append(FileCount(source.name, file.path, params["first"].isoformat(), None, file.size,
                                          status="failed", error=redact(f"{file.path}: {exc}")[:500]))
            continue
        for exported in batches:
            collected.tables["billing_costs"].append(exported.costs)
            collected.tables["billing_usage"].append(exported.usage)
            for day, n in exported.accepted_per_day.items():
                collected.count(source.name, file.path, day, sha, file.size).rows_read += n
            for day, reasons in exported.skipped_per_day.items():
                collected.count(source.name, file.path, day, sha, file.size).skip(Counter(reasons))
            _quarantine_export_rows(source, file, sha, exported.rejected, params, collected, report)


def _quarantine_export_rows(source: ExportSource, file: LandingFile, sha: str, rejected: pa.Table,
                            params: dict, collected: _Collected, report: LoadReport) -> None:
    """Rejected rows of the run's days, and those with no readable day (every run reports
    those, under UNDATED, so they are never out of sight)."""
    for row_day in set(rejected["day"].to_pylist()):
        if row_day is not None and not params["first"] <= row_day <= params["last"]:
            continue
        mask = pc.is_null(rejected["day"]) if row_day is None else pc.equal(rejected["day"], row_day)
        rows = rejected.filter(mask).drop_columns(["day"])
        partition = UNDATED if row_day is None else row_day.isoformat()
        count = collected.count(source.name, file.path, partition, sha, file.size)
        count.rows_read += rows.num_rows
        count.rows_quarantined += rows.num_rows
        report.quarantine.append(with_file_columns(rows, source.name, file.path, partition))


GRAIN = ("api_key_id", "project_id", "workspace_id", "model")
"""What an admin-API row reports: a newer pull restates an older one's row only where it
reports the same day and grain; a null (a dimension the newer pull was not grouped by)
covers every value of it."""


def _latest_pull_per_day(con: duckdb.DuckDBPyConnection, rows: pa.Table) -> pa.Table:
    """Mark the rows no newer pull restates. Export files (CUR, FOCUS) are refreshed a whole
    billing period at a time, so per source, provider and day the latest export wins. Admin-API
    pulls may be filtered (a project, a key) or delivered apart: a newer pull replaces an
    older one's rows only at the grain it reports, and the rest stay."""
    exports = ", ".join(f"'{s.name}'" for s in registry.export_sources())
    covered = " AND ".join(f"(n.{d} IS NULL OR n.{d} = r.{d})" for d in GRAIN)
    con.register("rows", rows)
    ranked = con.sql(f"""
        WITH r AS (SELECT *, {_PULL} AS pull, {_source_sql()} AS source FROM rows)
        SELECT r.* EXCLUDE (pull, source),
               CASE WHEN r.source IN ({exports or "NULL"})
                    THEN r.pull = max(r.pull) OVER (PARTITION BY r.source, r.provider, r.usage_date)
                    ELSE NOT EXISTS (SELECT 1 FROM r AS n WHERE n.source = r.source AND n.provider = r.provider
                                     AND n.usage_date = r.usage_date AND n.pull > r.pull AND {covered})
               END AS latest
        FROM r
    """).to_arrow_table()
    con.unregister("rows")
    return ranked


def load_billing(landing: Landing, lake: Lake, first: date, last: date,
                 ingested_at: datetime, run_id: str = "") -> list[LoadReport]:
    """Parse every billing source and replace the days [first, last] of both tables, with
    their `ingest_log` and `quarantine` rows."""
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    collected = _Collected(days)
    reports = {s.name: LoadReport(s.name, days) for s in registry.billing_sources()}
    for source in registry.page_sources():
        _collect_pages(source, landing, first, ingested_at, collected, reports[source.name])
    con = engine.connect()
    params = {"first": first, "last": last, "ingested_at": ingested_at}
    for source in registry.export_sources():
        _collect_exports(source, landing, con, params, collected, reports[source.name])
    for table, schema in (("billing_costs", BILLING_COSTS), ("billing_usage", BILLING_USAGE)):
        parts = [conform(t, schema) for t in collected.tables[table]]
        rows = pa.concat_tables(parts) if parts else schema.empty_table()
        rows = rows.filter((pc.field("usage_date") >= first) & (pc.field("usage_date") <= last))
        ranked = _latest_pull_per_day(con, rows)
        _count_kept(ranked, collected, table)
        lake.replace_where_if_changed(table, ranked.filter(ranked["latest"]).drop_columns(["latest"]),
                                      date_range_predicate("usage_date", first, last))
    for count in collected.counts.values():
        if count.rows_read or count.status != "ok":  # a file without rows for a day says nothing
            reports[count.source].files.append(count)
    write_reports(lake, list(reports.values()), run_id, ingested_at)
    return list(reports.values())


def _count_kept(ranked: pa.Table, collected: _Collected, table: str) -> None:
    """Accepted or superseded, per (file, day)."""
    exports = {s.name for s in registry.export_sources()}
    grouped = ranked.group_by(["source_file", "usage_date", "latest"]).aggregate([("source_file", "count")])
    for row in grouped.to_pylist():
        count = collected.counts.get((row["source_file"], row["usage_date"]))
        if count is None:
            continue
        n = row["source_file_count"]
        if count.source in exports:
            if table == "billing_usage":
                continue  # an export's records are its cost rows; usage rows derive from them
        else:
            count.rows_read += n  # an export's rows_read were counted while streaming
        if row["latest"]:
            count.rows_accepted += n
        else:
            count.rows_superseded += n
