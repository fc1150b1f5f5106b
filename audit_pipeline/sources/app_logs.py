"""Application LLM-call logs (JSON lines, one record per model call) → `llm_calls` rows.

The record format is DESIGN.md's "Application log record". Every line ends up either
accepted (an `llm_calls` row) or rejected with an error code naming the field; duplicates
are decided later, across files, by the loader. Validation runs in DuckDB over Arrow
batches of lines, so no Python code touches individual records.

Error codes (first failing rule wins):
  encoding          the line is not valid UTF-8
  json_invalid      not a JSON object (truncated, garbage, control characters)
  missing_required  a required field is absent or empty (detail names it)
  bad_timestamp     `timestamp` is not RFC 3339 with a zone
  bad_type          a token or latency field is not a number of the right kind
  negative_tokens   a token count below zero
  outside_file_day  the record's UTC day is not the day its file is filed under
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import BinaryIO

import duckdb
import pyarrow as pa

from audit_pipeline.redaction import REDACTED, SECRET_PATTERN, redact
from audit_pipeline.sources.lines import iter_line_batches

REQUIRED_FIELDS = ("event_id", "timestamp", "ai_system", "provider", "request_model")
STRING_FIELDS = (
    "event_id", "timestamp", "ai_system", "provider", "request_id", "response_id", "route",
    "tenant_id", "user_ref", "api_key_id", "project_id", "request_model", "response_model",
    "prompt_id", "prompt_version", "prompt_sha256", "status", "error_type", "finish_reason",
    "output_sha256", "app_version",
)
TOKEN_FIELDS = (
    "input_tokens", "output_tokens", "cached_input_tokens", "cache_write_tokens",
    "reasoning_tokens",
)
DURATION_FIELDS = ("latency_ms", "ttft_ms")
EXCERPT_CHARS = 200

REJECTED_SCHEMA = pa.schema(
    [
        ("line_no", pa.int64()),
        ("error_code", pa.string()),
        ("error_detail", pa.string()),
        ("raw_excerpt", pa.string()),
    ]
)

# Every field is read as text in one JSON parse per line; types are checked afterwards so
# that a wrong type becomes a named error instead of a silent NULL.
_STRUCTURE = "{" + ", ".join(
    f'"{name}": "VARCHAR"' for name in STRING_FIELDS + TOKEN_FIELDS + DURATION_FIELDS
) + "}"


def _not_integer(field: str) -> str:
    # A strict pattern: DuckDB would cast '12.5' to 13, hiding a fractional token count.
    return f"(r.{field} IS NOT NULL AND NOT regexp_full_match(trim(r.{field}), '-?[0-9]{{1,18}}'))"


def _first_error_sql() -> str:
    """CASE expressions giving (error_code, error_detail) for a parsed record `r`."""
    missing = " ".join(
        f"WHEN coalesce(trim(r.{f}), '') = '' THEN 'missing required field {f}'"
        for f in REQUIRED_FIELDS
    )
    bad_type = " ".join(
        f"WHEN {_not_integer(f)} THEN 'field {f}: expected an integer, got ' || left(r.{f}, 40)"
        for f in TOKEN_FIELDS
    ) + " " + " ".join(
        f"WHEN r.{f} IS NOT NULL AND (try_cast(r.{f} AS DOUBLE) IS NULL "
        f"OR NOT isfinite(try_cast(r.{f} AS DOUBLE))) "
        f"THEN 'field {f}: expected a finite number, got ' || left(r.{f}, 40)"
        for f in DURATION_FIELDS
    )
    negative = " ".join(
        f"WHEN try_cast(r.{f} AS BIGINT) < 0 THEN 'field {f}: ' || r.{f} || ' is negative'"
        for f in TOKEN_FIELDS
    )
    return f"""
        CASE
          WHEN text IS NULL THEN 'encoding'
          WHEN r IS NULL THEN 'json_invalid'
          WHEN {" OR ".join(f"coalesce(trim(r.{f}), '') = ''" for f in REQUIRED_FIELDS)}
            THEN 'missing_required'
          WHEN ts IS NULL THEN 'bad_timestamp'
          WHEN {" OR ".join(_not_integer(f) for f in TOKEN_FIELDS)}
            OR {" OR ".join(f"(r.{f} IS NOT NULL AND NOT coalesce(isfinite(try_cast(r.{f} AS DOUBLE)), false))" for f in DURATION_FIELDS)}
            THEN 'bad_type'
          WHEN {" OR ".join(f"try_cast(r.{f} AS BIGINT) < 0" for f in TOKEN_FIELDS)}
            THEN 'negative_tokens'
          WHEN $file_day IS NOT NULL AND CAST(ts AS DATE) <> $file_day THEN 'outside_file_day'
        END AS error_code,
        CASE
          WHEN text IS NULL THEN 'line is not valid UTF-8'
          WHEN r IS NULL THEN 'not a JSON object'
          {missing}
          WHEN ts IS NULL THEN 'field timestamp: not RFC 3339 with a time zone: ' || left(r.timestamp, 40)
          {bad_type}
          {negative}
          WHEN $file_day IS NOT NULL AND CAST(ts AS DATE) <> $file_day
            THEN 'field timestamp: ' || r.timestamp || ' is not on the file''s day ' || $file_day
        END AS error_detail
    """


_PARSE_SQL = f"""
WITH decoded AS (
    -- a byte-order mark on the first line is an encoding artefact, not part of the record
    SELECT line_no, line, ltrim(try(decode(line)), chr(65279)) AS raw_text FROM lines
    WHERE octet_length(line) > 0 AND trim(try(decode(line))) IS DISTINCT FROM ''
), masked AS (
    SELECT line_no, line,
           CASE WHEN regexp_matches(raw_text, $secret)
                THEN regexp_replace(raw_text, $secret, '{REDACTED}', 'g') ELSE raw_text END AS text
    FROM decoded
), parsed AS (
    SELECT *,
           CASE WHEN json_valid(text) AND json_type(text) = 'OBJECT'
                THEN json_transform(text, '{_STRUCTURE}') END AS r
    FROM masked
), typed AS (
    SELECT *,
           CASE WHEN regexp_matches(r.timestamp, '(Z|z|[+-]\\d\\d:?\\d\\d)$')
                THEN try_cast(r.timestamp AS TIMESTAMPTZ) END AS ts
    FROM parsed
)
SELECT *, {_first_error_sql()} FROM typed
"""

_ACCEPTED_SELECT = f"""
SELECT
    {", ".join(f"nullif(trim(r.{f}), '') AS {f}" for f in STRING_FIELDS if f != "timestamp")},
    CAST(ts AS DATE) AS event_date,
    ts AS "timestamp",
    {", ".join(f"CAST(r.{f} AS BIGINT) AS {f}" for f in TOKEN_FIELDS)},
    {", ".join(f"CAST(r.{f} AS DOUBLE) AS {f}" for f in DURATION_FIELDS)},
    $source_file AS source_file,
    line_no
