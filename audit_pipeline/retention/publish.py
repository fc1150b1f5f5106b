"""Where a retention report's HTML rendering is written, and its hash."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from audit_pipeline.landing import Landing
from audit_pipeline.reports.retention_html import render_html


@dataclass(frozen=True)
class PublishedReport:
    ai_system: str
    path: str
    """Relative to the report folder."""
    sha256: str


def report_path(report: dict, as_of_requested: bool) -> str:
    """`retention/<report date>/<system>.html`; a report as of a requested moment says so."""
    name = report["ai_system"]
    if as_of_requested:
        name += ".as-of-" + report["as_of"].strftime("%Y%m%dT%H%M%SZ")
    return f"retention/{report['report_date'].isoformat()}/{name}.html"


def publish_html(reports: list[dict], folder: Landing, as_of_requested: bool) -> list[PublishedReport]:
    published = []
    for report in reports:
        data = render_html(report).encode()
        path = report_path(report, as_of_requested)
        folder.write_bytes(path, data)
        published.append(PublishedReport(report["ai_system"], path, hashlib.sha256(data).hexdigest()))
    return published


def parse_as_of(text: str, now: datetime) -> datetime:
    """An ISO date or time; a date means the end of that UTC day (or now, for today), a time
    without zone is UTC."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return min(datetime.combine(day, time(), UTC) + timedelta(days=1) - timedelta(microseconds=1), now)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"as_of must be YYYY-MM-DD or an ISO time, got {text!r}") from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
