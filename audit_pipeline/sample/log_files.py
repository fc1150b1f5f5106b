"""Write the sample's application logs: JSON lines per system and day, and OTLP/JSON spans.

DuckDB writes the files straight from the `calls` table, so a million records take a few
seconds. Field names are DESIGN.md's application log record; OTLP spans carry the current
`gen_ai.*` attributes (and, for some spans, the older `gen_ai.system` /
`gen_ai.usage.prompt_tokens` names) with int64 values as strings, as OTLP/JSON requires.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

LOG_FIELDS = (
    "event_id", "timestamp", "ai_system", "provider", "request_id", "response_id", "route",
    "tenant_id", "user_ref", "api_key_id", "project_id", "request_model", "response_model",
    "prompt_id", "prompt_version", "prompt_sha256", "input_tokens", "output_tokens",
    "cached_input_tokens", "cache_write_tokens", "latency_ms", "ttft_ms", "status",
    "error_type", "finish_reason", "output_sha256", "app_version",
)

SPANS_PER_LINE = 100
"""Spans per exported OTLP line (the collector's file exporter writes one batch per line)."""


def log_path(system: str, day: date, log_format: str) -> str:
    suffix = ".jsonl.gz" if log_format == "jsonl.gz" else ".jsonl"
    return f"logs/{system}/{day:%Y-%m-%d}/calls-{system}-{day:%Y%m%d}{suffix}"


def write_jsonl(con: duckdb.DuckDBPyConnection, landing: Path, system: str, day: date,
                log_format: str) -> Path:
    """One day of one system's call records, ordered by time."""
    path = landing / log_path(system, day, log_format)
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = ", ".join(
        "strftime(ts, '%Y-%m-%dT%H:%M:%S.%gZ') AS \"timestamp\"" if f == "timestamp" else f
        for f in LOG_FIELDS
    )
    compression = "gzip" if log_format == "jsonl.gz" else "none"
    con.sql(
        f"COPY (SELECT {columns} FROM calls WHERE ai_system = $system AND day = $day ORDER BY ts, event_id) "
        f"TO '{path}' (FORMAT JSON, COMPRESSION {compression})",
        params={"system": system, "day": day},
    )
    return path


def _attr(key: str, kind: str, value: str) -> str:
    return f"json_object('key', '{key}', 'value', json_object('{kind}', {value}))"


def write_otlp(con: duckdb.DuckDBPyConnection, landing: Path, system: str, day: date) -> Path:
    """One day of one system's calls as OTLP/JSON trace exports (one batch per line)."""
    path = landing / f"logs/otlp/{day:%Y-%m-%d}/traces-{system}-{day:%Y%m%d}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    legacy = "hash(event_id, 'legacy') % 5 = 0"  # a fifth of spans use the older names
    attributes = ", ".join([
        _attr("gen_ai.operation.name", "stringValue", "'chat'"),
        f"CASE WHEN {legacy} THEN {_attr('gen_ai.system', 'stringValue', 'provider')} "
        f"ELSE {_attr('gen_ai.provider.name', 'stringValue', 'provider')} END",
        _attr("gen_ai.request.model", "stringValue", "request_model"),
        _attr("gen_ai.response.model", "stringValue", "response_model"),
        _attr("gen_ai.response.id", "stringValue", "response_id"),
        f"CASE WHEN {legacy} THEN {_attr('gen_ai.usage.prompt_tokens', 'intValue', 'CAST(input_tokens AS VARCHAR)')} "
        f"ELSE {_attr('gen_ai.usage.input_tokens', 'intValue', 'CAST(input_tokens AS VARCHAR)')} END",
        _attr("gen_ai.usage.output_tokens", "intValue", "CAST(output_tokens AS VARCHAR)"),
        _attr("gen_ai.usage.cache_read.input_tokens", "intValue", "CAST(cached_input_tokens AS VARCHAR)"),
        _attr("audit.event_id", "stringValue", "event_id"),
        _attr("audit.api_key_id", "stringValue", "api_key_id"),
        _attr("audit.prompt_id", "stringValue", "prompt_id"),
        _attr("audit.prompt_version", "stringValue", "prompt_version"),
        _attr("audit.prompt_sha256", "stringValue", "prompt_sha256"),
    ])
    con.sql(f"""
        COPY (
            WITH spans AS (
                SELECT ts, event_id,
                       (row_number() OVER (ORDER BY ts, event_id) - 1) // {SPANS_PER_LINE} AS batch,
                       json_object(
                         'traceId', upper(substr(md5('t' || event_id), 1, 32)),
                         'spanId', upper(substr(md5('s' || event_id), 1, 16)),
                         'name', 'chat ' || request_model,
                         'kind', 3,
                         'startTimeUnixNano', CAST(epoch_us(ts) * 1000 AS VARCHAR),
                         'endTimeUnixNano', CAST((epoch_us(ts) + CAST(latency_ms * 1000 AS BIGINT)) * 1000 AS VARCHAR),
                         'attributes', json_array({attributes}),
                         'status', json_object('code', CASE WHEN status = 'ok' THEN 0 ELSE 2 END)
                       ) AS span
                FROM calls WHERE ai_system = $system AND day = $day
            )
            SELECT json_object('resourceSpans', json_array(json_object(
                     'resource', json_object('attributes', json_array(
                        json_object('key', 'service.name', 'value', json_object('stringValue', $system)),
                        json_object('key', 'deployment.environment.name', 'value', json_object('stringValue', 'prod')))),
                     'scopeSpans', json_array(json_object(
                        'scope', json_object('name', 'opentelemetry.instrumentation.openai_v2', 'version', '2.1b0'),
                        'spans', to_json(list(span ORDER BY ts, event_id))))))) AS line
            FROM spans GROUP BY batch ORDER BY batch
        ) TO '{path}' (FORMAT CSV, HEADER false, QUOTE '', ESCAPE '', DELIMITER '\x1f')
    """, params={"system": system, "day": day})
    return path
