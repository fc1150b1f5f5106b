"""The stored retention reports: found again, and reused when nothing they read has changed.

A nightly run that finds no new data must not rebuild the reports (it would add a table
version and rewrite every HTML file for the same figures). Stored rows are reused when,
for every system and date of the run, they were built from the same table versions, the
same policy file and generator, on the same as_of day (the ceiling is judged on that day),
and their HTML files are still there.
"""

from __future__ import annotations

import json
from datetime import date, datetime

import pyarrow as pa

from audit_pipeline.lake import Lake, date_range_predicate
from audit_pipeline.landing import Landing
from audit_pipeline.retention.evidence import gather, pin_versions
from audit_pipeline.retention.publish import PublishedReport, publish_html, report_path
from audit_pipeline.retention.report import GENERATOR, ReportContext, build_reports
from audit_pipeline.schemas import RETENTION_REPORT


def _reports_of(first: date, last: date, as_of_requested: bool) -> str:
    """The rows of the dates [first, last]: the scheduled reports, or those asked for as of a moment."""
    flag = "as_of_requested" if as_of_requested else "NOT as_of_requested"
    return f"{date_range_predicate('report_date', first, last)} AND {flag}"


def stored_reports(lake: Lake, first: date, last: date, as_of_requested: bool) -> list[dict]:
    return lake.read("retention_report", where=_reports_of(first, last, as_of_requested)).to_pylist()


def reusable(stored: list[dict], systems: list[str], dates: list[date], versions: dict[str, int | None],
             policy_sha256: str, as_of_day: date, folder: Landing) -> bool:
    """Whether `stored` holds every (system, date) built from exactly these inputs."""
    pinned = json.dumps(versions, sort_keys=True)
    current = {(r["ai_system"], r["report_date"]) for r in stored
               if r["table_versions"] == pinned and r["policy_sha256"] == policy_sha256
               and r["generator_version"] == GENERATOR and r["as_of"].date() == as_of_day}
    if current != {(s, d) for s in systems for d in dates} or len(stored) != len(current):
        return False
    html = {f.path for f in folder.list("retention", (".html",))}
    return all(report_path(r, False) in html for r in stored if r["report_date"] == max(dates))


def build_or_reuse(lake: Lake, folder: Landing, context: ReportContext, as_of: datetime,
                   dates: list[date]) -> tuple[list[dict], list[PublishedReport], int, bool]:
    """The last date's reports and their HTML files, the rows stored, and whether they were
    reused: built from the lake as of `as_of` and stored (rows replaced for the dates), unless
    every stored report of the dates was built from the same inputs."""
    first, last = dates[0], dates[-1]
    versions = pin_versions(lake, as_of)
    stored = stored_reports(lake, first, last, context.as_of_requested)
    if not context.as_of_requested and reusable(stored, [s.id for s in context.policy.systems], dates, versions,
                                                context.policy_sha256, as_of.date(), folder):
        latest = [r for r in stored if r["report_date"] == last]
        return (latest, [PublishedReport(r["ai_system"], report_path(r, False), r["html_sha256"]) for r in latest],
                len(stored), True)
    rows = build_reports(gather(lake, as_of, versions), context, dates).to_pylist()
    latest = [r for r in rows if r["report_date"] == last]
    published = publish_html(latest, folder, context.as_of_requested)
    for report, html in zip(latest, published, strict=True):
        report["html_sha256"] = html.sha256
    lake.replace_where("retention_report", pa.Table.from_pylist(rows, schema=RETENTION_REPORT),
                       _reports_of(first, last, context.as_of_requested))
    return latest, published, len(rows), False
