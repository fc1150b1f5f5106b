"""Which landing files are new or changed, and which days they affect (for the sensor).

A file's identity is its path; its content identity is S3's ETag, or the sha256 of a local
file (computed only when its size or modification time moved, so an unchanged landing zone
costs one listing). The days a file affects: a log file's day and the day either side
(records are routed to their own day), a billing page's bucket days, and the whole billing
period of a CUR or FOCUS export.
"""

from __future__ import annotations

import calendar
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from audit_pipeline.landing import Landing, LandingFile, S3Landing
from audit_pipeline.sources import registry
from audit_pipeline.sources.pages import PageError, load_page
from audit_pipeline.sources.registry import ExportSource, PageSource

_PERIOD = re.compile(r"BILLING_PERIOD=(\d{4})-(\d{2})")


@dataclass(frozen=True)
class Seen:
    """What the sensor remembers of a file: its cheap version and its content id."""

    version: str | None
    content: str


def registered_files(landing: Landing) -> list[LandingFile]:
    """Every landing file some source in the registry reads (for an export with a manifest:
    the manifests, which name the data files)."""
    files = []
    for source in registry.SOURCES:
        suffixes = ((source.manifest_suffix,) if isinstance(source, ExportSource) and source.manifest_suffix
                    else source.suffixes)
        files += [f for f in landing.list(source.prefix, suffixes) if registry.source_of(f.path) is source]
    return files


def content_id(landing: Landing, file: LandingFile) -> str:
    if isinstance(landing, S3Landing):
        return f"etag:{file.version}"
    path = Path(landing.root) / file.path
    if path.is_symlink():  # never followed: the load reports it, the sensor notes its own change
        return f"link:{file.version}"
    with path.open("rb") as f:
        return "sha256:" + hashlib.file_digest(f, "sha256").hexdigest()


def changed_files(landing: Landing, seen: dict[str, Seen]) -> tuple[list[LandingFile], dict[str, Seen]]:
    """Files whose content differs from what `seen` remembers, and the new memory."""
    changed, now_seen = [], {}
    for file in registered_files(landing):
        before = seen.get(file.path)
        if before is not None and before.version == file.version:
            now_seen[file.path] = before
            continue
        content = content_id(landing, file)
        now_seen[file.path] = Seen(file.version, content)
        if before is None or before.content != content:
            changed.append(file)
    return changed, now_seen


def _month(year: int, month: int) -> set[date]:
    return {date(year, month, d) for d in range(1, calendar.monthrange(year, month)[1] + 1)}


def _page_days(landing: Landing, file: LandingFile, source: PageSource) -> set[date]:
    try:
        page = load_page(landing.read_bytes(file)[0], file.path)
    except (PageError, OSError):
        return set()  # the load reports the bad page (or link); the sensor cannot date it
    days = {source.bucket_day(bucket) for bucket in page["data"] if isinstance(bucket, dict)}
    return days - {None}


def affected_days(landing: Landing, file: LandingFile) -> set[date]:
    """The UTC days whose partitions must be rebuilt because `file` is new or changed."""
    period = _PERIOD.search(file.path)
    if period:
        return _month(int(period[1]), int(period[2]))
    source = registry.source_of(file.path)
    if isinstance(source, PageSource):
        return _page_days(landing, file, source)
    if file.day is not None:
        return {file.day - timedelta(days=1), file.day, file.day + timedelta(days=1)}
    return set()


def days_to_run(landing: Landing, files: list[LandingFile], start: date) -> set[date]:
    """Affected days that are partitions: from the first partition up to today (UTC)."""
    today = datetime.now(UTC).date()
    return {d for f in files for d in affected_days(landing, f) if start <= d <= today}
