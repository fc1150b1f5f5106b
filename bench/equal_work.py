"""The equal-work peer: what a careful data engineer would write by hand with DuckDB and
delta-rs to do our ingest's work on the day's call logs, and nothing less.

For the application logs and for the OTLP spans: every field read with an explicit schema,
line numbers kept, the same validation rules in SQL (required fields, known provider, RFC 3339
time with a zone, integer and non-negative tokens, the file's day), `event_id` de-duplication
across the day's files (first copy wins), rejected rows written to a quarantine table with
their code, accepted rows to a day-partitioned Delta table. It does not redact secrets, count
unknown fields or skip non-model spans by reason: our ingest does, so it should not be faster
than this script by much, and it must not be much slower.

`python -m bench.equal_work LANDING OUT` (OUT receives the `llm_calls` and `quarantine` Delta
tables). Known providers are the pipeline's own list (data, not code: the same rules need the
same names).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import duckdb
from deltalake import write_deltalake

from audit_pipeline.providers import KNOWN_PROVIDERS

APP_FIELDS = (
    "event_id", "timestamp", "ai_system", "provider", "request_id", "response_id", "route", "tenant_id",
    "user_ref", "api_key_id", "project_id", "request_model", "response_model", "prompt_id", "prompt_version",
    "prompt_sha256", "status", "error_type", "finish_reason", "output_sha256", "app_version", "service_tier",
    "inference_geo", "input_tokens", "output_tokens", "cached_input_tokens", "cache_write_tokens",
    "cache_write_1h_tokens", "reasoning_tokens", "web_search_requests", "latency_ms", "ttft_ms", "batch",
)
TOKENS = ("input_tokens", "output_tokens", "cached_input_tokens", "cache_write_tokens", "cache_write_1h_tokens",
          "reasoning_tokens", "web_search_requests")
REQUIRED = ("event_id", "timestamp", "ai_system", "provider", "request_model")


def log_files(landing: Path) -> list[str]:
    """The day's call-log files (application logs and OTLP exports) in the landing zone."""
    return sorted(str(p) for p in (landing / "logs").rglob("*") if p.is_file() and ".jsonl" in p.name)


def _lines(path: str) -> str:
    """The file's lines as text with their numbers (a separator that never occurs, no quoting)."""
    return (f"SELECT row_number() OVER () AS line_no, line FROM read_csv('{path}', columns = {{'line': 'VARCHAR'}}, "
            "header = false, delim = '\x01', quote = '', escape = '', auto_detect = false, "
            "max_line_size = 134217728)")


def _app_checked(path: str) -> str:
    struct = "{" + ", ".join(f'"{f}": "VARCHAR"' for f in APP_FIELDS) + "}"
    bad_int = " OR ".join(f"(r.{t} IS NOT NULL AND (try_cast(r.{t} AS BIGINT) IS NULL OR contains(r.{t}, '.')))"
                          for t in TOKENS)
    negative = " OR ".join(f"try_cast(r.{t} AS BIGINT) < 0" for t in TOKENS)
    missing = " OR ".join(f"coalesce(trim(r.{f}), '') = ''" for f in REQUIRED)
    return f"""
    WITH l AS ({_lines(path)}),
    p AS (SELECT line_no, line, try(json_transform(line, '{struct}')) AS r FROM l),
    t AS (SELECT *, CASE WHEN regexp_matches(r.timestamp, '(Z|[+-][0-9][0-9]:[0-9][0-9])$')
                         THEN try_cast(r.timestamp AS TIMESTAMPTZ) END AS ts FROM p)
    SELECT *, CASE
        WHEN r IS NULL THEN 'json_invalid'
        WHEN {missing} THEN 'missing_required'
        WHEN NOT list_contains($providers, lower(trim(r.provider))) THEN 'unknown_provider'
        WHEN ts IS NULL THEN 'bad_timestamp'
        WHEN {bad_int} OR (r.latency_ms IS NOT NULL AND NOT coalesce(isfinite(try_cast(r.latency_ms AS DOUBLE)), false))
            OR (r.batch IS NOT NULL AND r.batch NOT IN ('true', 'false')) THEN 'bad_type'
        WHEN {negative} THEN 'negative_tokens'
        WHEN abs(date_diff('day', $day, CAST(ts AS DATE))) > 1 THEN 'outside_file_day'
    END AS error_code
    FROM t"""


