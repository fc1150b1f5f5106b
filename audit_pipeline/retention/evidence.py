"""What a retention report is computed from: the lake as it stood at one moment, aggregated.

Every table is read at its Delta version as of the report's `as_of` time, so a report for a
past moment sees exactly what existed then, even after later loads and deletions (until
vacuum removes that version's files). The event tables are streamed through DuckDB and
reduced to small per-system, per-day aggregates here; nothing downstream touches rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa

from audit_pipeline import engine
from audit_pipeline.lake import Lake
from audit_pipeline.schemas import TABLES

READS = ("llm_calls", "output_lineage", "billing_usage", "prompt_versions", "prompt_commits", "model_catalog",
         "erasure_log")
"""The tables a report reads; their versions are in the report header."""

LATE_FILE_DAY = r"/(\d{4}-\d{2}-\d{2})/"
"""Log files sit in a folder named after their day (docs/contract.md landing layout): a record in a
later day's file was delivered late."""

CALLS_DAILY = f"""
SELECT c.ai_system, c.event_date AS day, c.provider, c.api_key_id, c.project_id,
       count(*) AS records,
       count(*) FILTER (WHERE c.status = 'ok') AS outputs,
       count(*) FILTER (WHERE c.api_key_id IS NOT NULL AND c.request_model IS NOT NULL AND c.status IS NOT NULL
                          AND c.input_tokens IS NOT NULL AND c.output_tokens IS NOT NULL
                          AND (c.prompt_id IS NOT NULL OR c.prompt_sha256 IS NOT NULL)) AS required_ok,
       count(*) FILTER (WHERE TRY_CAST(regexp_extract(c.source_file, '{LATE_FILE_DAY}', 1) AS DATE)
                                > c.event_date) AS late_records,
       count(*) FILTER (WHERE c.prompt_version IS NOT NULL AND NOT c.known_version) AS orphan_prompt_outputs,
       sum(c.output_tokens)::BIGINT AS output_tokens,
       min(c."timestamp") AS earliest
FROM (SELECT *, prompt_version IN (SELECT version FROM versions) AS known_version FROM calls) c
GROUP BY ALL
"""
"""`IN (subquery)` hashes the few prompt versions; a LEFT JOIN made DuckDB hash the calls
(1.3 GB instead of 0.3 GB at 4M calls)."""

LINEAGE_GROUPS = """
CREATE TEMP TABLE lineage AS
SELECT ai_system, event_date AS day, provider, request_model, response_model, prompt_id, prompt_version,
       resolution <> 'unresolved' AS resolved, model_status = 'snapshot' AS snapshot,
       model_status = 'alias_only' AS alias_only, count(*) AS n
FROM lineage_reader GROUP BY ALL
"""
"""Lineage reduced once to its distinct (system, day, model, prompt version) groups: small
whatever the volume, and the three aggregates below read it instead of the rows."""

LINEAGE_DAILY = """
SELECT ai_system, day, (sum(n))::BIGINT AS traced,
       (sum(n) FILTER (WHERE resolved))::BIGINT AS with_prompt,
       (sum(n) FILTER (WHERE snapshot))::BIGINT AS with_snapshot,
       (sum(n) FILTER (WHERE resolved AND snapshot))::BIGINT AS with_both,
       (sum(n) FILTER (WHERE alias_only))::BIGINT AS alias_only
FROM lineage GROUP BY ALL
"""

MODELS_USED = """
SELECT ai_system, provider, request_model AS alias, response_model AS snapshot, day, (sum(n))::BIGINT AS outputs
FROM lineage GROUP BY ALL
"""
"""Per snapshot and the name the application asked for; a null snapshot is an output whose
log names only that alias."""

PROMPTS_USED = """
SELECT ai_system, prompt_id, prompt_version AS version, day, (sum(n))::BIGINT AS outputs
FROM lineage WHERE prompt_version IS NOT NULL GROUP BY ALL
"""

