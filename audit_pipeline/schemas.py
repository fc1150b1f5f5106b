"""The Arrow schema of every Delta table: declared once, used to create tables and in tests.

Conventions (docs/contract.md): dates are `date32`, times `timestamp[us, tz=UTC]`, money
`decimal128(38, 12)`, token counts `int64`. Column names are the contract; add columns freely,
never rename one without updating docs/contract.md.
"""

from __future__ import annotations

import pyarrow as pa

UTC_TS = pa.timestamp("us", tz="UTC")
MONEY = pa.decimal128(38, 12)
TOKENS = pa.int64()


def _schema(*fields: tuple[str, pa.DataType]) -> pa.Schema:
    return pa.schema([pa.field(name, dtype) for name, dtype in fields])


LLM_CALLS = _schema(
    ("event_id", pa.string()),
    ("event_date", pa.date32()),
    ("timestamp", UTC_TS),
    ("ai_system", pa.string()),
    ("provider", pa.string()),
    ("request_id", pa.string()),
    ("response_id", pa.string()),
    ("route", pa.string()),
    ("tenant_id", pa.string()),
    ("user_ref", pa.string()),
    ("api_key_id", pa.string()),
    ("project_id", pa.string()),
    ("request_model", pa.string()),
    ("response_model", pa.string()),
    ("prompt_id", pa.string()),
    ("prompt_version", pa.string()),
    ("prompt_sha256", pa.string()),
    ("input_tokens", TOKENS),
    ("output_tokens", TOKENS),
    ("cached_input_tokens", TOKENS),
    ("cache_write_tokens", TOKENS),
    ("reasoning_tokens", TOKENS),
    ("latency_ms", pa.float64()),
    ("ttft_ms", pa.float64()),
    ("status", pa.string()),
    ("error_type", pa.string()),
    ("finish_reason", pa.string()),
    ("output_sha256", pa.string()),
    ("app_version", pa.string()),
    ("source_file", pa.string()),
    ("line_no", pa.int64()),
    ("ingested_at", UTC_TS),
)

PROMPT_COMMITS = _schema(
    ("commit_sha", pa.string()),
    ("parent_shas", pa.string()),
    ("author_name", pa.string()),
    ("author_email", pa.string()),
    ("authored_at", UTC_TS),
    ("committer_email", pa.string()),
    ("committed_at", UTC_TS),
    ("message", pa.string()),
    ("approved_by", pa.string()),
    ("files_changed", pa.int64()),
)

PROMPT_VERSIONS = _schema(
    ("prompt_id", pa.string()),
    ("version", pa.string()),
    ("path", pa.string()),
    ("previous_path", pa.string()),
    ("content_sha256", pa.string()),
    ("blob_sha", pa.string()),
    ("author_name", pa.string()),
    ("author_email", pa.string()),
    ("approved_by", pa.string()),
    ("committed_at", UTC_TS),
    ("valid_from", UTC_TS),
    ("valid_to", UTC_TS),
    ("change_type", pa.string()),
    ("owners", pa.string()),
)

BILLING_USAGE = _schema(
    ("usage_date", pa.date32()),
    ("bucket_start", UTC_TS),
    ("bucket_end", UTC_TS),
    ("provider", pa.string()),
    ("api_key_id", pa.string()),
    ("project_id", pa.string()),
    ("workspace_id", pa.string()),
    ("model", pa.string()),
    ("service_tier", pa.string()),
    ("uncached_input_tokens", TOKENS),
    ("cache_read_tokens", TOKENS),
    ("cache_write_tokens", TOKENS),
    ("cache_write_1h_tokens", TOKENS),
    ("output_tokens", TOKENS),
    ("requests", TOKENS),
    ("tags", pa.string()),
    ("source_file", pa.string()),
    ("ingested_at", UTC_TS),
)

