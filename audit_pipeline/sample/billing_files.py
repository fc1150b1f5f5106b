"""Write the providers' billing exports for the sample, shaped exactly like the real ones.

Shapes and units follow reference/billing-formats.md: OpenAI usage and costs pages (Unix
seconds, dollars as long-precision strings, an unaligned first bucket, empty buckets),
Anthropic usage and cost reports (RFC 3339, cents as decimal strings, null default
workspace), an AWS Data Exports CUR 2.0 export for Bedrock (Manifest.json listing Parquet
data files under BILLING_PERIOD= folders), and an Azure FOCUS 1.0 CSV cost export.
"""

from __future__ import annotations

import base64
import csv
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from audit_pipeline.policy import TOKEN_TYPES
from audit_pipeline.pricing import load_prices
from audit_pipeline.sample.systems import AWS_ACCOUNT, BEDROCK_USAGE_TYPES

PAGE_BUCKETS = 7
"""Buckets per page: the APIs' default `limit` for daily buckets."""


@dataclass(frozen=True)
class PriceMismatch:
    """The provider bills this (day, model, token type) at `factor` × the catalog price."""

    day: date
    provider: str
    model: str
    token_type: str
    factor: Decimal


@dataclass(frozen=True)
class SampleBilling:
    """What every source's sample writer is handed: the sample's billed rows of all providers
    (one per day × provider × key × model, token counts per type), its days, the prices, and
    the anomalies injected into bills."""

    rows: list[dict]
    days: list[date]
    book: PriceBook
    mismatch: PriceMismatch | None = None
    """A (day, model, token type) the provider bills above the catalog price."""
    bad_currency_day: date | None = None
    """A day whose FOCUS rows carry a malformed currency."""

    def rows_of(self, provider: str) -> list[dict]:
        return [r for r in self.rows if r["provider"] == provider]


class PriceBook:
    def __init__(self) -> None:
        self._prices = {
            (r["provider"], r["model"], r["token_type"]): Decimal(r["usd_per_million"])
            for r in load_prices().to_pylist()
            if r["price_tier"] == "standard" and r["context_window"] is None and r["inference_geo"] is None
        }  # the sample's calls are standard-tier, short prompts

    def cost(self, provider: str, model: str, token_type: str, tokens: int) -> Decimal:
        price = self._prices.get((provider, model, token_type), Decimal(0))
        return price * tokens / Decimal(1_000_000)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _write_json(path: Path, document: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=1) + "\n")


def _paginate(buckets: list[dict], folder: Path) -> None:
    """Split buckets into pages as the API returns them, chained by `next_page` cursors."""
    pages = [buckets[i : i + PAGE_BUCKETS] for i in range(0, len(buckets), PAGE_BUCKETS)]
    for number, data in enumerate(pages, 1):
        has_more = number < len(pages)
        cursor = "page_" + base64.b64encode(f"{folder.name}:{number + 1}".encode()).decode()
        _write_json(folder / f"page-{number:03d}.json",
                    {"object": "page", "data": data, "has_more": has_more,
                     "next_page": cursor if has_more else None})


def _amount_string(value: Decimal) -> str:
    """Long-precision amount string, as the live OpenAI Costs API returns it."""
    return format(value, ".39f")


def _with_cost(rows: Iterable[dict], book: PriceBook, mismatch: PriceMismatch | None):
    for row in rows:
        for token_type in TOKEN_TYPES:
            tokens = row[token_type]
            if not tokens:
                continue
            cost = book.cost(row["provider"], row["model"], token_type, tokens)
            if mismatch and (row["day"], row["provider"], row["model"], token_type) == (
                mismatch.day, mismatch.provider, mismatch.model, mismatch.token_type
            ):
                cost *= mismatch.factor
            yield row, token_type, tokens, cost


def write_openai_usage(landing: Path, sample: SampleBilling) -> None:
    """Usage pages (completions, grouped by project, key, model) for all days."""
    _write_openai(landing, sample.rows_of("openai"), sample.days, sample.book, sample.mismatch, "usage")


def write_openai_costs(landing: Path, sample: SampleBilling) -> None:
    """Costs pages (grouped by line item, project, key) for all days."""
    _write_openai(landing, sample.rows_of("openai"), sample.days, sample.book, sample.mismatch, "costs")


