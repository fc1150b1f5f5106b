"""Every Delta table, declared once: its columns (with their meanings, in `schemas.py`), what a
row is, its partition column, how an auditor export holds it (period, row order, free text
exported only as a hash) and its Great Expectations suite.

Everything that describes a table is made from these declarations: docs/tables.md
(`python -m audit_pipeline.tables`; a test fails when the file is stale), the export's
contents and data dictionary, and the `dagster/column_schema` of every table asset.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import pyarrow as pa

from audit_pipeline import schemas
from audit_pipeline.quality.suites import SUITES, Suite
from audit_pipeline.schemas import PARTITION_COLUMNS, meaning


@dataclass(frozen=True)
class ExportRule:
    """How an auditor export holds the table."""

    order_by: tuple[str, ...]
    """A total order for the rows (key columns; `ALL` where the table has no key)."""
    period_column: str | None = None
    """SQL for the UTC day a row belongs to; None: the whole table is exported (reference
    tables: the prompt history as it stood)."""
    by_day: bool = False
    """Read and sort one day at a time (tables of millions of rows a day), so memory is
    bounded by the largest day rather than by the period."""
    whole_table_rows: str | None = None
    """SQL selecting rows that belong to every period (whole-table suite results)."""


@dataclass(frozen=True)
class TableSpec:
    name: str
    schema: pa.Schema
    """Every column with its meaning and source in field metadata."""
    summary: str
    """What one row is, and where it comes from (Markdown)."""
    kind: str
    """`daily` (partitioned by day), `reference` (replaced whole), `log` or `ledger`."""
    export: ExportRule | None = None
    free_text: tuple[str, ...] = ()
    """Columns typed by people or copied from inputs: exported only as `<column>_sha256`."""
    notes: str = ""
    """More Markdown after the column list (codes, rules)."""

    @property
    def partition_column(self) -> str | None:
        return PARTITION_COLUMNS.get(self.name, [None])[0]

    @property
    def suite(self) -> Suite | None:
        return SUITES.get(self.name)


def _days(column: str) -> ExportRule:
    return ExportRule(("ALL",), column)


TABLE_SPECS: tuple[TableSpec, ...] = (
    TableSpec(
        "output_lineage", schemas.OUTPUT_LINEAGE, kind="daily",
        summary="Every logged output tied to the prompt version that produced it (with the evidence that "
        "matched), the version's author, approver and owners, the model snapshot, and its cost from the "
        "dated price catalog. Built from `llm_calls`, `prompt_versions`, `prompt_commits` and "
        "`price_catalog`; a day is rebuilt when any of them or the lineage code changed (`build_log`).",
        export=ExportRule(("event_id",), "event_date", by_day=True),
    ),
    TableSpec(
        "llm_calls", schemas.LLM_CALLS, kind="daily",
        summary="One row per LLM call: from application logs `logs/**.jsonl[.gz]` (docs/contract.md's log "
        "record) and from OTLP/JSON spans under `logs/otlp/` (event_id `<traceId>-<spanId>` unless the span "
        "carries `audit.event_id`; ai_system = `service.name`). `input_tokens` counts all input tokens, "
        "cached ones included (OpenTelemetry GenAI convention). An event id is unique per day: later copies "
        "are `duplicate`s in `quarantine`.",
        export=ExportRule(("event_id",), "event_date", by_day=True),
    ),
    TableSpec(
        "prompt_versions", schemas.PROMPT_VERSIONS, kind="reference",
        summary="Every (prompt file, commit) where a prompt was added, changed, renamed or deleted, with its "
        "content hash, validity interval and CODEOWNERS owners. Kept as technical documentation (ten years, "
        "AI Act Art. 18). Replaced whole, and only when the history changed.",
        export=ExportRule(("prompt_id", "committed_at", "version", "path")),
    ),
    TableSpec(
        "prompt_commits", schemas.PROMPT_COMMITS, kind="reference",
        summary="Every commit of the prompt repository: author, time, message and the `Approved-by:` "
        "trailer (the review evidence).",
        export=ExportRule(("committed_at", "commit_sha")), free_text=("message",),
    ),
    TableSpec(
        "billing_usage", schemas.BILLING_USAGE, kind="daily",
        summary="Billed tokens per bucket × provider × key × project/workspace × model, normalised to "
        "uncached input, cache read, cache write and output (docs/reference/billing-formats.md). Null "
        "attribution means the provider did not report it. Anthropic: `(console)` = Console usage (no key), "
        "`(default workspace)` = the default workspace. AWS: api_key_id = IAM principal, project_id = usage "
        "account. FOCUS: project_id = SubAccountId. Providers restate recent days: the latest pull of a day "
        "wins, older pulls count as duplicates.",
        export=_days("usage_date"), free_text=("tags",),
    ),
    TableSpec(
        "billing_costs", schemas.BILLING_COSTS, kind="daily",
        summary="Billed cost per day and line item in exact decimal currency units, FOCUS-aligned "
        "(OpenAI costs, Anthropic cost report, AWS CUR, FOCUS). `line_item` is the OpenAI line item, the "
        "Anthropic description, the CUR usage type, or the FOCUS SkuMeter or ChargeDescription.",
        export=_days("usage_date"), free_text=("tags",),
    ),
    TableSpec(
        "spend_reconciliation", schemas.SPEND_RECONCILIATION, kind="daily",
        summary="Billed against logged per day × provider × account × model × price grain × token type. Logs "
        "naming only an alias count under the snapshot that served that alias on the same account and day. "
        "The price grain (service tier, prompt-length band, inference geography) is compared where the day's "
        "usage bill, its token cost lines and its logs all carry it, and is null (all together) elsewhere: "
        "OpenAI's cost lines do not name the tier, so OpenAI tiers compare together; a call that does not log "
        "its tier counts as standard; the band of a call comes from its input tokens "
        "(`audit_pipeline/reference/context_bands.csv`). `computed_cost` prices each call group at its own "
        "tier, band and geography before summing, so it is right at either grain. Web searches are rows of "
        "unit `requests`, compared with the logs' `web_search_requests` where the day's logs count them. "
        "Status: `billed_not_logged` (tokens billed, none logged, or billed above logged beyond "
        "`token_tolerance_pct`), `logged_not_billed` (the reverse), `cost_mismatch` (tokens agree, cost "
        "differs beyond both `cost_tolerance_pct` and `cost_tolerance_usd`), `match`, `within_tolerance`, "
        "`unreconciled_charge` (a charge the logs carry no count for: code execution, storage, searches "
        "the logs do not count).",
        export=_days("usage_date"),
    ),
    TableSpec(
        "security_findings", schemas.SECURITY_FINDINGS, kind="daily",
        summary="What a leaked key or scripted abuse leaves in the bills, one row per finding and day: "
        "`unknown_key_spend` (high), `model_not_requested` (high), `spend_without_logs` (medium), "
        "`cost_drift` (medium), `spend_spike` (high above 5× the baseline, else medium), `off_hours_shift` "
        "(medium), `tokens_per_request_shift` (medium); rules in `audit_pipeline/spend/findings.py`. An "
        "acknowledged finding (`acknowledged_findings:` in audit.yaml) stays, marked.",
        export=ExportRule(("usage_date", "finding_id"), "usage_date"), free_text=("acknowledgement",),
    ),
    TableSpec(
        "retention_report", schemas.RETENTION_REPORT, kind="daily",
        summary="One row per AI system in `audit.yaml` and report date: the scalar columns are the headline "
        "figures, the list columns the sections (numbers refer to docs/reference/eu-ai-act-logging.md §7). "
        "The tables are read as of `as_of` (each at its Delta version then); the table keeps one scheduled "
        "and one requested (`audit-pipeline report --as-of`) report per system and date. A run whose inputs "
        "and code did not change keeps the stored rows (`build_log`), so a quiet nightly run adds no version.",
        export=ExportRule(("report_date", "ai_system", "as_of", "generated_at", "run_id"), "report_date"),
        notes="Exception rules (§7.12): `floor_not_intact`, `overdue_deletions`, `prompt_version_not_in_history`, "
        "`model_not_in_inventory`, `model_used_after_retirement` (RED); `coverage_below_target`, "
        "`traceability_below_target`, `model_retiring_soon`, `prompt_self_approved`, `prompt_unapproved` "
        "(AMBER). Model inventory flags (§7.7): `not_in_catalog`, `used_after_retirement` (RED), "
        "`retiring_soon` (AMBER), `deprecated`, `alias_only`.",
    ),
    TableSpec(
        "erasure_log", schemas.ERASURE_LOG, kind="ledger",
        summary="Every deletion and vacuum by `retention_enforcement`, or what a dry run would have done. "
        "Append-only: history is never rewritten.",
        export=_days("CAST(deleted_at AS DATE)"),
    ),
    TableSpec(
        "dq_results", schemas.DQ_RESULTS, kind="log",
        summary="One row per (table, partition, expectation) of a table's Great Expectations suite. "
        "`partition` is the UTC day, or `all` for the reference tables. A partition whose build fingerprint "
        "is unchanged is not validated again: its recorded results stand and are reported (the check's "
        "metadata says `reused_recorded_results`); a run validates and replaces only stale partitions. The "
        "suites are code: `audit_pipeline/quality/suites.py`.",
        export=ExportRule(("ALL",), '"partition"', whole_table_rows="\"partition\" = 'all'"),
        free_text=("unexpected_examples",),
    ),
    TableSpec(
        "ingest_log", schemas.INGEST_LOG, kind="log",
        summary="One row per (source, file, day): the proof that nothing was lost. Rows counted are the "
        "source's records for that day (for CUR and FOCUS: the in-scope line items). The blocking "
        "`rows_add_up` check on each ingest asset fails when a (file, day) row does not add up, and, for "
        "`llm_calls`, when a day's table rows differ from the `rows_accepted` recorded for it.",
        notes="A file that cannot be read at all (corrupt or truncated gzip, a zero-byte or truncated Parquet "
        "file, a page that is not JSON, a line over 16 MB) is not quarantined row by row: it is one row "
        "with `status = failed` and the reason, it contributes no rows (re-delivering it loads it whole), "
        "and the other files load.",
    ),
    TableSpec(
        "quarantine", schemas.QUARANTINE, kind="log",
        summary="Every rejected record with its place and reason. An export row whose start time cannot be "
        "read has no day: it is quarantined under `undated`, and every run that reads the file reports it "
        "again. The bad-input corpus in `tests/fixtures/bad_inputs/` has a case for each code.",
        notes="""Error codes (the first failing rule of a row wins):

