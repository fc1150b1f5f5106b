"""Write the sample's application logs: JSON lines per system and day, and OTLP/JSON spans.

DuckDB writes the files straight from the `calls` table, so a million records take a few
seconds. Field names are docs/contract.md's application log record; OTLP spans carry the current
`gen_ai.*` attributes (and, for some spans, the older `gen_ai.system` /
`gen_ai.usage.prompt_tokens` names) with int64 values as strings, as OTLP/JSON requires.
"""

from __future__ import annotations

import json
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


_SPAN_COLUMNS = """
    event_id, provider, request_model, response_model, response_id, api_key_id, prompt_id,
    prompt_version, prompt_sha256, input_tokens, output_tokens, cached_input_tokens, status,
    CAST(epoch_us(ts) * 1000 AS VARCHAR) AS start_ns,
    CAST((epoch_us(ts) + CAST(latency_ms * 1000 AS BIGINT)) * 1000 AS VARCHAR) AS end_ns,
    upper(substr(md5('t' || event_id), 1, 32)) AS trace_id,
    upper(substr(md5('s' || event_id), 1, 16)) AS span_id,
    hash(event_id, 'legacy') % 5 = 0 AS legacy
"""


def _value(value: object, kind: str) -> dict:
    return {kind: value} if kind != "intValue" else {kind: str(value)}


def _span(row: dict) -> dict:
    """One span in OTLP/JSON; a fifth of spans use the older attribute names."""
    legacy = row["legacy"]
    attributes = [
        ("gen_ai.operation.name", "chat", "stringValue"),
        ("gen_ai.system" if legacy else "gen_ai.provider.name", row["provider"], "stringValue"),
        ("gen_ai.request.model", row["request_model"], "stringValue"),
        ("gen_ai.response.model", row["response_model"], "stringValue"),
        ("gen_ai.response.id", row["response_id"], "stringValue"),
        ("gen_ai.usage.prompt_tokens" if legacy else "gen_ai.usage.input_tokens", row["input_tokens"], "intValue"),
        ("gen_ai.usage.output_tokens", row["output_tokens"], "intValue"),
        ("gen_ai.usage.cache_read.input_tokens", row["cached_input_tokens"], "intValue"),
        ("audit.event_id", row["event_id"], "stringValue"),
        ("audit.api_key_id", row["api_key_id"], "stringValue"),
        ("audit.prompt_id", row["prompt_id"], "stringValue"),
        ("audit.prompt_version", row["prompt_version"], "stringValue"),
        ("audit.prompt_sha256", row["prompt_sha256"], "stringValue"),
    ]
    return {
        "traceId": row["trace_id"], "spanId": row["span_id"], "name": f"chat {row['request_model']}",
        "kind": 3, "startTimeUnixNano": row["start_ns"], "endTimeUnixNano": row["end_ns"],
        "attributes": [{"key": k, "value": _value(v, kind)} for k, v, kind in attributes if v is not None],
        "status": {"code": 0 if row["status"] == "ok" else 2},
    }


def write_otlp(con: duckdb.DuckDBPyConnection, landing: Path, system: str, day: date,
               log_format: str = "otlp") -> Path:
    """One day of one system's calls as OTLP/JSON trace exports, one batch of spans per
    line as the collector's file exporter writes them.

    The documents are built in Python, batch by batch from an Arrow stream: nested JSON
    aggregation in DuckDB ran out of memory at 600,000 spans. (This is the sample
    generator, not a pipeline path.)"""
    path = landing / f"logs/otlp/{day:%Y-%m-%d}/traces-{system}-{day:%Y%m%d}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": system}},
                               {"key": "deployment.environment.name", "value": {"stringValue": "prod"}}]}
    scope = {"name": "opentelemetry.instrumentation.openai_v2", "version": "2.1b0"}
    reader = con.sql(f"SELECT {_SPAN_COLUMNS} FROM calls WHERE ai_system = $system AND day = $day "
                     "ORDER BY ts, event_id", params={"system": system, "day": day}
                     ).to_arrow_reader(batch_size=SPANS_PER_LINE * 100)
    with path.open("w") as out:
        for batch in reader:
            rows = batch.to_pylist()
            for start in range(0, len(rows), SPANS_PER_LINE):
                spans = [_span(r) for r in rows[start:start + SPANS_PER_LINE]]
                document = {"resourceSpans": [{"resource": resource,
                                               "scopeSpans": [{"scope": scope, "spans": spans}]}]}
                out.write(json.dumps(document, separators=(",", ":")) + "\n")
    return path
