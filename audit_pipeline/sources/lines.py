"""Line-oriented sources (JSON lines, OTLP/JSON exports): numbered lines, checked in DuckDB.

Line numbers are what an operator needs to find a bad record, so they are exact: 1-based,
counting blank lines. The bulk path lets DuckDB's parallel reader read a whole clean file;
a file it cannot read (invalid UTF-8, mixed line endings, a very long line) takes the
precise path: pyarrow's streaming CSV reader (with a delimiter that valid JSON never holds
unescaped) reads it as bytes in 16 MB blocks, a block of valid UTF-8 is checked as text
exactly like the bulk path, and only a block holding invalid bytes is decoded line by line.
Either way each block is masked for secrets and checked by one DuckDB query of the
source's format, so no Python code touches individual records. A format supplies two SQL texts:

- `checked_sql`: a query over `lines_text(line_no, line, text)`, one row per record with
  `error_code`, `error_detail` (null when accepted), `text`, `line`, `line_no`;
- `accepted_sql`: over `checked`, the accepted records as `llm_calls` columns.

Both may use the parameters `$first_day` / `$last_day` (the days the file may hold),
`$not_after` (later is a future timestamp), `$start_day` (earlier is before the pipeline's
first day) and `$max_line_bytes`; `record_time_rules` turns the first four into error codes.
"""

from __future__ import annotations

import io
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import BinaryIO

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from audit_pipeline.schemas import LLM_CALLS, conform

LINES_SCHEMA = pa.schema([("line_no", pa.int64()), ("line", pa.binary())])
REJECTED_SCHEMA = pa.schema(
    [("line_no", pa.int64()), ("error_code", pa.string()), ("error_detail", pa.string()),
     ("raw_excerpt", pa.string())]
)
STAGED_SCHEMA = pa.schema([f for f in LLM_CALLS if f.name != "ingested_at"])
"""Accepted records, as every line format hands them over."""

BLOCK_SIZE = 16 << 20
"""Bytes per parsing block. Lines longer than a record may be are cut to just past
MAX_RECORD_BYTES before the reader sees them (`CappedLines`), so no line fails its file."""
MAX_RECORD_BYTES = 1 << 20
"""A one-record-per-line log line longer than this is quarantined as `line_too_long`: a
call record carries ids and counts, never prompt text, so a megabyte line is not one."""
DEFAULT_MAX_FILE_BYTES = 16 << 30
"""16 GiB decompressed (AUDIT_MAX_FILE_BYTES): a day of a busy system's calls is a few GB per file."""
EXCERPT_CHARS = 200

# ASCII unit separator: never valid unescaped inside JSON, so it cannot split a good record.
_NEVER_IN_JSON = "\x1f"

GLOB_CHARACTERS = frozenset("*?[]{}")


@contextmanager
def literal_path(path: str) -> Iterator[str]:
    """`path` as DuckDB may be handed it: DuckDB expands `* ? [ ] { }` in a file name as a
    glob, which would read another file's rows (or none) under this one's name. A name with
    any of them is read through a link with a plain name in a private folder."""
    if not GLOB_CHARACTERS & set(path):
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="audit-literal-") as folder:
        link = Path(folder) / ("file" + "".join(Path(path).suffixes[-2:]))
        link.symlink_to(Path(path).resolve())
        yield str(link)


def _lines_text_cte(from_bytes: bool) -> str:
    """`lines_text(line_no, line, text)`: non-blank lines as text.

    A byte-order mark on the first line is an encoding artefact, not part of the record;
    secrets are replaced where rows are stored (`Lake` is the redaction boundary), after decoding.
    """
    # Strip and trim only where needed: copying every line would cost more than parsing it.
    raw = ("ltrim(try(decode(line)), chr(65279))" if from_bytes
           else "CASE WHEN starts_with(line, chr(65279)) THEN ltrim(line, chr(65279)) ELSE line END")
    blank = ("octet_length(line) > 0 AND trim(try(decode(line))) IS DISTINCT FROM ''" if from_bytes
             else "line IS NOT NULL AND (length(line) > 16 OR trim(line) <> '')")
    line_bytes = "octet_length(line)" if from_bytes else "strlen(line)"
    return f"""
lines_text AS (
    SELECT line_no, line, {line_bytes} AS line_bytes, raw AS text
    FROM (SELECT line_no, line, {raw} AS raw FROM lines WHERE {blank})
)"""


LINES_TEXT_CTE = _lines_text_cte(from_bytes=True)
TEXT_LINES_CTE = _lines_text_cte(from_bytes=False)
"""The same over lines already read as text (DuckDB's reader, or a block of valid UTF-8)."""


SKIPPED = "skipped:"
"""An `error_code` starting so marks a record that is not this source's kind (an OTLP span
that is no model call): counted by reason in ingest_log, neither accepted nor quarantined."""