FROM checked WHERE error_code IS NULL
"""

_REJECTED_SELECT = f"""
SELECT line_no, error_code, error_detail,
       left(coalesce(text, CAST(line AS VARCHAR)), {EXCERPT_CHARS}) AS raw_excerpt
FROM checked WHERE error_code IS NOT NULL
"""


@dataclass
class ParsedFile:
    """What one log file yielded: accepted batches are streamed; rejections are small."""

    rows_read: int = 0
    rejected: list[pa.Table] = field(default_factory=list)

    @property
    def rows_rejected(self) -> int:
        return sum(t.num_rows for t in self.rejected)


def parse_app_log(
    stream: BinaryIO,
    source_file: str,
    file_day: date | None,
    result: ParsedFile,
    connection: duckdb.DuckDBPyConnection | None = None,
) -> Iterator[pa.Table]:
    """Yield accepted `llm_calls`-shaped tables, one per block of lines; fill `result`.

    `file_day` is the UTC day the file is filed under (from its path); records on another
    day are rejected as `outside_file_day` so they are seen rather than silently moved.
    """
    con = connection or duckdb.connect()
    con.sql("SET TimeZone = 'UTC'")  # a caller's connection too: dates are UTC days
    params = {"secret": SECRET_PATTERN, "file_day": file_day}
    control_char_lines: list[tuple[int, bytes]] = []
    for lines in iter_line_batches(stream, control_char_lines):
        con.register("lines", lines)
        con.sql(f"CREATE OR REPLACE TEMP TABLE checked AS {_PARSE_SQL}", params=params)
        con.unregister("lines")
        result.rows_read += con.sql("SELECT count(*) FROM checked").fetchall()[0][0]
        rejected = con.sql(_REJECTED_SELECT).to_arrow_table()
        if rejected.num_rows:
            result.rejected.append(rejected.cast(REJECTED_SCHEMA))
        yield con.sql(_ACCEPTED_SELECT, params={"source_file": source_file}).to_arrow_table()
    if control_char_lines:
        result.rows_read += len(control_char_lines)
        result.rejected.append(
            pa.table(
                {
                    "line_no": [n for n, _ in control_char_lines],
                    "error_code": ["json_invalid"] * len(control_char_lines),
                    "error_detail": ["raw control character inside the line"] * len(control_char_lines),
                    "raw_excerpt": [
                        redact(raw.decode("utf-8", "replace"))[:EXCERPT_CHARS]
                        for _, raw in control_char_lines
                    ],
                },
                schema=REJECTED_SCHEMA,
            )
        )
