"""Paginated admin-API responses (OpenAI and Anthropic share the envelope shape).

A landing file holds one page exactly as the API returned it: `{"data": [bucket, ...],
"has_more": ..., "next_page": ...}`. Parsers walk buckets and results; this module owns the
envelope checks so each provider parser only maps a result to a row.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any


class PageError(ValueError):
    """A page that cannot be read; the message names the file and the field."""


def load_page(raw: bytes, source_file: str) -> dict[str, Any]:
    try:
        page = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PageError(f"{source_file}: not a JSON page: {exc}") from exc
    if not isinstance(page, dict) or not isinstance(page.get("data"), list):
        raise PageError(f"{source_file}: field data: expected a list of buckets")
    return page


def iter_results(
    page: dict[str, Any], source_file: str
) -> Iterator[tuple[int, dict[str, Any], dict[str, Any]]]:
    """Yield (bucket index, bucket, result) for every result; empty buckets yield nothing."""
    for index, bucket in enumerate(page["data"]):
        results = bucket.get("results") if isinstance(bucket, dict) else None
        if not isinstance(results, list):
            raise PageError(f"{source_file}: data[{index}].results: expected a list")
        for result in results:
            if not isinstance(result, dict):
                raise PageError(f"{source_file}: data[{index}].results: expected objects")
            yield index, bucket, result