_REJECTED_SELECT = f"""
SELECT line_no, error_code, error_detail, excerpt AS raw_excerpt FROM checked
WHERE error_code IS NOT NULL AND NOT starts_with(error_code, '{SKIPPED}')
"""
_SKIPPED_SELECT = f"""
SELECT substr(error_code, {len(SKIPPED) + 1}) AS reason, count(*) FROM checked
WHERE starts_with(error_code, '{SKIPPED}') GROUP BY ALL
"""


@dataclass(frozen=True)
class LineFormat:
    name: str
    checked_sql: str
    accepted_sql: str
    unknown_fields_sql: str | None = None
    """Optional: (field, count) of fields the format does not know, over `checked`."""
    chunk_lines: int = 250_000
    """Lines checked per query on the bulk path: bounds DuckDB's working memory per file
    (an OTLP export line holds a batch of spans, so its chunks are far smaller)."""
    bulk_checked_sql: str | None = None
    read_docs: Callable[[str], Iterator[pa.Table] | None] | None = None
    """Optional bulk reader streaming tables of whole documents (line_no, d), checked by
    `bulk_checked_sql` over `docs_arrow`, instead of DuckDB's line reader."""


@dataclass(frozen=True)
class RecordLimits:
    """Bounds on a record's time besides its file's days (None: not checked), and on the
    bytes one file may expand to."""

    not_after: datetime | None = None
    """The load's time plus allowed clock skew: a later record is `future_timestamp`."""
    start_day: date | None = None
    """The pipeline's first partition day: an earlier record is `before_start` (it could
    never be loaded into a partition, so it is quarantined rather than dropped)."""
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    """Decompressed bytes one file may hold: a gzip bomb stops here with a named error."""


@dataclass
class ParsedFile:
    """What one file yielded: accepted batches are streamed; rejections are small."""

    rows_read: int = 0
    rejected: list[pa.Table] = field(default_factory=list)
    unknown_fields: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)
    """Reason → records read that are not this source's kind (counted, not kept)."""

    @property
    def rows_rejected(self) -> int:
        return sum(t.num_rows for t in self.rejected)


class TooLarge(OSError):
    """A file that expands beyond its cap (a gzip bomb): it fails, naming the cap."""


class CappedLines(io.RawIOBase):
    """`stream` with every line cut after `max_line` bytes and the whole capped at `max_total`.

    A line longer than any record may be is kept only up to one byte past the record limit,
    so the checks quarantine it as `line_too_long` (its excerpt and length past the limit
    show why) while its neighbours load; memory stays bounded by the reader's block, whatever
    the line's length. Past `max_total` bytes the file fails (`TooLarge`)."""

    def __init__(self, stream: BinaryIO, max_line: int, max_total: int, name: str):
        self._stream, self._max_line, self._max_total, self._name = stream, max_line, max_total, name
        self._line_bytes = 0
        self._total = 0
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending:
            chunk = self._stream.read(1 << 20)
            if not chunk:
                return 0
            self._total += len(chunk)
            if self._total > self._max_total:
                raise TooLarge(f"{self._name}: expands beyond {self._max_total:,} bytes (AUDIT_MAX_FILE_BYTES)")
            self._pending = self._cut(chunk)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size

    def _cut(self, chunk: bytes) -> bytes:
        """The chunk with the part of each line beyond `max_line` bytes left out."""
        kept, start = [], 0
        while start < len(chunk):
            end = chunk.find(b"\n", start)
            piece = chunk[start:] if end < 0 else chunk[start:end + 1]
            room = self._max_line - self._line_bytes
            body = piece[:-1] if end >= 0 else piece
            kept.append(body[:max(room, 0)] + (b"\n" if end >= 0 else b""))
            self._line_bytes = 0 if end >= 0 else self._line_bytes + len(body)
            start = len(chunk) if end < 0 else end + 1
        return b"".join(kept)


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


def _as_text(lines: pa.RecordBatch) -> pa.RecordBatch | None:
    """The block with its lines as text, or None when a line is not valid UTF-8."""
    try:
        return pa.RecordBatch.from_arrays([lines.column(0), lines.column(1).cast(pa.string())],
                                          names=["line_no", "line"])
    except pa.ArrowInvalid:
        return None


