"""Every source the pipeline reads, in one place: a new source is one module plus one entry.

Sources come in three kinds, each with its own loader: line files (one record per line
or span), paginated admin-API pages, and billing export files (CUR, FOCUS).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from audit_pipeline.sources import anthropic_billing, openai_billing
from audit_pipeline.sources.app_logs import APP_LOG_FORMAT
from audit_pipeline.sources.aws_cur import CUR_FORMAT
from audit_pipeline.sources.export_files import ExportFormat
from audit_pipeline.sources.focus import FOCUS_FORMAT
from audit_pipeline.sources.lines import LineFormat
from audit_pipeline.sources.otlp import OTLP_FORMAT
from audit_pipeline.sources.pages import ParsedPage


@dataclass(frozen=True)
class LineSource:
    """Files of records, filed by UTC day in their path (`…/YYYY-MM-DD/…`)."""

    name: str
    prefix: str
    suffixes: tuple[str, ...]
    line_format: LineFormat
    excluded_prefixes: tuple[str, ...] = ()
    whole_document_suffixes: tuple[str, ...] = ()
    """Files that hold one (possibly pretty-printed) JSON document rather than lines."""


@dataclass(frozen=True)
class PageSource:
    """Pages of a provider's admin API, saved as returned, one folder per pull."""

    name: str
    prefix: str
    table: str
    parse: Callable[[bytes, str, datetime], ParsedPage]


@dataclass(frozen=True)
class ExportSource:
    """Billing export files giving both costs and usage rows."""

    name: str
    prefix: str
    export: ExportFormat
    suffixes: tuple[str, ...] = ()
    """Data files found by listing; or, with `manifest_suffix`, only those a manifest lists."""
    manifest_suffix: str | None = None


LINE_SOURCES = (
    LineSource("app_logs", "logs", (".jsonl", ".jsonl.gz"), APP_LOG_FORMAT,
               excluded_prefixes=("logs/otlp/",)),
    LineSource("otlp", "logs/otlp", (".jsonl", ".jsonl.gz", ".json", ".json.gz"), OTLP_FORMAT,
               whole_document_suffixes=(".json", ".json.gz")),
)

PAGE_SOURCES = (
    PageSource("openai_usage", "billing/openai/usage", "billing_usage", openai_billing.parse_usage_page),
    PageSource("openai_costs", "billing/openai/costs", "billing_costs", openai_billing.parse_costs_page),
    PageSource("anthropic_usage", "billing/anthropic/usage", "billing_usage",
               anthropic_billing.parse_usage_page),
    PageSource("anthropic_cost", "billing/anthropic/cost", "billing_costs",
               anthropic_billing.parse_cost_page),
)

EXPORT_SOURCES = (
    ExportSource("aws_cur", "billing/aws_cur", CUR_FORMAT, manifest_suffix="Manifest.json"),
    ExportSource("focus", "billing/focus", FOCUS_FORMAT,
                 suffixes=(".csv", ".csv.gz", ".parquet", ".snappy.parquet")),
)
