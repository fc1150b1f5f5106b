"""Split a JSON-lines stream into numbered lines, in Arrow batches, without decoding JSON.

Line numbers are what an operator needs to find a bad record, so they are exact: 1-based,
counting blank lines. Lines are kept as bytes; decoding (and the `encoding` error) happens
in the parser, per line.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

LINES_SCHEMA = pa.schema([("line_no", pa.int64()), ("line", pa.binary())])
BLOCK_SIZE = 16 << 20
"""Bytes per parsing block; also the longest line that can be read (issue 5 handles longer)."""

# ASCII unit separator: never valid unescaped inside JSON, so it cannot split a good record.
_NEVER_IN_JSON = "\x1f"


def iter_line_batches(
    stream: BinaryIO, rejected: list[tuple[int, bytes]]
) -> Iterator[pa.RecordBatch]:
    """Yield batches of (line_no, line) from `stream`.

    A line holding a raw control character (which no valid JSON line can) is appended to
    `rejected` as (line_no, raw bytes) instead of appearing in a batch.
    """
    skipped: list[int] = []

    def on_invalid_row(row: pacsv.InvalidRow) -> str:
        skipped.append(row.number)
        rejected.append((row.number, row.text.encode("utf-8", "replace")))
        return "skip"

    reader = pacsv.open_csv(
        stream,
        read_options=pacsv.ReadOptions(
            column_names=["line"], block_size=BLOCK_SIZE, use_threads=False
        ),
        parse_options=pacsv.ParseOptions(
            delimiter=_NEVER_IN_JSON,
            quote_char=False,
            escape_char=False,
            ignore_empty_lines=False,
            invalid_row_handler=on_invalid_row,
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={"line": pa.binary()}, strings_can_be_null=False
        ),
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