def _check_groups(blocks: Iterator[pa.RecordBatch], chunk_lines: int) -> Iterator[tuple[pa.Table, bool]]:
    """Group read blocks for checking: (lines, is_text).

    Consecutive blocks of valid UTF-8 (nearly all) are checked together as text, up to
    `chunk_lines` lines, exactly like the bulk path; a block holding invalid bytes is checked
    alone, decoding line by line. One bad byte costs its block, not its file.
    """
    pending: list[pa.RecordBatch] = []
    for block in blocks:
        text = _as_text(block)
        if text is None:
            if pending:
                yield pa.Table.from_batches(pending), True
                pending = []
            yield pa.Table.from_batches([block]), False
            continue
        pending.append(text)
        if sum(b.num_rows for b in pending) >= chunk_lines:
            yield pa.Table.from_batches(pending), True
            pending = []
    if pending:
        yield pa.Table.from_batches(pending), True


def _control_char_rejections(lines: list[tuple[int, bytes]]) -> pa.Table:
    return pa.table({
        "line_no": [n for n, _ in lines],
        "error_code": ["json_invalid"] * len(lines),
        "error_detail": ["raw control character inside the line"] * len(lines),
        "raw_excerpt": [raw.decode("utf-8", "replace")[:EXCERPT_CHARS] for _, raw in lines],
    }, schema=REJECTED_SCHEMA)


def _check(con: duckdb.DuckDBPyConnection, checked_sql: str, line_format: LineFormat, params: dict,
           result: ParsedFile, cte: str | None = None) -> None:
    """Check the input into the temp table `checked`; record rejections.

    Only rejected rows keep their text (as the excerpt): materializing every line's text
    would copy the whole file once more.
    """
    sql = f"""CREATE OR REPLACE TEMP TABLE checked AS
        WITH {cte + "," if cte else ""} checked_all AS ({checked_sql})
        SELECT * EXCLUDE (line, text),
               CASE WHEN error_code IS NOT NULL
                    THEN left(coalesce(text, CAST(line AS VARCHAR)), {EXCERPT_CHARS}) END AS excerpt
        FROM checked_all"""
    con.sql(sql, params={k: v for k, v in params.items() if f"${k}" in sql})
    result.rows_read += con.sql("SELECT count(*) FROM checked").fetchall()[0][0]
    rejected = con.sql(_REJECTED_SELECT).to_arrow_table()
    if rejected.num_rows:
        result.rejected.append(rejected.cast(REJECTED_SCHEMA))
    result.skipped.update(dict(con.sql(_SKIPPED_SELECT).fetchall()))
    if line_format.unknown_fields_sql:
        result.unknown_fields.update(dict(con.sql(line_format.unknown_fields_sql).fetchall()))


def _params(days: tuple[date, date] | None, limits: RecordLimits) -> dict:
    first, last = days or (None, None)
    return {"first_day": first, "last_day": last,
            "not_after": limits.not_after, "start_day": limits.start_day,
            "max_line_bytes": MAX_RECORD_BYTES}


def parse_lines(
    stream: BinaryIO,
    source_file: str,
    days: tuple[date, date] | None,
    line_format: LineFormat,
    result: ParsedFile,
    connection: duckdb.DuckDBPyConnection | None = None,
    whole_document: bool = False,
    limits: RecordLimits = RecordLimits(),
) -> Iterator[pa.Table]:
    """The precise path: yield accepted records (STAGED_SCHEMA) block by block; fill `result`.

    `days` is the first and last UTC day the file may hold records for; a record outside
    them is rejected as `outside_file_day`, so it is seen rather than silently moved.
    """
    con = connection or duckdb.connect()
    con.sql("SET TimeZone = 'UTC'")  # a caller's connection too: dates are UTC days
    control_char_lines: list[tuple[int, bytes]] = []
    # A whole JSON document (an OTLP export) may be one long line: only its total is capped.
    max_line = limits.max_file_bytes if whole_document else MAX_RECORD_BYTES + 1
    capped = io.BufferedReader(CappedLines(stream, max_line, limits.max_file_bytes, source_file),
                               buffer_size=1 << 20)
    for lines, is_text in _check_groups(iter_line_batches(capped, control_char_lines, whole_document),
                                        line_format.chunk_lines):
        con.register("lines", lines)
        _check(con, line_format.checked_sql, line_format, _params(days, limits), result,
               TEXT_LINES_CTE if is_text else LINES_TEXT_CTE)
        con.unregister("lines")
        accepted = con.sql(line_format.accepted_sql, params={"source_file": source_file}).to_arrow_table()
        yield conform(accepted, STAGED_SCHEMA)
    if control_char_lines:
        result.rows_read += len(control_char_lines)
        result.rejected.append(_control_char_rejections(control_char_lines))


_BULK_LINES = """
CREATE OR REPLACE TEMP TABLE file_lines AS
SELECT row_number() OVER () AS line_no, line
FROM read_csv($path, columns = {'line': 'VARCHAR'}, delim = '\x1f', quote = '', escape = '',
              header = false, auto_detect = false, max_line_size = 16777216)
"""


