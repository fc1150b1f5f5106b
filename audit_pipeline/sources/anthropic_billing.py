"""Anthropic Admin API usage_report/messages and cost_report pages → billing rows.

Units (docs/reference/billing-formats.md §2): bucket times are RFC 3339 UTC strings; the usage
report has no input total: uncached + cache read + cache creation (5 minute and 1 hour) are
separate; cost `amount` is a decimal string in **cents** (`"123.45"` = $1.2345).

Nulls carry meaning: in a pull grouped by `api_key_id`, a null key is usage from the
Console (Workbench, Playground), recorded as `(console)`; in a pull grouped by
`workspace_id`, a null workspace is the default workspace, recorded as
`(default workspace)`. A pull that is not grouped by the dimension leaves it null: unknown.
Whether a pull was grouped is decided over all its pages together (`grouped_dimensions`):
Console usage can fill a page of its own, whose nulls alone would look ungrouped.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from audit_pipeline.schemas import BILLING_COSTS, BILLING_USAGE
from audit_pipeline.sources.money import parse_amount, utc_from_rfc3339
from audit_pipeline.sources.pages import ParsedPage, load_page, parse_results, token_count
from audit_pipeline.sources.pull import AdminApi, Endpoint

PROVIDER = "anthropic"
CONSOLE_KEY = "(console)"
DEFAULT_WORKSPACE = "(default workspace)"

USAGE_FIELDS = frozenset({
    "uncached_input_tokens", "cache_read_input_tokens", "cache_creation", "output_tokens",
    "server_tool_use", "model", "workspace_id", "api_key_id", "account_id",
    "service_account_id", "service_tier", "context_window", "inference_geo", "speed",
})
COST_FIELDS = frozenset({
    "amount", "currency", "workspace_id", "description", "cost_type", "model", "token_type",
    "service_tier", "context_window", "inference_geo", "speed",
})
TOKEN_TYPES = {
    "uncached_input_tokens": "uncached_input",
    "cache_read_input_tokens": "cache_read",
    "cache_creation.ephemeral_5m_input_tokens": "cache_write",
    "cache_creation.ephemeral_1h_input_tokens": "cache_write",
    "output_tokens": "output",
}
CHARGE_TYPES = {"web_search": "web_search", "code_execution": "code_execution", "session_usage": "session_usage"}
"""Cost report `cost_type` of charges that are not tokens: each is a charge type of its own."""


def bucket_day(bucket: dict[str, Any]) -> date | None:
    try:
        return utc_from_rfc3339(bucket.get("starting_at"), field="starting_at").date()
    except ValueError:
        return None


def _bounds(bucket: dict[str, Any], where: str) -> tuple[datetime, datetime]:
    return (utc_from_rfc3339(bucket.get("starting_at"), field=f"{where}.starting_at"),
            utc_from_rfc3339(bucket.get("ending_at"), field=f"{where}.ending_at"))


GROUPING_DIMENSIONS = ("api_key_id", "workspace_id")


def grouped_dimensions(raw: bytes, source_file: str) -> frozenset[str]:
    """The dimensions this page shows its pull was grouped by: those any result carries a
    value for. The loader unites them over every page of a pull."""
    page = load_page(raw, source_file)
    results = [r for b in page["data"] if isinstance(b, dict) for r in b.get("results") or [] if isinstance(r, dict)]
    return frozenset(d for d in GROUPING_DIMENSIONS if any(r.get(d) is not None for r in results))


def _attribution(value: str | None, grouped: bool, null_means: str) -> str | None:
    return value if value is not None else (null_means if grouped else None)


def parse_usage_page(raw: bytes, source_file: str, ingested_at: datetime,
                     pull_grouping: frozenset[str] | None = None) -> ParsedPage:
    """One page of GET /v1/organizations/usage_report/messages → `billing_usage` rows;
    `pull_grouping` is what its whole pull was grouped by (else this page alone decides)."""
    grouping = grouped_dimensions(raw, source_file) if pull_grouping is None else pull_grouping
    by_key, by_workspace = "api_key_id" in grouping, "workspace_id" in grouping

    def build_row(bucket: dict[str, Any], result: dict[str, Any], where: str) -> dict[str, Any]:
        start, end = _bounds(bucket, where)
        fields = f"{where}.results"
        creation = result.get("cache_creation") or {}
        if not isinstance(creation, dict):
            raise ValueError(f"{fields}.cache_creation: expected an object, got {creation!r}")
        tools = result.get("server_tool_use") or {}
        if not isinstance(tools, dict):
            raise ValueError(f"{fields}.server_tool_use: expected an object, got {tools!r}")
        write_5m = token_count(creation, "ephemeral_5m_input_tokens", f"{fields}.cache_creation")
        write_1h = token_count(creation, "ephemeral_1h_input_tokens", f"{fields}.cache_creation")
        uncached = token_count(result, "uncached_input_tokens", fields)
        output = token_count(result, "output_tokens", fields)
        if uncached is None or output is None:
            raise KeyError(f"{fields}: uncached_input_tokens and output_tokens are required")
        both_unknown = write_5m is None and write_1h is None
        return {
            "usage_date": start.date(), "bucket_start": start, "bucket_end": end,
            "provider": PROVIDER,
            "api_key_id": _attribution(result.get("api_key_id"), by_key, CONSOLE_KEY),
            "project_id": None,
            "workspace_id": _attribution(result.get("workspace_id"), by_workspace, DEFAULT_WORKSPACE),
            "model": result.get("model"),
            "service_tier": result.get("service_tier"),
            "batch": None if result.get("service_tier") is None else result.get("service_tier") == "batch",
            "context_window": result.get("context_window"),
            "inference_geo": result.get("inference_geo"),
            "user_id": result.get("account_id"),
            "web_search_requests": token_count(tools, "web_search_requests", f"{fields}.server_tool_use"),
            "uncached_input_tokens": uncached,
            "cache_read_tokens": token_count(result, "cache_read_input_tokens", fields),
            "cache_write_tokens": None if both_unknown else (write_5m or 0) + (write_1h or 0),
            "cache_write_1h_tokens": write_1h,
            "output_tokens": output,
            "requests": None,  # the usage report counts tokens, not requests
            "tags": None,
            "source_file": source_file,
            "ingested_at": ingested_at,
        }

    return parse_results(raw, source_file, BILLING_USAGE, build_row, bucket_day, USAGE_FIELDS)


def parse_cost_page(raw: bytes, source_file: str, ingested_at: datetime,
                    pull_grouping: frozenset[str] | None = None) -> ParsedPage:
    """One page of GET /v1/organizations/cost_report → `billing_costs` rows (dollars)."""
    grouping = grouped_dimensions(raw, source_file) if pull_grouping is None else pull_grouping
    by_workspace = "workspace_id" in grouping

    def build_row(bucket: dict[str, Any], result: dict[str, Any], where: str) -> dict[str, Any]:
        start, end = _bounds(bucket, where)
        if "amount" not in result:
            raise KeyError(f"{where}.results.amount: required (cents as a decimal string)")
        dollars = parse_amount(result["amount"], field=f"{where}.results.amount", per_unit=100)
        token_type, cost_type = result.get("token_type"), result.get("cost_type")
        return {
            "charge_period_start": start, "charge_period_end": end, "usage_date": start.date(),
            "provider": PROVIDER,
            "billed_cost": dollars,
            "billing_currency": str(result.get("currency") or "USD").upper(),
            "model": result.get("model"),
            "token_type": TOKEN_TYPES.get(token_type) or CHARGE_TYPES.get(cost_type)
            or ("other" if token_type or cost_type else None),
            "api_key_id": None,  # the cost report has no key dimension
            "project_id": None,
            "workspace_id": _attribution(result.get("workspace_id"), by_workspace, DEFAULT_WORKSPACE),
            "service_tier": result.get("service_tier"),
            "context_window": result.get("context_window"),
            "inference_geo": result.get("inference_geo"),
            "line_item": result.get("description"),
            "quantity": None,
            "quantity_unit": None,
            "tags": None,
            "source_file": source_file,
            "ingested_at": ingested_at,
        }

    return parse_results(raw, source_file, BILLING_COSTS, build_row, bucket_day, COST_FIELDS)


ADMIN_API = AdminApi("anthropic", "https://api.anthropic.com/v1", key_variable="ANTHROPIC_ADMIN_KEY",
                     base_url_variable="AUDIT_ANTHROPIC_API_BASE",
                     headers=lambda key: {"x-api-key": key, "anthropic-version": "2023-06-01"})


def _params(group_by: tuple[str, ...], bucketed: bool):
    """The days [first, last] as RFC 3339 bounds (end exclusive), array parameters bracketed."""
    def params(first: date, last: date) -> list[tuple[str, str]]:
        bounds = [("starting_at", f"{first:%Y-%m-%d}T00:00:00Z"),
                  ("ending_at", f"{last + timedelta(days=1):%Y-%m-%d}T00:00:00Z"), ("limit", "31")]
        width = [("bucket_width", "1d")] if bucketed else []
        return [*bounds, *width, *(("group_by[]", g) for g in group_by)]
    return params


USAGE_ENDPOINT = Endpoint(ADMIN_API, "/organizations/usage_report/messages",
                          _params(("api_key_id", "workspace_id", "model"), bucketed=True))
COST_ENDPOINT = Endpoint(ADMIN_API, "/organizations/cost_report", _params(("workspace_id", "description"), bucketed=False))