def _write_openai(landing: Path, rows: list[dict], days: list[date], book: PriceBook,
                  mismatch: PriceMismatch | None, report: str) -> None:
    by_day = defaultdict(list)
    for row in rows:
        by_day[row["day"]].append(row)
    first = _midnight(days[0])
    # The first bucket starts at the requested, unaligned start_time and is empty.
    usage_buckets = [{"object": "bucket", "start_time": int((first - timedelta(hours=6, minutes=29)).timestamp()),
                      "end_time": int(first.timestamp()), "results": []}]
    cost_buckets = []
    for day in [*days, days[-1] + timedelta(days=1)]:  # the last bucket: today, still empty
        start, end = _midnight(day), _midnight(day + timedelta(days=1))
        usage_results = [
            {
                "object": "organization.usage.completions.result",
                "input_tokens": r["uncached_input"] + r["cache_read"] + r["cache_write"],
                "input_cached_tokens": r["cache_read"],
                "input_cache_write_tokens": r["cache_write"],
                "input_uncached_tokens": r["uncached_input"],
                "output_tokens": r["output"],
                "input_text_tokens": r["uncached_input"],
                "output_text_tokens": r["output"],
                "input_cached_text_tokens": r["cache_read"],
                "input_audio_tokens": 0, "input_cached_audio_tokens": 0, "output_audio_tokens": 0,
                "input_image_tokens": 0, "input_cached_image_tokens": 0, "output_image_tokens": 0,
                "num_model_requests": r["requests"],
                "project_id": r["project_id"], "user_id": None, "api_key_id": r["api_key_id"],
                "model": r["model"], "batch": None, "service_tier": None,
            }
            for r in by_day.get(day, [])
        ]
        labels = {"uncached_input": "input", "cache_read": "cached input",
                  "cache_write": "cache write", "output": "output"}
        cost_results = [
            {
                "object": "organization.costs.result",
                "amount": {"value": _amount_string(cost), "currency": "usd"},
                "line_item": f"{r['model']}, {labels[token_type]}",
                "project_id": r["project_id"], "api_key_id": r["api_key_id"],
                "quantity": float(tokens), "quantity_unit": "tokens",
                "organization_id": "org-Hp9mSGev2sVmtMeF2wrnSeOV", "project_name": "Default project",
            }
            for r, token_type, tokens, cost in _with_cost(by_day.get(day, []), book, mismatch)
        ]
        usage_buckets.append({"object": "bucket", "start_time": int(start.timestamp()),
                              "end_time": int(end.timestamp()), "results": usage_results})
        cost_buckets.append({"object": "bucket", "start_time": int(start.timestamp()),
                             "end_time": int(end.timestamp()), "results": cost_results})
    pull = f"pull-{days[-1] + timedelta(days=1):%Y%m%d}"
    buckets = usage_buckets if report == "usage" else cost_buckets
    _paginate(buckets, landing / "billing/openai" / report / pull)


def _anthropic_family(model: str) -> str:
    # "claude-sonnet-4-5-20250929" → "Claude Sonnet 4.5"
    parts = model.split("-")[1:-1]
    return "Claude " + parts[0].title() + " " + ".".join(parts[1:])


def write_anthropic_usage(landing: Path, sample: SampleBilling) -> None:
    """Messages usage report pages (grouped by key, workspace, model)."""
    _write_anthropic(landing, sample.rows_of("anthropic"), sample.days, sample.book, "usage")


def write_anthropic_cost(landing: Path, sample: SampleBilling) -> None:
    """Cost report pages (grouped by workspace and description)."""
    _write_anthropic(landing, sample.rows_of("anthropic"), sample.days, sample.book, "cost")