def parse_file_bulk(
    path: str,
    source_file: str,
    days: tuple[date, date] | None,
    line_format: LineFormat,
    result: ParsedFile,
    connection: duckdb.DuckDBPyConnection,
    staged_prefix: str,
    limits: RecordLimits = RecordLimits(),
) -> bool:
    """The fast path: DuckDB reads the whole (local, maybe gzipped) file in parallel and
    checks it in chunks, writing accepted records as Parquet files `<staged_prefix>-<n>`.

    DuckDB's parallel CSV reader keeps file order, so `row_number()` is the line number
    (blank lines included). Returns False, having changed nothing, when the file needs the
    precise path: invalid UTF-8, CRLF endings, a line too long for the reader.
    """
    if line_format.read_docs is not None:
        return _bulk_docs(path, source_file, _params(days, limits), line_format, result, connection,
                          staged_prefix)
    con = connection
    try:
        with literal_path(path) as literal:
            con.sql(_BULK_LINES, params={"path": literal})
    except duckdb.Error:
        con.sql("DROP TABLE IF EXISTS file_lines")
        return False
    total = con.sql("SELECT count(*) FROM file_lines").fetchall()[0][0]
    size = line_format.chunk_lines
    for chunk, start in enumerate(range(0, total, size)):
        con.sql(f"CREATE OR REPLACE TEMP VIEW lines AS SELECT * FROM file_lines "
                f"WHERE line_no > {start} AND line_no <= {start + size}")
        _check(con, line_format.checked_sql, line_format, _params(days, limits), result, TEXT_LINES_CTE)
        _write_accepted(con, line_format, source_file, f"{staged_prefix}-{chunk:04d}.parquet")
    con.sql("DROP VIEW IF EXISTS lines")
    con.sql("DROP TABLE file_lines")
    return True


def _write_accepted(con: duckdb.DuckDBPyConnection, line_format: LineFormat, source_file: str,
                    target: str) -> None:
    quoted = target.replace("'", "''")
    con.sql(f"COPY ({line_format.accepted_sql}) TO '{quoted}' (FORMAT parquet, COMPRESSION uncompressed)",
            params={"source_file": source_file})


def _bulk_docs(path: str, source_file: str, params: dict, line_format: LineFormat,
               result: ParsedFile, con: duckdb.DuckDBPyConnection, staged_prefix: str) -> bool:
    """Bulk path over streamed documents; undoes its work if a document turns out to need
    the precise path half-way through the file."""
    docs = line_format.read_docs(path)
    if docs is None:
        return False
    before = (result.rows_read, len(result.rejected), Counter(result.unknown_fields), Counter(result.skipped))
    written: list[Path] = []
    try:
        for chunk, table in enumerate(docs):
            for part, start in enumerate(range(0, table.num_rows, line_format.chunk_lines)):
                con.register("docs_arrow", table.slice(start, line_format.chunk_lines))
                _check(con, line_format.bulk_checked_sql, line_format, params, result)
                written.append(Path(f"{staged_prefix}-{chunk:04d}-{part:03d}.parquet"))
                _write_accepted(con, line_format, source_file, str(written[-1]))
            con.unregister("docs_arrow")
    except pa.ArrowInvalid:
        for staged in written:
            staged.unlink(missing_ok=True)
        result.rows_read, result.unknown_fields, result.skipped = before[0], before[2], before[3]
        del result.rejected[before[1]:]
        return False
    return True


def outside_days_sql(ts: str) -> str:
    """SQL condition: the record's UTC day is outside the file's permitted days."""
    return f"($first_day IS NOT NULL AND CAST({ts} AS DATE) NOT BETWEEN $first_day AND $last_day)"


def record_time_rules(ts: str, what: str) -> tuple[str, str]:
    """CASE branches (error code, error detail) for a parsed record time `ts`: in the
    future, before the pipeline's first day, or too far from its file's day. `what` is a
    SQL text naming the field in the detail."""
    codes = f"""
      WHEN $not_after IS NOT NULL AND {ts} > $not_after THEN 'future_timestamp'
      WHEN $start_day IS NOT NULL AND CAST({ts} AS DATE) < $start_day THEN 'before_start'
      WHEN {outside_days_sql(ts)} THEN 'outside_file_day'"""
    details = f"""
      WHEN $not_after IS NOT NULL AND {ts} > $not_after
        THEN {what} || ' ' || strftime({ts}, '%Y-%m-%dT%H:%M:%SZ') || ' is later than the load'
      WHEN $start_day IS NOT NULL AND CAST({ts} AS DATE) < $start_day
        THEN {what} || ' ' || strftime({ts}, '%Y-%m-%dT%H:%M:%SZ') || ' is before the first day ' || CAST($start_day AS VARCHAR)
      WHEN {outside_days_sql(ts)} THEN {what} || ' is more than a day from the file''s day'"""
    return codes, details