BILLED_DAILY = """
SELECT usage_date AS day, provider, api_key_id, project_id,
       sum(requests)::BIGINT AS requests, count(*) - count(requests) AS rows_without_requests,
       sum(output_tokens)::BIGINT AS output_tokens
FROM usage GROUP BY ALL
"""


@dataclass(frozen=True)
class Evidence:
    """The aggregates one report is assembled from, and the table versions they came from."""

    as_of: datetime
    versions: dict[str, int | None]
    calls_daily: pa.Table
    lineage_daily: pa.Table
    models_used: pa.Table
    prompts_used: pa.Table
    billed_daily: pa.Table
    prompt_versions: pa.Table
    model_catalog: pa.Table
    erasure_log: pa.Table
    history_starts: datetime | None = None
    """Where the prompt repository's recorded history starts when the clone is shallow (its
    boundary commit's time); None when the whole history is there."""


def _history_starts(commits: pa.Table) -> datetime | None:
    """The earliest shallow-boundary commit's time (tables written before the column existed
    have none: nothing is known to be missing)."""
    if "shallow_boundary" not in commits.column_names:
        return None
    starts = [r["committed_at"] for r in commits.select(["shallow_boundary", "committed_at"]).to_pylist()
              if r["shallow_boundary"]]
    return min(starts, default=None)


def pin_versions(lake: Lake, as_of: datetime) -> dict[str, int | None]:
    """Each table's version at `as_of` (None: it did not exist yet)."""
    return {table: lake.version_at(table, as_of) for table in READS}


def _read(lake: Lake, table: str, version: int | None, columns: list[str] | None = None) -> pa.RecordBatchReader:
    if version is None:  # not there at as_of: empty with its declared schema
        empty = TABLES[table].empty_table()
        empty = empty.select(columns) if columns else empty
        return pa.RecordBatchReader.from_batches(empty.schema, empty.to_batches())
    return lake.scan(table, columns=columns, version=version)


def gather(lake: Lake, as_of: datetime, versions: dict[str, int | None] | None = None) -> Evidence:
    """Read every table at its version as of `as_of` (or at `versions`, pinned already) and
    aggregate the event tables."""
    versions = versions or pin_versions(lake, as_of)
    prompt_versions = _read(lake, "prompt_versions", versions["prompt_versions"]).read_all()
    con = engine.connect()
    try:
        con.register("versions", prompt_versions)
        con.register("calls", _read(lake, "llm_calls", versions["llm_calls"], [
            "ai_system", "event_date", "timestamp", "provider", "api_key_id", "project_id", "status",
            "request_model", "prompt_id", "prompt_version", "prompt_sha256", "input_tokens", "output_tokens",
            "source_file"]))
        calls_daily = con.sql(CALLS_DAILY).to_arrow_table()
        con.register("lineage_reader", _read(lake, "output_lineage", versions["output_lineage"], [
            "ai_system", "event_date", "provider", "resolution", "model_status", "request_model", "response_model",
            "prompt_id", "prompt_version"]))
        con.sql(LINEAGE_GROUPS)
        lineage_daily = con.sql(LINEAGE_DAILY).to_arrow_table()
        models_used = con.sql(MODELS_USED).to_arrow_table()
        prompts_used = con.sql(PROMPTS_USED).to_arrow_table()
        con.register("usage", _read(lake, "billing_usage", versions["billing_usage"], [
            "usage_date", "provider", "api_key_id", "project_id", "requests", "output_tokens"]))
        billed_daily = con.sql(BILLED_DAILY).to_arrow_table()
    finally:
        con.close()
    return Evidence(
        as_of=as_of, versions=versions, calls_daily=calls_daily, lineage_daily=lineage_daily,
        models_used=models_used, prompts_used=prompts_used, billed_daily=billed_daily,
        prompt_versions=prompt_versions,
        model_catalog=_read(lake, "model_catalog", versions["model_catalog"]).read_all(),
        erasure_log=_read(lake, "erasure_log", versions["erasure_log"]).read_all(),
        history_starts=_history_starts(_read(lake, "prompt_commits", versions.get("prompt_commits")).read_all()),
    )
