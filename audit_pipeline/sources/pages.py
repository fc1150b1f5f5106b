"""Paginated admin-API responses (OpenAI and Anthropic share the envelope shape).

A landing file holds one page exactly as the API returned it: `{"data": [bucket, ...],
"has_more": ..., "next_page": ...}`. This module owns the envelope, the walk over results
and the rejection of a result that cannot be mapped; each provider module only maps one
result to a row and says which fields it knows (others are counted, not failed).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pyarrow as pa

from audit_pipeline.sources.money import TimestampError

REJECTED_SCHEMA = pa.schema(
    [("line_no", pa.int64()), ("error_code", pa.string()), ("error_detail", pa.string()),
     ("raw_excerpt", pa.string()), ("day", pa.date32())]
)
"""Rejected results; `line_no` is the result's ordinal in the file, `day` its bucket's day."""

Row = dict[str, Any]
BuildRow = Callable[[Row, Row, str], Row]
"""(bucket, result, "data[i]") → table row; raises KeyError (missing) or ValueError (bad)."""


class PageError(ValueError):
    """A page that cannot be read; the message names the file and the field."""


@dataclass
class ParsedPage:
    """Rows accepted from one page and the results rejected, each naming its field."""

    rows: pa.Table
    rejected: list[Row] = field(default_factory=list)
    rows_read: int = 0
    unknown_fields: Counter = field(default_factory=Counter)

    def rejected_table(self) -> pa.Table:
        return pa.Table.from_pylist(self.rejected, schema=REJECTED_SCHEMA)


def load_page(raw: bytes, source_file: str) -> Row:
    try:
        page = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PageError(f"{source_file}: not a JSON page: {exc}") from exc
    if not isinstance(page, dict) or not isinstance(page.get("data"), list):
        raise PageError(f"{source_file}: field data: expected a list of buckets")
    return page


def iter_results(page: Row, source_file: str) -> Iterator[tuple[int, Row, Row]]:
    """Yield (bucket index, bucket, result) for every result; empty buckets yield nothing."""
    for index, bucket in enumerate(page["data"]):
        results = bucket.get("results") if isinstance(bucket, dict) else None
        if not isinstance(results, list):
            raise PageError(f"{source_file}: data[{index}].results: expected a list")
        for result in results:
            if not isinstance(result, dict):
                raise PageError(f"{source_file}: data[{index}].results: expected objects")
            yield index, bucket, result


def token_count(result: Row, name: str, where: str) -> int | None:
    """A non-negative integer count; None when absent (unknown, never zero)."""
    value = result.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{where}.{name}: expected an integer, got {value!r}")
    if value < 0:
        raise ValueError(f"{where}.{name}: {value} is negative")
    return value


def parse_results(
    raw: bytes, source_file: str, schema: pa.Schema, build_row: BuildRow,
    bucket_day: Callable[[Row], date | None], known_fields: frozenset[str],
) -> ParsedPage:
    """Walk a page's results; a result that cannot be mapped is rejected with its field."""
    page = load_page(raw, source_file)
    rows: list[Row] = []
    parsed = ParsedPage(rows=schema.empty_table())
    for ordinal, (index, bucket, result) in enumerate(iter_results(page, source_file), 1):
        parsed.rows_read += 1
        parsed.unknown_fields.update(k for k in result if k not in known_fields)
        try:
            rows.append(build_row(bucket, result, f"data[{index}]"))
            continue
        except KeyError as exc:
            code, detail = "missing_required", str(exc.args[0])
        except TimestampError as exc:
            code, detail = "bad_timestamp", str(exc)
        except ValueError as exc:
            code = "negative_tokens" if "negative" in str(exc) else "bad_type"
            detail = str(exc)
        parsed.rejected.append({
            "line_no": ordinal, "error_code": code, "error_detail": detail,
            "raw_excerpt": json.dumps(result, default=str)[:200],
            "day": bucket_day(bucket),
        })
    parsed.rows = pa.Table.from_pylist(rows, schema=schema)
    return parsed