BILLING_COSTS = _schema(
    ("charge_period_start", UTC_TS),
    ("charge_period_end", UTC_TS),
    ("usage_date", pa.date32()),
    ("provider", pa.string()),
    ("billed_cost", MONEY),
    ("billing_currency", pa.string()),
    ("model", pa.string()),
    ("token_type", pa.string()),
    ("api_key_id", pa.string()),
    ("project_id", pa.string()),
    ("workspace_id", pa.string()),
    ("line_item", pa.string()),
    ("quantity", pa.float64()),
    ("quantity_unit", pa.string()),
    ("tags", pa.string()),
    ("source_file", pa.string()),
    ("ingested_at", UTC_TS),
)

OUTPUT_LINEAGE = _schema(
    ("event_id", pa.string()),
    ("response_id", pa.string()),
    ("event_date", pa.date32()),
    ("timestamp", UTC_TS),
    ("ai_system", pa.string()),
    ("provider", pa.string()),
    ("api_key_id", pa.string()),
    ("prompt_id", pa.string()),
    ("prompt_version", pa.string()),
    ("prompt_path", pa.string()),
    ("prompt_content_sha256", pa.string()),
    ("prompt_author", pa.string()),
    ("prompt_approved_by", pa.string()),
    ("prompt_owners", pa.string()),
    ("resolution", pa.string()),
    ("resolution_note", pa.string()),
    ("request_model", pa.string()),
    ("response_model", pa.string()),
    ("model_status", pa.string()),
    ("input_tokens", TOKENS),
    ("cached_input_tokens", TOKENS),
    ("cache_write_tokens", TOKENS),
    ("output_tokens", TOKENS),
    ("computed_cost_usd", MONEY),
    ("price_id", pa.string()),
    ("built_at", UTC_TS),
)

INGEST_LOG = _schema(
    ("source", pa.string()),
    ("source_file", pa.string()),
    ("partition", pa.string()),
    ("file_sha256", pa.string()),
    ("file_bytes", pa.int64()),
    ("file_version", pa.string()),
    ("status", pa.string()),
    ("error", pa.string()),
    ("rows_read", pa.int64()),
    ("rows_accepted", pa.int64()),
    ("rows_quarantined", pa.int64()),
    ("rows_duplicate", pa.int64()),
    ("ingested_at", UTC_TS),
    ("run_id", pa.string()),
)

QUARANTINE = _schema(
    ("source", pa.string()),
    ("source_file", pa.string()),
    ("partition", pa.string()),
    ("line_no", pa.int64()),
    ("error_code", pa.string()),
    ("error_detail", pa.string()),
    ("raw_excerpt", pa.string()),
    ("ingested_at", UTC_TS),
    ("run_id", pa.string()),
)

DQ_RESULTS = _schema(
    ("table_name", pa.string()),
    ("partition", pa.string()),
    ("suite", pa.string()),
    ("expectation", pa.string()),
    ("column_name", pa.string()),
    ("critical", pa.bool_()),
    ("success", pa.bool_()),
    ("observed", pa.string()),
    ("element_count", pa.int64()),
    ("unexpected_count", pa.int64()),
    ("unexpected_examples", pa.string()),
    ("table_version", pa.int64()),
    ("suite_fingerprint", pa.string()),
    ("run_id", pa.string()),
    ("checked_at", UTC_TS),
)

PRICE_CATALOG = _schema(
    ("price_id", pa.string()),
    ("provider", pa.string()),
    ("model", pa.string()),
    ("token_type", pa.string()),
    ("usd_per_million", pa.decimal128(18, 6)),
    ("effective_from", pa.date32()),
    ("effective_to", pa.date32()),
    ("source", pa.string()),
)

MODEL_CATALOG = _schema(
    ("provider", pa.string()),
    ("snapshot", pa.string()),
    ("deprecated_on", pa.date32()),
    ("retires_on", pa.date32()),
    ("replacement", pa.string()),
    ("source", pa.string()),
    ("origin", pa.string()),
)


def _struct(*fields: tuple[str, pa.DataType]) -> pa.DataType:
    return pa.list_(pa.struct([pa.field(name, dtype) for name, dtype in fields]))


