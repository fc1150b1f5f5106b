"""Line-oriented sources (JSON lines, OTLP/JSON exports): numbered lines, checked in DuckDB.

Line numbers are what an operator needs to find a bad record, so they are exact: 1-based,
counting blank lines. Lines are read as bytes by pyarrow's streaming CSV reader with a
delimiter that valid JSON never holds unescaped; each block is then decoded, masked for
secrets and checked by one DuckDB query of the source's format, so no Python code touches
individual records. A format supplies two SQL texts:

- `checked_sql`: over the CTE `lines_text(line_no, line, text)`, one row per record with
  `error_code`, `error_detail` (null when accepted), `text`, `line`, `line_no`;
- `accepted_sql`: over `checked`, the accepted records as `llm_calls` columns.

Both may use the parameters `$first_day` / `$last_day` (the days the file may hold).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import BinaryIO

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from audit_pipeline.redaction import REDACTED, SECRET_PATTERN, redact
from audit_pipeline.schemas import LLM_CALLS, conform

LINES_SCHEMA = pa.schema([("line_no", pa.int64()), ("line", pa.binary())])
REJECTED_SCHEMA = pa.schema(
    [("line_no", pa.int64()), ("error_code", pa.string()), ("error_detail", pa.string()),
     ("raw_excerpt", pa.string())]
)
STAGED_SCHEMA = pa.schema([f for f in LLM_CALLS if f.name != "ingested_at"])
"""Accepted records, as every line format hands them over."""

BLOCK_SIZE = 16 << 20
"""Bytes per parsing block; also the longest line that can be read."""
EXCERPT_CHARS = 200

# ASCII unit separator: never valid unescaped inside JSON, so it cannot split a good record.
_NEVER_IN_JSON = "\x1f"

LINES_TEXT_CTE = f"""
lines_text AS (
    -- a byte-order mark on the first line is an encoding artefact, not part of the record;
    -- secrets are masked before anything is parsed, so no later step can store one
    SELECT line_no, line,
           CASE WHEN regexp_matches(raw, $secret) THEN regexp_replace(raw, $secret, '{REDACTED}', 'g')
                ELSE raw END AS text
    FROM (SELECT line_no, line, ltrim(try(decode(line)), chr(65279)) AS raw FROM lines
          WHERE octet_length(line) > 0 AND trim(try(decode(line))) IS DISTINCT FROM '')
)"""

_REJECTED_SELECT = f"""
SELECT line_no, error_code, error_detail,
       left(coalesce(text, CAST(line AS VARCHAR)), {EXCERPT_CHARS}) AS raw_excerpt