| code | sources | meaning |
|---|---|---|
| `line_too_long` | app logs | a line over 1 MiB: a call record holds ids and counts, never prompt text |
| `encoding` | app logs, OTLP | the line is not valid UTF-8 |
| `json_invalid` | app logs, OTLP | not a JSON object: truncated, garbage, an array, a raw control character |
| `missing_required` | all | a required field is absent or empty (detail names it) |
| `unknown_provider` | app logs, OTLP | the provider is not one `providers.py` knows (aliases such as `aws.bedrock` are mapped) |
| `bad_timestamp` | all | not RFC 3339 with a zone (logs), not an integer (OTLP), not a time (exports) |
| `bad_type` | all | a count that is not an integer (fractions, words, NaN), a latency or amount that is not a finite number |
| `negative_tokens` | all | a token count below zero |
| `future_timestamp` | app logs, OTLP | stamped more than 5 minutes after the load ran (a skewed clock) |
| `before_start` | app logs, OTLP | before the pipeline's first day (`AUDIT_START_DATE`): no partition could hold it |
| `outside_file_day` | app logs, OTLP | more than a day from the day its file is filed under |
| `duplicate` | app logs, OTLP | an event id already loaded (detail names the first copy's file and line) |""",
    ),
    TableSpec(
        "price_catalog", schemas.PRICE_CATALOG, kind="reference",
        summary="USD per million tokens (per million searches for `web_search`) per provider, model "
        "snapshot, token type, service tier, prompt-length band and inference geography, with the days each "
        "price applies (`effective_from <= day < effective_to`): the shipped "
        "`audit_pipeline/reference/prices.csv` plus `prices:` of audit.yaml, which replace a shipped row "
        "with the same key and start and end the previous price where they start (no day has two prices). "
        "A call is priced by the most specific row that applies: tier, band and geography must each match "
        "or be empty (every tier, every band, anywhere), and a row naming more of them wins; a call that "
        "does not log its tier is priced at `standard`. A call or row consuming something the catalog has "
        "no price for gets no computed cost rather than a partial one.",
    ),
    TableSpec(
        "model_catalog", schemas.MODEL_CATALOG, kind="reference",
        summary="Each model snapshot's deprecation and retirement dates: the shipped "
        "`audit_pipeline/reference/model_catalog.csv` corrected by `model_catalog:` in audit.yaml. Replaced "
        "whole, and only when it changed; its Delta history is the catalog's history.",
    ),
    TableSpec(
        "build_log", schemas.BUILD_LOG, kind="log",
        summary="What each derived result was built from, one row per (asset, partition): the rule for what "
        "is stale (`audit_pipeline/freshness.py`). A partition is rebuilt when the fingerprint of its inputs "
        "and code differs from the one recorded here, and left alone otherwise.",
    ),
)
"""Every table the pipeline writes; exported ones in the export's order."""