RETENTION_REPORT = _schema(
    # §7.1 header
    ("ai_system", pa.string()),
    ("report_date", pa.date32()),
    ("status", pa.string()),
    ("as_of", UTC_TS),
    ("period_start", pa.date32()),
    ("period_end", pa.date32()),
    ("purpose", pa.string()),
    ("risk_class", pa.string()),
    ("annex_iii_point", pa.string()),
    ("role", pa.string()),
    ("floor_months", pa.int64()),
    ("ceiling_months", pa.int64()),
    ("ceiling_purpose", pa.string()),
    ("policy_sha256", pa.string()),
    ("generator_version", pa.string()),
    ("table_versions", pa.string()),
    # §7.2 daily coverage, summed over the period
    ("records", pa.int64()),
    ("outputs", pa.int64()),
    ("reference_count", pa.int64()),
    ("reference_kind", pa.string()),
    ("coverage_pct", pa.float64()),
    ("required_fields_pct", pa.float64()),
    ("late_records", pa.int64()),
    # §7.3 floor test
    ("floor_start", pa.date32()),
    ("window_start", pa.date32()),
    ("earliest_record", UTC_TS),
    ("floor_intact", pa.bool_()),
    ("failing_days", pa.list_(pa.date32())),
    # §7.4 ceiling and disposal ledger
    ("ceiling_cutoff", pa.date32()),
    ("past_ceiling", pa.int64()),
    ("due_for_deletion", pa.int64()),
    ("blocked_by_hold", pa.int64()),
    ("overdue_deletions", pa.int64()),
    ("deleted_this_period", pa.int64()),
    # §7.6 traceability
    ("pct_prompt_version", pa.float64()),
    ("pct_model_snapshot", pa.float64()),
    ("pct_both", pa.float64()),
    ("orphan_prompt_outputs", pa.int64()),
    ("alias_only_outputs", pa.int64()),
    # the sections, one list each
    ("daily_coverage", _struct(
        ("day", pa.date32()), ("records", pa.int64()), ("outputs", pa.int64()),
        ("reference_count", pa.int64()), ("coverage_pct", pa.float64()),
        ("required_fields_pct", pa.float64()), ("late_records", pa.int64()),
        ("pct_prompt_version", pa.float64()), ("pct_model_snapshot", pa.float64()),
        ("pct_both", pa.float64()), ("status", pa.string()))),
    ("legal_holds", _struct(
        ("hold_id", pa.string()), ("trigger", pa.string()), ("first_day", pa.date32()),
        ("last_day", pa.date32()), ("placed_by", pa.string()), ("placed_at", UTC_TS),
        ("review_due", pa.date32()), ("released_at", UTC_TS), ("status", pa.string()),
        ("records_under_hold", pa.int64()))),
    ("model_inventory", _struct(
        ("provider", pa.string()), ("snapshot", pa.string()), ("aliases", pa.string()), ("first_seen", pa.date32()),
        ("last_seen", pa.date32()), ("outputs", pa.int64()), ("deprecated_on", pa.date32()),
        ("retires_on", pa.date32()), ("replacement", pa.string()), ("flag", pa.string()))),
    ("prompt_changes", _struct(
        ("prompt_id", pa.string()), ("version", pa.string()), ("content_sha256", pa.string()),
        ("committed_at", UTC_TS), ("author", pa.string()), ("approver", pa.string()),
        ("flag", pa.string()), ("outputs", pa.int64()))),
    ("erasures", _struct(
        ("table_name", pa.string()), ("action", pa.string()), ("rows_deleted", pa.int64()),
        ("dry_run", pa.bool_()), ("deleted_at", UTC_TS), ("run_id", pa.string()))),
    ("exceptions", _struct(("status", pa.string()), ("rule", pa.string()), ("detail", pa.string()))),
    ("as_of_requested", pa.bool_()),
    ("html_sha256", pa.string()),
    ("generated_at", UTC_TS),
    ("run_id", pa.string()),
)

ERASURE_LOG = _schema(
    ("table_name", pa.string()),
    ("ai_system", pa.string()),
    ("action", pa.string()),
    ("predicate", pa.string()),
    ("rows_deleted", pa.int64()),
    ("files_removed", pa.int64()),
    ("cutoff_date", pa.date32()),
    ("reason", pa.string()),
    ("hold_checked", pa.string()),
    ("dry_run", pa.bool_()),
    ("deleted_at", UTC_TS),
    ("run_id", pa.string()),
)

