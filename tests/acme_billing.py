"""A throwaway billing provider, "Acme", declared the way any new page provider is: its admin
API, a report endpoint, a parser, the day of a bucket, a sample writer, and one registry entry
(`SOURCE`). `tests/test_registry.py` adds the entry and nothing else, and the provider is
listed, pulled, ingested, sensed and reconciled.

Acme's usage report: `GET /v2/usage?from=YYYY-MM-DD&to=YYYY-MM-DD` with header `X-Acme-Key`,
pages `{"data": [{"date": "2026-11-18", "results": [{"key_id", "model", "tokens_in",
"tokens_out", "calls"}]}], "has_more", "next_page"}`.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from audit_pipeline.sample.billing_files import SampleBilling
from audit_pipeline.schemas import BILLING_USAGE
from audit_pipeline.sources.pages import ParsedPage, parse_results, token_count
from audit_pipeline.sources.pull import AdminApi, Endpoint
from audit_pipeline.sources.registry import PageSource

PROVIDER = "acme"
FIELDS = frozenset({"key_id", "model", "tokens_in", "tokens_out", "calls"})

API = AdminApi(PROVIDER, "https://api.acme.example/v2", key_variable="ACME_ADMIN_KEY",
               base_url_variable="AUDIT_ACME_API_BASE", headers=lambda key: {"X-Acme-Key": key})
USAGE = Endpoint(API, "/usage", lambda first, last: [("from", first.isoformat()), ("to", last.isoformat())])


def bucket_day(bucket: dict[str, Any]) -> date | None:
    try:
        return date.fromisoformat(str(bucket.get("date")))
    except ValueError:
        return None


def parse_usage_page(raw: bytes, source_file: str, ingested_at: datetime) -> ParsedPage:
    def build_row(bucket: dict[str, Any], result: dict[str, Any], where: str) -> dict[str, Any]:
        day = bucket_day(bucket)
        if day is None:
            raise ValueError(f"{where}.date: expected YYYY-MM-DD, got {bucket.get('date')!r}")
        start = datetime.combine(day, time(0), tzinfo=UTC)
        fields = f"{where}.results"
        return {"usage_date": day, "bucket_start": start, "bucket_end": start + timedelta(days=1),
                "provider": PROVIDER, "api_key_id": result["key_id"],
                "model": result["model"], "uncached_input_tokens": token_count(result, "tokens_in", fields),
                "cache_read_tokens": 0, "cache_write_tokens": 0,
                "output_tokens": token_count(result, "tokens_out", fields),
                "requests": token_count(result, "calls", fields), "source_file": source_file,
                "ingested_at": ingested_at}

    return parse_results(raw, source_file, BILLING_USAGE, build_row, bucket_day, FIELDS)


def write_sample(landing: Path, sample: SampleBilling) -> None:
    """Acme's sample page: its rows of the sample's bills (the standard sample has none)."""
    rows = sample.rows_of(PROVIDER)
    if rows:
        data = [{"date": r["day"].isoformat(), "results": [
            {"key_id": r["api_key_id"], "model": r["model"], "tokens_in": r["uncached_input"],
             "tokens_out": r["output"], "calls": r["requests"]}]} for r in rows]
        path = landing / "billing/acme/usage/pull-sample/page-001.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"data": data, "has_more": False, "next_page": None}))


SOURCE = PageSource("acme_usage", "billing/acme/usage", "billing_usage", parse_usage_page, bucket_day,
                    fixtures="acme", pull=USAGE, sample=write_sample)
"""The registry entry."""