FROM checked WHERE error_code IS NOT NULL
"""


@dataclass(frozen=True)
class LineFormat:
    name: str
    checked_sql: str
    accepted_sql: str
    unknown_fields_sql: str | None = None
    """Optional: (field, count) of fields the format does not know, over `checked`."""


@dataclass
class ParsedFile:
    """What one file yielded: accepted batches are streamed; rejections are small."""

    rows_read: int = 0
    rejected: list[pa.Table] = field(default_factory=list)
    unknown_fields: Counter = field(default_factory=Counter)

    @property
    def rows_rejected(self) -> int:
        return sum(t.num_rows for t in self.rejected)


def iter_line_batches(
    stream: BinaryIO, rejected: list[tuple[int, bytes]], whole_document: bool = False
) -> Iterator[pa.RecordBatch]:
    """Yield batches of (line_no, line) from `stream`.

    A line holding a raw control character (which no valid JSON line can) is appended to
    `rejected` as (line_no, raw bytes) instead of appearing in a batch. With
    `whole_document`, the stream is one JSON document (possibly pretty-printed): line 1.
    """
    if whole_document:
        yield pa.RecordBatch.from_arrays(
            [pa.array([1], pa.int64()), pa.array([stream.read()], pa.binary())], schema=LINES_SCHEMA)
        return
    skipped: list[int] = []

    def on_invalid_row(row: pacsv.InvalidRow) -> str:
        skipped.append(row.number)
        rejected.append((row.number, row.text.encode("utf-8", "replace")))
        return "skip"

    reader = pacsv.open_csv(
        stream,
        read_options=pacsv.ReadOptions(column_names=["line"], block_size=BLOCK_SIZE, use_threads=False),
        parse_options=pacsv.ParseOptions(
            delimiter=_NEVER_IN_JSON, quote_char=False, escape_char=False,
            ignore_empty_lines=False, invalid_row_handler=on_invalid_row,
        ),
        convert_options=pacsv.ConvertOptions(column_types={"line": pa.binary()}, strings_can_be_null=False),
    )
    next_line = 1
    for batch in reader:
        # Rows skipped by the handler while this block was parsed are missing from it:
        # number the kept rows around them.
        span = batch.num_rows + len(skipped)
        numbers = np.arange(next_line, next_line + span, dtype=np.int64)
        if skipped:
            numbers = numbers[~np.isin(numbers, np.asarray(skipped, dtype=np.int64))]
            skipped.clear()
        next_line += span
        yield pa.RecordBatch.from_arrays([pa.array(numbers), batch.column(0)], schema=LINES_SCHEMA)


def _control_char_rejections(lines: list[tuple[int, bytes]]) -> pa.Table:
    return pa.table({
        "line_no": [n for n, _ in lines],
        "error_code": ["json_invalid"] * len(lines),
        "error_detail": ["raw control character inside the line"] * len(lines),
        "raw_excerpt": [redact(raw.decode("utf-8", "replace"))[:EXCERPT_CHARS] for _, raw in lines],
    }, schema=REJECTED_SCHEMA)


def parse_lines(
    stream: BinaryIO,
    source_file: str,
    days: tuple[date, date] | None,
    line_format: LineFormat,
    result: ParsedFile,
    connection: duckdb.DuckDBPyConnection | None = None,
    whole_document: bool = False,
) -> Iterator[pa.Table]:
    """Yield accepted records (STAGED_SCHEMA), one table per block; fill `result`.

    `days` is the first and last UTC day the file may hold records for; a record outside
    them is rejected as `outside_file_day`, so it is seen rather than silently moved.
    """
    con = connection or duckdb.connect()
    con.sql("SET TimeZone = 'UTC'")  # a caller's connection too: dates are UTC days
    first, last = days or (None, None)
    params = {"secret": SECRET_PATTERN, "first_day": first, "last_day": last}
    control_char_lines: list[tuple[int, bytes]] = []
    for lines in iter_line_batches(stream, control_char_lines, whole_document):
        con.register("lines", lines)
        con.sql(f"CREATE OR REPLACE TEMP TABLE checked AS WITH {LINES_TEXT_CTE}, {line_format.checked_sql}",
                params=params)
        con.unregister("lines")
        result.rows_read += con.sql("SELECT count(*) FROM checked").fetchall()[0][0]
        rejected = con.sql(_REJECTED_SELECT).to_arrow_table()
        if rejected.num_rows:
            result.rejected.append(rejected.cast(REJECTED_SCHEMA))
        if line_format.unknown_fields_sql:
            result.unknown_fields.update(dict(con.sql(line_format.unknown_fields_sql).fetchall()))
        accepted = con.sql(line_format.accepted_sql, params={"source_file": source_file}).to_arrow_table()
        yield conform(accepted, STAGED_SCHEMA)
    if control_char_lines:
        result.rows_read += len(control_char_lines)
        result.rejected.append(_control_char_rejections(control_char_lines))


def outside_days_sql(ts: str) -> str:
    """SQL condition: the record's UTC day is outside the file's permitted days."""
    return f"($first_day IS NOT NULL AND CAST({ts} AS DATE) NOT BETWEEN $first_day AND $last_day)"
