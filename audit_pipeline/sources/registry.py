"""Every source the pipeline reads, in one place: a new source is one module plus one entry.

A source declares its name, where its files land (prefix, suffixes), its parser, how a file's
day is found, an optional admin-API endpoint it is pulled from, the sample writer that makes
it for the demo, and the folder prefix of its cases in the bad-input corpus. Settings, pull
mode, the ingest loaders, the `landing_files` sensor, the sample generator and the tests
iterate over `SOURCES`, read when they run (never copied at import), so an entry added here
is picked up everywhere.

Sources come in three kinds, each with its own loader: line files (one record per line or
span), paginated admin-API pages, and billing export files (CUR, FOCUS).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from audit_pipeline.sample.billing_files import (
    SampleBilling,
    write_anthropic_cost,
    write_anthropic_usage,
    write_aws_cur,
    write_focus,
    write_openai_costs,
    write_openai_usage,
)
from audit_pipeline.sample.log_files import write_jsonl, write_otlp
from audit_pipeline.sources import anthropic_billing, openai_billing
from audit_pipeline.sources.app_logs import APP_LOG_FORMAT
from audit_pipeline.sources.aws_cur import CUR_FORMAT
from audit_pipeline.sources.export_files import ExportFormat
from audit_pipeline.sources.focus import FOCUS_FORMAT
from audit_pipeline.sources.lines import LineFormat
from audit_pipeline.sources.otlp import OTLP_FORMAT
from audit_pipeline.sources.pages import ParsedPage
from audit_pipeline.sources.pull import AdminApi, Endpoint

BillingSample = Callable[[Path, SampleBilling], None]
"""Writes a source's files for the sample landing zone from the sample's billed rows."""


@dataclass(frozen=True)
class LineSource:
    """Files of records, filed by UTC day in their path (`…/YYYY-MM-DD/…`)."""

    name: str
    prefix: str
    suffixes: tuple[str, ...]
    line_format: LineFormat
    fixtures: str
    """The prefix of this source's cases in tests/fixtures/bad_inputs/."""
    sample: Callable[..., Path]
    """Writes one system's day: (DuckDB connection, landing, system, day, log format) → file."""
    sample_formats: tuple[str, ...]
    """The sample systems' `log_format`s this source's writer makes."""
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
    bucket_day: Callable[[dict[str, Any]], date | None]
    """The UTC day of one of the page's buckets (None: unreadable); the sensor dates pages by it."""
    fixtures: str
    pull: Endpoint | None = None
    """The admin-API endpoint the pages are pulled from, when its key is configured."""
    sample: BillingSample | None = None
    suffixes: tuple[str, ...] = (".json",)
    grouped_dimensions: Callable[[bytes, str], frozenset[str]] | None = None
    """Where nulls mean something only in a grouped pull (Anthropic's Console key): the
    dimensions one page shows; the loader unites them over the pull's pages and passes them
    to `parse` as `pull_grouping`."""


@dataclass(frozen=True)
class ExportSource:
    """Billing export files giving both costs and usage rows, filed by billing period."""

    name: str
    prefix: str
    export: ExportFormat
    fixtures: str
    suffixes: tuple[str, ...] = ()
    """Data files found by listing; or, with `manifest_suffix`, only those a manifest lists."""
    manifest_suffix: str | None = None
    sample: BillingSample | None = None


Source = LineSource | PageSource | ExportSource

SOURCES: tuple[Source, ...] = (
    LineSource("app_logs", "logs", (".jsonl", ".jsonl.gz"), APP_LOG_FORMAT, fixtures="app",
               sample=write_jsonl, sample_formats=("jsonl", "jsonl.gz"), excluded_prefixes=("logs/otlp/",)),
    LineSource("otlp", "logs/otlp", (".jsonl", ".jsonl.gz", ".json", ".json.gz"), OTLP_FORMAT, fixtures="otlp",
               sample=write_otlp, sample_formats=("otlp",), whole_document_suffixes=(".json", ".json.gz")),
    PageSource("openai_usage", "billing/openai/usage", "billing_usage", openai_billing.parse_usage_page,
               openai_billing.bucket_day, fixtures="openai", pull=openai_billing.USAGE_ENDPOINT,
               sample=write_openai_usage),
    PageSource("openai_costs", "billing/openai/costs", "billing_costs", openai_billing.parse_costs_page,
               openai_billing.bucket_day, fixtures="openai", pull=openai_billing.COSTS_ENDPOINT,
               sample=write_openai_costs),
    PageSource("anthropic_usage", "billing/anthropic/usage", "billing_usage", anthropic_billing.parse_usage_page,
               anthropic_billing.bucket_day, fixtures="anthropic", pull=anthropic_billing.USAGE_ENDPOINT,
               sample=write_anthropic_usage, grouped_dimensions=anthropic_billing.grouped_dimensions),
    PageSource("anthropic_cost", "billing/anthropic/cost", "billing_costs", anthropic_billing.parse_cost_page,
               anthropic_billing.bucket_day, fixtures="anthropic", pull=anthropic_billing.COST_ENDPOINT,
               sample=write_anthropic_cost, grouped_dimensions=anthropic_billing.grouped_dimensions),
    ExportSource("aws_cur", "billing/aws_cur", CUR_FORMAT, fixtures="aws_cur", manifest_suffix="Manifest.json",
                 sample=write_aws_cur),
    ExportSource("focus", "billing/focus", FOCUS_FORMAT, fixtures="focus",
                 suffixes=(".csv", ".csv.gz", ".parquet", ".snappy.parquet"), sample=write_focus),
)


def line_sources() -> list[LineSource]:
    return [s for s in SOURCES if isinstance(s, LineSource)]


def page_sources() -> list[PageSource]:
    return [s for s in SOURCES if isinstance(s, PageSource)]


def export_sources() -> list[ExportSource]:
    return [s for s in SOURCES if isinstance(s, ExportSource)]


def billing_sources() -> list[PageSource | ExportSource]:
    return [s for s in SOURCES if not isinstance(s, LineSource)]


def admin_apis() -> list[AdminApi]:
    """Every admin API some source is pulled from, once each, in registry order."""
    return list({s.pull.api.provider: s.pull.api for s in page_sources() if s.pull is not None}.values())


def endpoints(api: AdminApi) -> list[tuple[Endpoint, str]]:
    """The API's endpoints, each with the landing prefix its pages are saved under."""
    return [(s.pull, s.prefix) for s in page_sources() if s.pull is not None and s.pull.api.provider == api.provider]


def source_of(path: str) -> Source | None:
    """The source a landing file belongs to, by its prefix (the longest prefix wins)."""
    matches = [s for s in SOURCES if path.startswith(s.prefix + "/")
               and not (isinstance(s, LineSource) and path.startswith(s.excluded_prefixes))]
    return max(matches, key=lambda s: len(s.prefix), default=None)
