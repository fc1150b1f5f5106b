"""The stored retention reports: found again, and reused when nothing they read has changed.

A nightly run that finds no new data must not rebuild the reports (it would add a table
version and rewrite every HTML file for the same figures). Stored rows are reused when,
for every date of the run, they were built (`freshness`) from the same table versions, the
same policy file, the same code (this module and everything it runs: sections, HTML,
charts), on the same as_of day (the ceiling is judged on that day), every system has its
row, and the HTML files are still there.
"""

from __future__ import annotations

import json
from datetime import date, datetime

import pyarrow as pa

from audit_pipeline.freshness import Recipe, code_version, record, stale
from audit_pipeline.lake import Lake, date_range_predicate
from audit_pipeline.landing import Landing
from audit_pipeline.retention.evidence import gather, pin_versions
from audit_pipeline.retention.publish import PublishedReport, publish_html, report_path
from audit_pipeline.retention.report import ReportContext, build_reports
from audit_pipeline.schemas import RETENTION_REPORT


def _reports_of(first: date, last: date, as_of_requested: bool) -> str:
    """The rows of the dates [first, last]: the scheduled reports, or those asked for as of a moment."""
    flag = "as_of_requested" if as_of_requested else "NOT as_of_requested"
    return f"{date_range_predicate('report_date', first, last)} AND {flag}"


def stored_reports(lake: Lake, first: date, last: date, as_of_requested: bool) -> list[dict]:
    return lake.read("retention_report", where=_reports_of(first, last, as_of_requested)).to_pylist()


def _fingerprints(versions: dict[str, int | None], policy_sha256: str, as_of_day: date,
                  dates: list[date]) -> dict[str, str]:
    recipe = Recipe("retention_report", code_version(__name__), {
        "table_versions": json.dumps(versions, sort_keys=True), "policy": policy_sha256,
        "as_of_day": as_of_day.isoformat()})
    return {d.isoformat(): recipe.fingerprint() for d in dates}


def reusable(lake: Lake, stored: list[dict], systems: list[str], dates: list[date],
             fingerprints: dict[str, str], folder: Landing) -> bool:
    """Whether `stored` holds every (system, date), each date built from exactly these inputs
    and code, with its HTML files still in place."""
    if stale(lake, "retention_report", fingerprints):
        return False
    if {(r["ai_system"], r["report_date"]) for r in stored} != {(s, d) for s in systems for d in dates} \
            or len(stored) != len(systems) * len(dates):
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
    fingerprints = _fingerprints(versions, context.policy_sha256, as_of.date(), dates)
    if not context.as_of_requested and reusable(lake, stored, [s.id for s in context.policy.systems], dates,
                                                fingerprints, folder):
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
    if not context.as_of_requested:
        record(lake, "retention_report", fingerprints, context.run_id, context.generated_at)
    return latest, published, len(rows), False