SPEND_RECONCILIATION = _schema(
    ("usage_date", pa.date32()),
    ("provider", pa.string()),
    ("api_key_id", pa.string()),
    ("account_kind", pa.string()),
    ("model", pa.string()),
    ("token_type", pa.string()),
    ("billed_tokens", TOKENS),
    ("logged_tokens", TOKENS),
    ("token_diff", TOKENS),
    ("token_diff_pct", pa.float64()),
    ("billed_cost", MONEY),
    ("billing_currency", pa.string()),
    ("billed_cost_basis", pa.string()),
    ("computed_cost", MONEY),
    ("price_id", pa.string()),
    ("cost_diff_usd", MONEY),
    ("cost_diff_pct", pa.float64()),
    ("status", pa.string()),
    ("built_at", UTC_TS),
)

SECURITY_FINDINGS = _schema(
    ("finding_id", pa.string()),
    ("usage_date", pa.date32()),
    ("provider", pa.string()),
    ("api_key_id", pa.string()),
    ("model", pa.string()),
    ("finding_type", pa.string()),
    ("severity", pa.string()),
    ("detail", pa.string()),
    ("evidence", pa.string()),
    ("acknowledged", pa.bool_()),
    ("acknowledged_by", pa.string()),
    ("acknowledgement", pa.string()),
    ("built_at", UTC_TS),
)

BUILD_LOG = _schema(
    ("asset", pa.string()),
    ("partition", pa.string()),
    ("fingerprint", pa.string()),
    ("built_at", UTC_TS),
    ("run_id", pa.string()),
)

TABLES: dict[str, pa.Schema] = {
    "llm_calls": LLM_CALLS,
    "prompt_commits": PROMPT_COMMITS,
    "prompt_versions": PROMPT_VERSIONS,
    "billing_usage": BILLING_USAGE,
    "billing_costs": BILLING_COSTS,
    "output_lineage": OUTPUT_LINEAGE,
    "ingest_log": INGEST_LOG,
    "quarantine": QUARANTINE,
    "dq_results": DQ_RESULTS,
    "model_catalog": MODEL_CATALOG,
    "price_catalog": PRICE_CATALOG,
    "spend_reconciliation": SPEND_RECONCILIATION,
    "security_findings": SECURITY_FINDINGS,
    "retention_report": RETENTION_REPORT,
    "erasure_log": ERASURE_LOG,
    "build_log": BUILD_LOG,
}
"""Every table the pipeline writes, by its name under AUDIT_LAKE."""


PARTITION_COLUMNS: dict[str, list[str]] = {
    "llm_calls": ["event_date"],
    "output_lineage": ["event_date"],
    "billing_usage": ["usage_date"],
    "billing_costs": ["usage_date"],
    "retention_report": ["report_date"],
    "spend_reconciliation": ["usage_date"],
    "security_findings": ["usage_date"],
}
"""Delta partition columns. They are date32, never strings: see Dagster issue #34064 in
docs/contract.md, where a non-date partition column made a partitioned write clobber the table."""


def conform(data: pa.Table, schema: pa.Schema) -> pa.Table:
    """Order and type columns exactly as the table declares (missing columns become null)."""
    columns = [
        data.column(f.name).cast(f.type) if f.name in data.column_names else pa.nulls(len(data), f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def conform_reader(reader: pa.RecordBatchReader, schema: pa.Schema) -> pa.RecordBatchReader:
    """Stream `reader`'s batches cast to `schema` (engines differ in string and time types);
    a column no input had (e.g. only OTLP spans, which carry no request id) becomes null."""
    batches = (
        pa.RecordBatch.from_arrays(
            [batch.column(f.name).cast(f.type) if f.name in batch.schema.names
             else pa.nulls(batch.num_rows, f.type) for f in schema], schema=schema
        )
        for batch in reader
    )
    return pa.RecordBatchReader.from_batches(schema, batches)