def _write_anthropic(landing: Path, rows: list[dict], days: list[date], book: PriceBook, report: str) -> None:
    by_day = defaultdict(list)
    for row in rows:
        by_day[row["day"]].append(row)
    usage_buckets, cost_buckets = [], []
    descriptions = {"uncached_input": ("Input Tokens", "uncached_input_tokens"),
                    "cache_read": ("Cache Read Input Tokens", "cache_read_input_tokens"),
                    "cache_write": ("5m Cache Write Input Tokens", "cache_creation.ephemeral_5m_input_tokens"),
                    "output": ("Output Tokens", "output_tokens")}
    for day in days:
        iso = lambda d: f"{d:%Y-%m-%d}T00:00:00Z"  # noqa: E731
        bounds = {"starting_at": iso(day), "ending_at": iso(day + timedelta(days=1))}
        usage_buckets.append({**bounds, "results": [
            {
                "account_id": None, "api_key_id": r["api_key_id"],
                "cache_creation": {"ephemeral_1h_input_tokens": 0, "ephemeral_5m_input_tokens": r["cache_write"]},
                "cache_read_input_tokens": r["cache_read"], "context_window": "0-200k",
                "inference_geo": None, "model": r["model"], "output_tokens": r["output"],
                "server_tool_use": {"web_search_requests": 0}, "service_account_id": None,
                "service_tier": "standard", "uncached_input_tokens": r["uncached_input"],
                "workspace_id": r["workspace_id"],
            }
            for r in by_day.get(day, [])
        ]})
        cost_buckets.append({**bounds, "results": [
            {
                "amount": str((cost * 100).normalize()), "context_window": "0-200k",
                "cost_type": "tokens", "currency": "USD",
                "description": f"{_anthropic_family(r['model'])} Usage - {descriptions[token_type][0]}",
                "inference_geo": None, "model": r["model"], "service_tier": "standard",
                "token_type": descriptions[token_type][1], "workspace_id": r["workspace_id"],
            }
            for r, token_type, _tokens, cost in _with_cost(by_day.get(day, []), book, None)
        ]})
    pull = f"pull-{days[-1] + timedelta(days=1):%Y%m%d}"
    _paginate(usage_buckets if report == "usage" else cost_buckets, landing / "billing/anthropic" / report / pull)


_TS = pa.timestamp("ms", tz="UTC")
CUR_SCHEMA = pa.schema([
    ("bill_billing_period_start_date", _TS), ("bill_billing_period_end_date", _TS),
    ("bill_payer_account_id", pa.string()), ("line_item_usage_account_id", pa.string()),
    ("line_item_line_item_type", pa.string()), ("line_item_product_code", pa.string()),
    ("line_item_usage_type", pa.string()), ("line_item_operation", pa.string()),
    ("line_item_usage_start_date", _TS), ("line_item_usage_end_date", _TS),
    ("identity_time_interval", pa.string()), ("line_item_usage_amount", pa.float64()),
    ("pricing_unit", pa.string()), ("line_item_unblended_cost", pa.float64()),
    ("line_item_currency_code", pa.string()), ("line_item_iam_principal", pa.string()),
    ("line_item_resource_id", pa.string()), ("product_region_code", pa.string()),
    ("resource_tags", pa.map_(pa.string(), pa.string())),
])
"""The CUR 2.0 columns the sample export selects (a subset of the full select list)."""

CUR_EXPORT = "bedrock-cur2"
CUR_BUCKET_URI = "s3://acme-billing/cur"


def write_aws_cur(landing: Path, sample: SampleBilling) -> None:
    """A CUR 2.0 export of the Bedrock rows (Manifest.json and Parquet)."""
    _write_aws_cur(landing, sample.rows_of("aws_bedrock"), sample.book)


def _write_aws_cur(landing: Path, rows: list[dict], book: PriceBook) -> None:
    """An AWS Data Exports CUR 2.0 export (daily granularity, Parquet, IAM principal data)."""
    suffix = {"uncached_input": "input-tokens", "output": "output-tokens",
              "cache_read": "cache-read-input-token-count",
              "cache_write": "cache-write-input-token-count"}
    by_period = defaultdict(list)
    for r, token_type, tokens, cost in _with_cost(rows, book, None):
        start = _midnight(r["day"])
        period = r["day"].replace(day=1)
        next_month = (period + timedelta(days=32)).replace(day=1)
        by_period[period].append({
            "bill_billing_period_start_date": _midnight(period),
            "bill_billing_period_end_date": _midnight(next_month),
            "bill_payer_account_id": AWS_ACCOUNT,
            "line_item_usage_account_id": AWS_ACCOUNT,
            "line_item_line_item_type": "Usage",
            "line_item_product_code": "AmazonBedrock",
            "line_item_usage_type": f"{BEDROCK_USAGE_TYPES[r['model']]}-{suffix[token_type]}",
            "line_item_operation": "InvokeModelInference",
            "line_item_usage_start_date": start,
            "line_item_usage_end_date": start + timedelta(days=1),
            "identity_time_interval": f"{start:%Y-%m-%dT%H:%M:%SZ}/{start + timedelta(days=1):%Y-%m-%dT%H:%M:%SZ}",
            "line_item_usage_amount": float(tokens),
            "pricing_unit": "tokens",
            "line_item_unblended_cost": float(cost),
            "line_item_currency_code": "USD",
            "line_item_iam_principal": r["api_key_id"],
            "line_item_resource_id": f"arn:aws:bedrock:us-east-1:{AWS_ACCOUNT}:application-inference-profile/docsum",
            "product_region_code": "us-east-1",
            "resource_tags": [("user_team", "docs"), ("user_ai_system", "doc-summarizer")],
        })
    root = landing / "billing/aws_cur" / CUR_EXPORT
    for period, period_rows in by_period.items():
        folder = f"BILLING_PERIOD={period:%Y-%m}"
        name = f"{CUR_EXPORT}-00001.snappy.parquet"
        table = pa.Table.from_pylist(period_rows, schema=CUR_SCHEMA)
        (root / "data" / folder).mkdir(parents=True, exist_ok=True)
        pq.write_table(table, root / "data" / folder / name, compression="snappy")
        _write_json(root / "metadata" / folder / f"{CUR_EXPORT}-Manifest.json", {
            "executionId": f"exec-{period:%Y%m}-0001",
            "exportArn": f"arn:aws:bcm-data-exports:us-east-1:{AWS_ACCOUNT}:export/{CUR_EXPORT}",
            "columns": [{"name": f.name, "type": str(f.type)} for f in table.schema],
            "dataFiles": [f"{CUR_BUCKET_URI}/{CUR_EXPORT}/data/{folder}/{name}"],
            "additionalOutputFiles": [],
            "billingPeriod": {"start": f"{period:%Y-%m-%d}", "end": f"{(period + timedelta(days=32)).replace(day=1):%Y-%m-%d}"},
        })


