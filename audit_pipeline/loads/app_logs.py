"""Load application LLM-call logs (JSON lines) for a range of days into `llm_calls`.

Files are filed by UTC day in their path (`logs/<system>/YYYY-MM-DD/…`). Each file is
parsed in streamed blocks; accepted rows are staged as Parquet, then DuckDB removes
duplicate event ids across all of the range's files (first by file path and line wins)
and streams the result into Delta, replacing exactly the range's days.
"""

from __future__ import annotations

import tempfile
from datetime import date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from audit_pipeline import engine
from audit_pipeline.lake import Lake, conform_reader, date_range_predicate
from audit_pipeline.landing import Landing
from audit_pipeline.loads.bookkeeping import UNDATED, FileCount, LoadReport, with_file_columns
from audit_pipeline.schemas import LLM_CALLS
from audit_pipeline.sources.app_logs import REJECTED_SCHEMA, ParsedFile, parse_app_log

SOURCE = "app_logs"
PREFIX = "logs"
SUFFIXES = (".jsonl", ".jsonl.gz")
EXCLUDED_PREFIXES = ("logs/otlp/",)
"""OTLP trace exports also end in .jsonl; they have their own reader."""


def log_files(landing: Landing) -> list:
    return [f for f in landing.list(PREFIX, SUFFIXES) if not f.path.startswith(EXCLUDED_PREFIXES)]


def _parse_into_staging(landing: Landing, file, staging: Path, report: LoadReport,
                        con: duckdb.DuckDBPyConnection) -> FileCount:
    count = FileCount(SOURCE, file.path, file.day.isoformat(), file_bytes=file.size)
    parsed = ParsedFile()
    stream, hashing = landing.open(file)
    writer = None
    try:
        with stream:
            for accepted in parse_app_log(stream, file.path, file.day, parsed, con):
                if writer is None:
                    writer = pq.ParquetWriter(staging / f"{len(report.files):06d}.parquet", accepted.schema)
                writer.write_table(accepted)
    except (OSError, EOFError, pa.ArrowInvalid) as exc:
        # An unreadable file (corrupt gzip, truncated stream) is reported; others still load.
        count.status, count.error = "failed", f"{file.path}: {exc}"
    finally:
        if writer is not None:
            writer.close()
    count.file_sha256 = hashing.sha256.hexdigest()
    count.rows_read = parsed.rows_read
    count.rows_quarantined = parsed.rows_rejected
    for rejected in parsed.rejected:
        report.quarantine.append(with_file_columns(rejected, SOURCE, file.path, count.partition))
    return count


_DEDUPLICATED = """
SELECT *, row_number() OVER (PARTITION BY event_id ORDER BY source_file, line_no) AS copy_no
FROM read_parquet($files)
"""


def load_app_logs(landing: Landing, lake: Lake, first: date, last: date,
                  run_id: str, ingested_at: datetime) -> LoadReport:
    """Parse, validate, deduplicate and write the days [first, last] of `llm_calls`."""
    days = [first.fromordinal(o) for o in range(first.toordinal(), last.toordinal() + 1)]
    report = LoadReport(SOURCE, days)
    con = engine.connect()
    with tempfile.TemporaryDirectory(prefix="audit-stage-") as tmp:
        staging = Path(tmp)
        for file in log_files(landing):
            if file.day is None:
                report.files.append(FileCount(SOURCE, file.path, UNDATED, file_bytes=file.size,
                                              status="failed", error=f"{file.path}: no YYYY-MM-DD day in the path"))
            elif first <= file.day <= last:
                report.files.append(_parse_into_staging(landing, file, staging, report, con))
        staged = sorted(str(p) for p in staging.glob("*.parquet"))
        predicate = date_range_predicate("event_date", first, last)
        if not staged:
            lake.replace_where("llm_calls", LLM_CALLS.empty_table(), predicate)
            return report
        con.sql(f"CREATE TEMP TABLE staged AS {_DEDUPLICATED}", params={"files": staged})
        _count_outcomes(con, report)
        rows = con.sql(
            "SELECT * EXCLUDE (copy_no), $ingested_at AS ingested_at FROM staged WHERE copy_no = 1",
            params={"ingested_at": ingested_at},
        ).to_arrow_reader(batch_size=200_000)
        lake.replace_where("llm_calls", conform_reader(rows, LLM_CALLS), predicate)
    return report


def _count_outcomes(con: duckdb.DuckDBPyConnection, report: LoadReport) -> None:
    """Fill accepted and duplicate counts per file; quarantine duplicates with their origin."""
    by_file = {f.source_file: f for f in report.files}
    for source_file, accepted, duplicate in con.sql(
        "SELECT source_file, count(*) FILTER (copy_no = 1), count(*) FILTER (copy_no > 1) "
        "FROM staged GROUP BY source_file"
    ).fetchall():
        by_file[source_file].rows_accepted = accepted
        by_file[source_file].rows_duplicate = duplicate
    duplicates = con.sql("""
        SELECT d.source_file, d.line_no, 'duplicate' AS error_code,
               'event_id ' || d.event_id || ' first seen in ' || o.source_file || ' line ' || o.line_no AS error_detail,
               d.event_id AS raw_excerpt, CAST(d.event_date AS VARCHAR) AS partition
        FROM staged d JOIN staged o ON o.event_id = d.event_id AND o.copy_no = 1
        WHERE d.copy_no > 1
    """).to_arrow_table()
    if duplicates.num_rows:
        n = duplicates.num_rows
        report.quarantine.append(
            duplicates.append_column("source", pa.array([SOURCE] * n, pa.string()))
            .select(["source", "source_file", "partition", *REJECTED_SCHEMA.names])
        )