def _app_accepted() -> str:
    strings = [f for f in APP_FIELDS if f not in TOKENS and f not in ("timestamp", "latency_ms", "ttft_ms", "batch")]
    return f"""
    SELECT {", ".join(f"nullif(trim(r.{f}), '') AS {f}" for f in strings)},
           CAST(ts AS DATE) AS event_date, ts AS "timestamp",
           {", ".join(f"CAST(r.{t} AS BIGINT) AS {t}" for t in TOKENS)},
           CAST(r.latency_ms AS DOUBLE) AS latency_ms, CAST(r.ttft_ms AS DOUBLE) AS ttft_ms,
           CAST(r.batch AS BOOLEAN) AS batch, source_file, line_no
    FROM checked WHERE error_code IS NULL"""


def _attr(*names: str) -> str:
    """The first of `names` the span carries: sorted by key, each current GenAI name here comes
    before its deprecated one (`provider.name` < `system`, `input_tokens` < `prompt_tokens`)."""
    keys = ", ".join(f"'{n}'" for n in names)
    v = f"list_sort(list_filter(sp.attributes, lambda a: a.key IN ({keys})), 'ASC')[1].value"
    return f"coalesce({v}.stringValue, {v}.intValue, CAST({v}.doubleValue AS VARCHAR))"


def _otlp_checked(path: str) -> str:
    attrs = [{"key": "VARCHAR", "value": {"stringValue": "VARCHAR", "intValue": "VARCHAR", "doubleValue": "DOUBLE"}}]
    span = {"traceId": "VARCHAR", "spanId": "VARCHAR", "startTimeUnixNano": "VARCHAR", "endTimeUnixNano": "VARCHAR",
            "attributes": attrs}
    doc = json.dumps({"resourceSpans": [{"resource": {"attributes": attrs}, "scopeSpans": [{"spans": [span]}]}]})
    fields = {"provider": ("gen_ai.provider.name", "gen_ai.system"), "request_model": "gen_ai.request.model",
              "response_model": "gen_ai.response.model", "response_id": "gen_ai.response.id",
              "input_tokens": ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"), "cached_input_tokens": "gen_ai.usage.cache_read.input_tokens", "output_tokens": "gen_ai.usage.output_tokens",
              "api_key_id": "audit.api_key_id", "prompt_id": "audit.prompt_id",
              "prompt_version": "audit.prompt_version", "event_id": "audit.event_id"}
    return f"""
    WITH l AS ({_lines(path)}),
    d AS (SELECT line_no, try(json_transform(line, '{doc}')) AS doc FROM l),
    rs AS (SELECT line_no, unnest(doc.resourceSpans) AS rs FROM d WHERE doc IS NOT NULL),
    ss AS (SELECT line_no, rs.resource.attributes AS res, unnest(rs.scopeSpans) AS ss FROM rs),
    sp AS (SELECT line_no, res, unnest(ss.spans) AS sp FROM ss),
    f AS (SELECT line_no, sp.spanId AS span_id, sp.traceId AS trace_id,
                 list_filter(res, lambda a: a.key = 'service.name')[1].value.stringValue AS ai_system,
                 {", ".join(f"{_attr(*a) if isinstance(a, tuple) else _attr(a)} AS {n}" for n, a in fields.items())},
                 make_timestamp(try_cast(sp.startTimeUnixNano AS BIGINT) // 1000)::TIMESTAMPTZ AS ts,
                 (try_cast(sp.endTimeUnixNano AS BIGINT) - try_cast(sp.startTimeUnixNano AS BIGINT)) / 1e6
                     AS latency_ms
          FROM sp
          UNION ALL BY NAME SELECT line_no FROM d WHERE doc IS NULL)
    SELECT *, CASE
        WHEN span_id IS NULL THEN 'json_invalid'
        WHEN coalesce(ai_system, '') = '' OR coalesce(provider, '') = '' OR coalesce(request_model, '') = ''
            THEN 'missing_required'
        WHEN NOT list_contains($providers, lower(provider)) THEN 'unknown_provider'
        WHEN ts IS NULL THEN 'bad_timestamp'
        WHEN try_cast(input_tokens AS BIGINT) IS NULL AND input_tokens IS NOT NULL THEN 'bad_type'
        WHEN try_cast(input_tokens AS BIGINT) < 0 OR try_cast(output_tokens AS BIGINT) < 0 THEN 'negative_tokens'
        WHEN abs(date_diff('day', $day, CAST(ts AS DATE))) > 1 THEN 'outside_file_day'
    END AS error_code
    FROM f"""