SPECS: dict[str, TableSpec] = {spec.name: spec for spec in TABLE_SPECS}

_KINDS = {"daily": "daily, partitioned by `{column}`", "reference": "reference, replaced whole",
          "log": "a record of runs", "ledger": "append-only"}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def tables_markdown() -> str:
    """docs/tables.md: every table with its columns, from the declarations."""
    lines = [
        "# Tables and columns",
        "",
        "Generated from `audit_pipeline/tables.py` and `audit_pipeline/schemas.py` by",
        "`python -m audit_pipeline.tables > docs/tables.md` (a test fails when this file is stale).",
        "Dates and times are UTC: `*_date` columns are `date32`, times `timestamp[us, tz=UTC]`, money",
        "`decimal128(38, 12)`, token counts `int64`. `source_file` is always the path relative to the",
        "landing root. The auditor export's layout is in [contract.md](contract.md).",
    ]
    for spec in TABLE_SPECS:
        kind = _KINDS[spec.kind].format(column=spec.partition_column)
        lines += ["", f"## {spec.name} ({kind})", "", spec.summary, "",
                  "| column | type | meaning | source |", "|---|---|---|---|"]
        lines += [f"| {f.name} | `{f.type}` | {_cell(meaning(f))} | {_cell(schemas.source(f))} |" for f in spec.schema]
        if spec.free_text:
            hashed = ", ".join(f"`{c}`" for c in spec.free_text)
            lines += ["", f"Free text ({hashed}) leaves the lake only as its SHA-256 (`<column>_sha256`)."]
        if spec.notes:
            lines += ["", spec.notes]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(tables_markdown())
