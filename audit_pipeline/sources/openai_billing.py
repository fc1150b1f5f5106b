"""OpenAI organization Usage API (completions) and Costs API pages → billing rows.

Units (reference/billing-formats.md §1): times are Unix seconds UTC, bucket ends exclusive;
`input_tokens` includes cached and cache-write tokens, so uncached input is
`input_uncached_tokens` when present, else `input_tokens - input_cached_tokens -
input_cache_write_tokens`; cost amounts are dollars, often long-precision strings.
Fields added in 2026 may be absent in older pages: absent means unknown (null), not zero.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa

from audit_pipeline.redaction import redact
from audit_pipeline.schemas import BILLING_COSTS, BILLING_USAGE
from audit_pipeline.sources.money import parse_amount, utc_from_unix_seconds
from audit_pipeline.sources.pages import iter_results, load_page

PROVIDER = "openai"

REJECTED_SCHEMA = pa.schema(
    [("line_no", pa.int64()), ("error_code", pa.string()), ("error_detail", pa.string()),
     ("raw_excerpt", pa.string()), ("day", pa.date32())]
)
"""Rejected results; `day` is the bucket's UTC day when it could be read."""

TOKEN_TYPES = {
    "input": "uncached_input",
    "cached input": "cache_read",
    "cache write": "cache_write",
    "cached write": "cache_write",
    "output": "output",
    "reasoning": "reasoning",
}
"""Costs line-item suffix (after the last comma) → normalised token type."""


@dataclass
class ParsedPage:
    """Rows accepted from one page and the results rejected, each naming its field."""

    rows: pa.Table
    rejected: list[dict[str, Any]] = field(default_factory=list)
    rows_read: int = 0

    def rejected_table(self) -> pa.Table:
        return pa.Table.from_pylist(self.rejected, schema=REJECTED_SCHEMA)


def _count(result: dict[str, Any], name: str, where: str) -> int | None:
    value = result.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{where}.{name}: expected an integer, got {value!r}")
    if value < 0:
        raise ValueError(f"{where}.{name}: {value} is negative")
    return value


def _bucket_times(bucket: dict[str, Any], where: str) -> tuple[datetime, datetime]:
    start = utc_from_unix_seconds(bucket.get("start_time"), field=f"{where}.start_time")
    end = utc_from_unix_seconds(bucket.get("end_time"), field=f"{where}.end_time")
    return start, end


def _bucket_day(bucket: dict[str, Any]) -> date | None:
    start = bucket.get("start_time")
    return datetime.fromtimestamp(start, tz=UTC).date() if isinstance(start, int) else None


def _reject(parsed: ParsedPage, ordinal: int, code: str, detail: str, result: object,
            bucket: dict[str, Any]) -> None:
    parsed.rejected.append(
        {"line_no": ordinal, "error_code": code, "error_detail": detail,
         "raw_excerpt": redact(json.dumps(result, default=str))[:200], "day": _bucket_day(bucket)}
    )


def _parse_results(
    raw: bytes, source_file: str, schema: pa.Schema,
    build_row: Callable[[dict[str, Any], dict[str, Any], str], dict[str, Any]],
) -> ParsedPage:
    """Walk a page's results; a result that cannot be mapped is rejected with its field."""
    page = load_page(raw, source_file)
    rows: list[dict[str, Any]] = []
    parsed = ParsedPage(rows=schema.empty_table())
    for ordinal, (index, bucket, result) in enumerate(iter_results(page, source_file), 1):
        parsed.rows_read += 1
        try:
            rows.append(build_row(bucket, result, f"data[{index}]"))
        except KeyError as exc:
            _reject(parsed, ordinal, "missing_required", str(exc.args[0]), result, bucket)
        except ValueError as exc:
            code = "negative_tokens" if "negative" in str(exc) else "bad_type"
            _reject(parsed, ordinal, code, str(exc), result, bucket)
    parsed.rows = pa.Table.from_pylist(rows, schema=schema)
    return parsed


def parse_usage_page(raw: bytes, source_file: str, ingested_at: datetime) -> ParsedPage:
    """One page of GET /v1/organization/usage/completions → `billing_usage` rows."""

    def build_row(bucket: dict[str, Any], result: dict[str, Any], where: str) -> dict[str, Any]:
        start, end = _bucket_times(bucket, where)
        fields = f"{where}.results"
        total_in = _count(result, "input_tokens", fields)
        cached = _count(result, "input_cached_tokens", fields)
        cache_write = _count(result, "input_cache_write_tokens", fields)
        uncached = _count(result, "input_uncached_tokens", fields)
        output = _count(result, "output_tokens", fields)
        requests = _count(result, "num_model_requests", fields)
        if total_in is None or output is None or requests is None:
            raise KeyError(f"{fields}: input_tokens, output_tokens and num_model_requests are required")
        if uncached is None:
            uncached = total_in - (cached or 0) - (cache_write or 0)
        return {
            "usage_date": start.date(),
            "bucket_start": start,
            "bucket_end": end,
            "provider": PROVIDER,
            "api_key_id": result.get("api_key_id"),
            "project_id": result.get("project_id"),
            "workspace_id": None,
            "model": result.get("model"),
            "service_tier": result.get("service_tier"),
            "uncached_input_tokens": uncached,
            "cache_read_tokens": cached,
            "cache_write_tokens": cache_write,
            "output_tokens": output,
            "requests": requests,
            "source_file": source_file,
            "ingested_at": ingested_at,
        }

    return _parse_results(raw, source_file, BILLING_USAGE, build_row)


def split_line_item(line_item: str | None) -> tuple[str | None, str | None]:
    """`"evals | gpt-4o-mini-2024-07-18 text, cached input"` → (model, token type).

    Split on the last comma; drop a product prefix (`… | `) and a modality word. Charges
    with no comma (tool calls, storage) have no model and token type `other`.
    """
    if not line_item:
        return None, None
    if "," not in line_item:
        return None, "other"
    model_part, _, kind = line_item.rpartition(",")
    model = model_part.split("|")[-1].strip()
    for modality in (" text", " audio", " image"):
        if model.endswith(modality):
            model = model[: -len(modality)]
    return model or None, TOKEN_TYPES.get(kind.strip().lower(), "other")


def parse_costs_page(raw: bytes, source_file: str, ingested_at: datetime) -> ParsedPage:
    """One page of GET /v1/organization/costs → `billing_costs` rows (FOCUS-aligned)."""

    def build_row(bucket: dict[str, Any], result: dict[str, Any], where: str) -> dict[str, Any]:
        start, end = _bucket_times(bucket, where)
        amount = result.get("amount")
        if not isinstance(amount, dict):
            raise KeyError(f"{where}.results.amount: required object with value and currency")
        cost = parse_amount(amount.get("value"), field=f"{where}.results.amount.value")
        model, token_type = split_line_item(result.get("line_item"))
        quantity = result.get("quantity")
        return {
            "charge_period_start": start,
            "charge_period_end": end,
            "usage_date": start.date(),
            "provider": PROVIDER,
            "billed_cost": cost,
            "billing_currency": str(amount.get("currency") or "usd").upper(),
            "model": model,
            "token_type": token_type,
            "api_key_id": result.get("api_key_id"),
            "project_id": result.get("project_id"),
            "workspace_id": None,
            "line_item": result.get("line_item"),
            "quantity": float(quantity) if isinstance(quantity, int | float) else None,
            "quantity_unit": result.get("quantity_unit"),
            "source_file": source_file,
            "ingested_at": ingested_at,
        }

    return _parse_results(raw, source_file, BILLING_COSTS, build_row)