def _otlp_accepted() -> str:
    return """
    SELECT coalesce(event_id, lower(trace_id) || '-' || lower(span_id)) AS event_id, CAST(ts AS DATE) AS event_date,
           ts AS "timestamp", ai_system, lower(provider) AS provider, response_id, api_key_id, request_model,
           response_model, prompt_id, prompt_version, CAST(input_tokens AS BIGINT) AS input_tokens,
           CAST(output_tokens AS BIGINT) AS output_tokens, CAST(cached_input_tokens AS BIGINT) AS cached_input_tokens,
           latency_ms, source_file, line_no
    FROM checked WHERE error_code IS NULL"""


def ingest(landing: Path, out: Path) -> None:
    con = duckdb.connect()
    con.sql("SET TimeZone = 'UTC'")
    files = [Path(f) for f in log_files(landing)]
    params = {"providers": sorted(KNOWN_PROVIDERS)}
    con.execute("CREATE TABLE rejected (source_file VARCHAR, line_no BIGINT, error_code VARCHAR)")
    first = True
    for n, path in enumerate(files):
        day = path.parent.name  # the landing layout files each log under its UTC day
        otlp = "otlp" in path.parts
        con.execute(f"CREATE OR REPLACE TEMP TABLE checked AS SELECT *, '{path}' AS source_file FROM "
                    f"({(_otlp_checked if otlp else _app_checked)(str(path))})", {**params, "day": day})
        rows = f"SELECT *, {n} AS file_no FROM ({(_otlp_accepted if otlp else _app_accepted)()})"
        con.execute(f"CREATE OR REPLACE TABLE accepted AS {rows}" if first
                    else f"INSERT INTO accepted BY NAME {rows}")
        con.execute("INSERT INTO rejected SELECT source_file, line_no, error_code FROM checked "
                    "WHERE error_code IS NOT NULL")
        first = False
    # event_id is unique per day across files: the first copy (file, line) wins, the rest are quarantined
    con.execute("""CREATE TEMP TABLE ranked AS SELECT *, row_number() OVER (
                       PARTITION BY event_date, event_id ORDER BY file_no, line_no) AS copy FROM accepted""")
    con.execute("INSERT INTO rejected SELECT source_file, line_no, 'duplicate' FROM ranked WHERE copy > 1")
    calls = con.sql("SELECT * EXCLUDE (copy, file_no) FROM ranked WHERE copy = 1").to_arrow_reader(batch_size=200_000)
    write_deltalake(str(out / "llm_calls"), calls, partition_by=["event_date"], mode="overwrite")
    write_deltalake(str(out / "quarantine"), con.sql("SELECT * FROM rejected").to_arrow_table(), mode="overwrite")


if __name__ == "__main__":
    ingest(Path(sys.argv[1]), Path(sys.argv[2]))
