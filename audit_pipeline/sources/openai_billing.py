"""OpenAI organization Usage API (completions) and Costs API pages → billing rows.

Units (docs/reference/billing-formats.md §1): times are Unix seconds UTC, bucket ends exclusive;
`input_tokens` includes cached and cache-write tokens, so uncached input is
`input_uncached_tokens` when present, else `input_tokens - input_cached_tokens -
input_cache_write_tokens`; cost amounts are dollars, often long-precision strings.
Fields added in 2026 may be absent in older pages: absent means unknown (null), not zero.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from typing import Any

from audit_pipeline.schemas import BILLING_COSTS, BILLING_USAGE
from audit_pipeline.sources.money import parse_amount, utc_from_unix_seconds
from audit_pipeline.sources.pages import ParsedPage, parse_results, token_count
from audit_pipeline.sources.pull import AdminApi, Endpoint

PROVIDER = "openai"

TOKEN_TYPES = {
    "input": "uncached_input",
    "cached input": "cache_read",
    "cache write": "cache_write",
    "cached write": "cache_write",
    "output": "output",
    "reasoning": "reasoning",
}
"""Costs line-item suffix (after the last comma) → normalised token type."""

_GROUP_KEYS = {"object", "project_id", "user_id", "api_key_id", "model", "batch", "service_tier"}
USAGE_FIELDS = frozenset(_GROUP_KEYS | {
    "input_tokens", "input_cached_tokens", "input_cache_write_tokens", "input_uncached_tokens",
    "output_tokens", "input_text_tokens", "output_text_tokens", "input_cached_text_tokens",
    "input_audio_tokens", "input_cached_audio_tokens", "output_audio_tokens", "input_image_tokens",
    "input_cached_image_tokens", "output_image_tokens", "num_model_requests",
})
COST_FIELDS = frozenset({
    "object", "amount", "line_item", "project_id", "api_key_id", "quantity", "quantity_unit",
    "organization_id", "organization_name", "project_name", "user_id", "user_email",
})
"""Fields documented (or seen live) in each result; any other field is counted, not failed."""


def _bucket_times(bucket: dict[str, Any], where: str) -> tuple[datetime, datetime]:
    start = utc_from_unix_seconds(bucket.get("start_time"), field=f"{where}.start_time")
    end = utc_from_unix_seconds(bucket.get("end_time"), field=f"{where}.end_time")
    return start, end


def bucket_day(bucket: dict[str, Any]) -> date | None:
    start = bucket.get("start_time")
    return datetime.fromtimestamp(start, tz=UTC).date() if isinstance(start, int) else None


def parse_usage_page(raw: bytes, source_file: str, ingested_at: datetime) -> ParsedPage:
    """One page of GET /v1/organization/usage/completions → `billing_usage` rows."""

    def build_row(bucket: dict[str, Any], result: dict[str, Any], where: str) -> dict[str, Any]:
        start, end = _bucket_times(bucket, where)
        fields = f"{where}.results"
        total_in = token_count(result, "input_tokens", fields)
        cached = token_count(result, "input_cached_tokens", fields)
        cache_write = token_count(result, "input_cache_write_tokens", fields)
        uncached = token_count(result, "input_uncached_tokens", fields)
        output = token_count(result, "output_tokens", fields)
        requests = token_count(result, "num_model_requests", fields)
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
            "batch": result.get("batch") if isinstance(result.get("batch"), bool) else None,
            "user_id": result.get("user_id"),
            "uncached_input_tokens": uncached,
            "cache_read_tokens": cached,
            "cache_write_tokens": cache_write,
            "output_tokens": output,
            "requests": requests,
            "source_file": source_file,
            "ingested_at": ingested_at,
        }

    return parse_results(raw, source_file, BILLING_USAGE, build_row, bucket_day, USAGE_FIELDS)


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

    return parse_results(raw, source_file, BILLING_COSTS, build_row, bucket_day, COST_FIELDS)


ADMIN_API = AdminApi("openai", "https://api.openai.com/v1", key_variable="OPENAI_ADMIN_KEY",
                     base_url_variable="AUDIT_OPENAI_API_BASE",
                     headers=lambda key: {"Authorization": f"Bearer {key}"})


def _params(group_by: tuple[str, ...]):
    """Daily buckets of the days [first, last]: Unix seconds, end exclusive, grouped."""
    def params(first: date, last: date) -> list[tuple[str, str]]:
        start = datetime.combine(first, clock(0), tzinfo=UTC)
        end = datetime.combine(last + timedelta(days=1), clock(0), tzinfo=UTC)
        return [("start_time", str(int(start.timestamp()))), ("end_time", str(int(end.timestamp()))),
                ("bucket_width", "1d"), ("limit", "31"), *(("group_by", g) for g in group_by)]
    return params


USAGE_ENDPOINT = Endpoint(ADMIN_API, "/organization/usage/completions", _params(("project_id", "api_key_id", "model")))
COSTS_ENDPOINT = Endpoint(ADMIN_API, "/organization/costs", _params(("line_item", "project_id", "api_key_id")))
