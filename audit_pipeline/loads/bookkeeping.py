"""`ingest_log` and `quarantine` rows: the per-file proof that nothing was lost.

For every file and partition day a load reads, rows_read = rows_accepted +
rows_quarantined + rows_duplicate + rows_superseded + rows_skipped. Both tables are replaced
per (source, partition days), so re-running a load replaces its own bookkeeping and nothing
else.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import pyarrow as pa

from audit_pipeline.lake import Lake, in_predicate
from audit_pipeline.schemas import INGEST_LOG, QUARANTINE


@dataclass
class FileCount:
    source: str
    source_file: str
    partition: str
    file_sha256: str | None = None
    file_bytes: int | None = None
    status: str = "ok"
    error: str | None = None
    rows_read: int = 0
    rows_accepted: int = 0
    rows_quarantined: int = 0
    rows_duplicate: int = 0
    rows_superseded: int = 0
    rows_skipped: int = 0
    skipped: Counter = field(default_factory=Counter)
    """Reason → records skipped for it (not this source's kind of record)."""
    file_version: str | None = None
    """S3 ETag or local size-mtime: lets the next run skip a file that did not change."""

    @property
    def balanced(self) -> bool:
        return self.rows_read == (self.rows_accepted + self.rows_quarantined + self.rows_duplicate
                                  + self.rows_superseded + self.rows_skipped)

    def skip(self, reasons: Counter) -> None:
        """Count records skipped, by reason (they are read, and not this source's kind)."""
        self.skipped.update(reasons)
        self.rows_skipped += sum(reasons.values())
        self.rows_read += sum(reasons.values())

    def row(self) -> dict:
        """This count as an `ingest_log` row's fields."""
        values = {k: v for k, v in vars(self).items() if k != "skipped"}
        values["skipped_reasons"] = ", ".join(f"{k}: {n}" for k, n in sorted(self.skipped.items())) or None
        return values


@dataclass
class LoadReport:
    """What one load did: per-file counts and the quarantined rows."""

    source: str
    days: list[date]
    files: list[FileCount] = field(default_factory=list)
    quarantine: list[pa.Table] = field(default_factory=list)
    unknown_fields: Counter = field(default_factory=Counter)
    """Fields the parser does not know, with how often they appeared (ignored, not lost)."""
    days_skipped: int = 0
    """Days of the run left as they were because none of their files changed."""

    def total(self, attribute: str) -> int:
        return sum(getattr(f, attribute) for f in self.files)

    @property
    def failed_files(self) -> list[FileCount]:
        return [f for f in self.files if f.status != "ok"]


UNREADABLE = (OSError, EOFError, zlib.error, pa.ArrowInvalid)
"""What reading a damaged file raises (truncated or corrupt gzip, broken Parquet or CSV):
the file is reported as failed and the load goes on with the others."""

UNDATED = "undated"
"""Partition label for a file whose path carries no day (it is reported, not loaded)."""


def write_reports(lake: Lake, reports: list[LoadReport], run_id: str, ingested_at: datetime) -> None:
    """Replace these sources' `quarantine` and then `ingest_log` rows for the reports' days.

    `ingest_log` is written last, after the data and the quarantine: it is what the next run
    reads to decide a day is unchanged, so a run killed before it leaves the old record (or
    none) and the next run redoes the day, quarantine included."""
    if not reports or not any(r.days for r in reports):
        return
    partitions = sorted({d.isoformat() for r in reports for d in r.days} | {UNDATED})
    predicate = (f"{in_predicate('source', [r.source for r in reports])} AND "
                 f"{in_predicate('partition', partitions)}")
    rows = [{**f.row(), "ingested_at": ingested_at, "run_id": run_id} for r in reports for f in r.files]
    parts = [q for r in reports for q in r.quarantine]
    lake.replace_where("quarantine", quarantine_table(parts, ingested_at, run_id), predicate)
    lake.replace_where("ingest_log", pa.Table.from_pylist(rows, schema=INGEST_LOG), predicate)


def quarantine_table(parts: Iterable[pa.Table], ingested_at: datetime, run_id: str) -> pa.Table:
    """Concatenate rejected rows (source, source_file, partition, line_no, error_*, excerpt)."""
    parts = [p for p in parts if p.num_rows]
    if not parts:
        return QUARANTINE.empty_table()
    table = pa.concat_tables(parts, promote_options="permissive")
    n = table.num_rows
    table = table.append_column("ingested_at", pa.array([ingested_at] * n, QUARANTINE.field("ingested_at").type))
    return table.append_column("run_id", pa.array([run_id] * n, pa.string())).select(QUARANTINE.names).cast(QUARANTINE)


def with_file_columns(rejected: pa.Table, source: str, source_file: str, partition: str) -> pa.Table:
    n = rejected.num_rows
    return rejected.append_column("source", pa.array([source] * n, pa.string())).append_column(
        "source_file", pa.array([source_file] * n, pa.string())
    ).append_column("partition", pa.array([partition] * n, pa.string()))


def unreadable_files(lake: Lake, first: date, last: date) -> list[str]:
    """`file: reason` for every landing file whose last load for a day of [first, last]
    failed: a report or an export of those days would be missing its rows."""
    if not lake.exists("ingest_log"):
        return []
    days = [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]
    rows = lake.read("ingest_log", where=f"status = 'failed' AND {in_predicate('partition', days)}",
                     columns=["source_file", "error"]).to_pylist()
    return sorted({f"{r['source_file']}: {r['error']}" for r in rows})