FOCUS_HEADER = (
    "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency", "BillingPeriodEnd",
    "BillingPeriodStart", "ChargeCategory", "ChargeDescription", "ChargeFrequency",
    "ChargePeriodEnd", "ChargePeriodStart", "ChargeType", "ConsumedQuantity", "ConsumedUnit",
    "EffectiveCost", "InvoiceIssuerName", "ListCost", "ProviderName", "PublisherName",
    "RegionId", "ResourceId", "ResourceName", "ServiceCategory", "ServiceName",
    "SubAccountId", "SubAccountName", "Tags", "x_SkuMeterName",
)
"""A FOCUS 1.0 cost export as Azure Cost Management writes it (subset of columns)."""


def write_focus(landing: Path, sample: SampleBilling) -> None:
    """A FOCUS export of the Azure OpenAI rows."""
    _write_focus(landing, sample.rows_of("azure_openai"), sample.book, sample.bad_currency_day)


def _write_focus(landing: Path, rows: list[dict], book: PriceBook, bad_currency_day: date | None = None) -> None:
    """An Azure OpenAI FOCUS 1.0 CSV export per billing period (one row per meter and day).

    On `bad_currency_day` the currency is written as `US$` (a hand-edited export): valid to
    the parser, caught by the billing_costs quality suite.
    """
    names = {"uncached_input": "Input Tokens", "cache_read": "Cached Input Tokens", "output": "Output Tokens"}
    by_period: dict[date, list[list[str]]] = defaultdict(list)
    for r, token_type, tokens, cost in _with_cost(rows, book, None):
        start = _midnight(r["day"])
        period = r["day"].replace(day=1)
        next_month = (period + timedelta(days=32)).replace(day=1)
        iso = "%Y-%m-%dT%H:%M:%SZ"
        by_period[period].append([
            format(cost, "f"), "8611537", "Acme Corp", "US$" if r["day"] == bad_currency_day else "USD",
            f"{_midnight(next_month):{iso}}",
            f"{_midnight(period):{iso}}", "Usage", f"{r['model']} {names[token_type]}", "Usage-Based",
            f"{start + timedelta(days=1):{iso}}", f"{start:{iso}}", "Usage", str(tokens), "Tokens",
            format(cost, "f"), "Microsoft", format(cost, "f"), "Microsoft", "Microsoft", "swedencentral",
            f"/subscriptions/{r['project_id']}/resourceGroups/ai/providers/Microsoft.CognitiveServices/accounts/{r['api_key_id']}",
            r["api_key_id"], "AI and Machine Learning", "Azure OpenAI Service", r["project_id"], "AI Prod",
            json.dumps({"app": "policy-chat"}), f"{r['model']} {names[token_type]}",
        ])
    for period, lines in by_period.items():
        folder = landing / "billing/focus/azure" / f"BILLING_PERIOD={period:%Y-%m}"
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / "part-00001.csv").open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(FOCUS_HEADER)
            writer.writerows(lines)
