"""Application LLM-call logs (JSON lines, one record per model call) → `llm_calls` rows.

The record format is docs/contract.md's "Application log record". Every line ends up either
accepted or rejected with an error code naming the field; duplicates are decided later,
across files, by the loader.

Error codes (first failing rule wins; the full list is in docs/tables.md):
  line_too_long     the line is longer than MAX_RECORD_BYTES
  encoding          the line is not valid UTF-8
  json_invalid      not a JSON object (truncated, garbage, control characters)
  missing_required  a required field is absent or empty (detail names it)
  unknown_provider  `provider` is not a provider name this pipeline knows (providers.py)
  bad_timestamp     `timestamp` is not RFC 3339 with a zone (Z, or an offset within ±18:00)
  bad_type          a token or latency field is not a number of the right kind (NaN too), or
                    `batch` is not true or false
  negative_tokens   a token count below zero
  future_timestamp  the record is later than the load
  before_start      the record is before the pipeline's first day
  outside_file_day  the record's UTC day is too far from the day its file is filed under
"""

from __future__ import annotations

from audit_pipeline.providers import canonical_sql, unknown_provider_sql
from audit_pipeline.sources.lines import LineFormat, record_time_rules
from audit_pipeline.sources.money import UTC_OFFSET_SQL_PATTERN

REQUIRED_FIELDS = ("event_id", "timestamp", "ai_system", "provider", "request_model")
STRING_FIELDS = (
    "event_id", "timestamp", "ai_system", "provider", "request_id", "response_id", "route",
    "tenant_id", "user_ref", "api_key_id", "project_id", "request_model", "response_model",
    "prompt_id", "prompt_version", "prompt_sha256", "status", "error_type", "finish_reason",
    "output_sha256", "app_version", "service_tier", "inference_geo",
)
TOKEN_FIELDS = (
    "input_tokens", "output_tokens", "cached_input_tokens", "cache_write_tokens", "cache_write_1h_tokens",
    "reasoning_tokens", "web_search_requests",
)
DURATION_FIELDS = ("latency_ms", "ttft_ms")
BOOLEAN_FIELDS = ("batch",)
KNOWN_FIELDS = STRING_FIELDS + TOKEN_FIELDS + DURATION_FIELDS + BOOLEAN_FIELDS

# Every field is read as text in one JSON parse per line; types are checked afterwards so
# that a wrong type becomes a named error instead of a silent NULL.
_STRUCTURE = "{" + ", ".join(f'"{name}": "VARCHAR"' for name in KNOWN_FIELDS) + "}"


def _not_integer(field: str) -> str:
    # DuckDB would cast '12.5' to 13, hiding a fractional token count: a dot is an error.
    return f"(r.{field} IS NOT NULL AND (try_cast(r.{field} AS BIGINT) IS NULL OR contains(r.{field}, '.')))"


def _not_finite(field: str) -> str:
    return f"(r.{field} IS NOT NULL AND NOT coalesce(isfinite(try_cast(r.{field} AS DOUBLE)), false))"


def _not_boolean(field: str) -> str:
    # read as text, JSON true and false are 'true' and 'false'; anything else ("yes", 1) is an error
    return f"(r.{field} IS NOT NULL AND r.{field} NOT IN ('true', 'false'))"




def _errors_sql() -> str:
    """(error_code, error_detail) for a parsed record `r` with timestamp `ts`."""
    missing = " OR ".join(f"coalesce(trim(r.{f}), '') = ''" for f in REQUIRED_FIELDS)
    unknown_provider = unknown_provider_sql("canonical_provider")
    time_codes, time_details = record_time_rules("ts", "'field timestamp'")
    details = "\n".join(
        [f"WHEN coalesce(trim(r.{f}), '') = '' THEN 'missing required field {f}'" for f in REQUIRED_FIELDS]
        + [f"WHEN {unknown_provider} THEN 'field provider: unknown provider ' || left(r.provider, 40)"]
        + ["WHEN ts IS NULL THEN 'field timestamp: not RFC 3339 with a time zone: ' || left(r.timestamp, 40)"]
        + [f"WHEN {_not_integer(f)} THEN 'field {f}: expected an integer, got ' || left(r.{f}, 40)" for f in TOKEN_FIELDS]
        + [f"WHEN {_not_finite(f)} THEN 'field {f}: expected a finite number, got ' || left(r.{f}, 40)" for f in DURATION_FIELDS]
        + [f"WHEN {_not_boolean(f)} THEN 'field {f}: expected true or false, got ' || left(r.{f}, 40)" for f in BOOLEAN_FIELDS]
        + [f"WHEN try_cast(r.{f} AS BIGINT) < 0 THEN 'field {f}: ' || r.{f} || ' is negative'" for f in TOKEN_FIELDS]
    )
    # The detail is built only for rejected rows (the outer CASE), not for every record.
    return f"""
        CASE
          WHEN line_bytes > $max_line_bytes THEN 'line_too_long'
          WHEN text IS NULL THEN 'encoding'
          WHEN r IS NULL THEN 'json_invalid'
          WHEN {missing} THEN 'missing_required'
          WHEN {unknown_provider} THEN 'unknown_provider'
          WHEN ts IS NULL THEN 'bad_timestamp'
          WHEN {" OR ".join(_not_integer(f) for f in TOKEN_FIELDS)}
            OR {" OR ".join(_not_finite(f) for f in DURATION_FIELDS)}
            OR {" OR ".join(_not_boolean(f) for f in BOOLEAN_FIELDS)} THEN 'bad_type'
          WHEN {" OR ".join(f"try_cast(r.{f} AS BIGINT) < 0" for f in TOKEN_FIELDS)} THEN 'negative_tokens'
          {time_codes}
        END AS error_code
    """, f"""
        CASE
          WHEN line_bytes > $max_line_bytes
            THEN 'line of ' || line_bytes || ' bytes is longer than the ' || $max_line_bytes || ' a record may have'
          WHEN text IS NULL THEN 'line is not valid UTF-8'
          WHEN r IS NULL THEN 'not a JSON object'
          {details}
          {time_details}
        END
    """


_ERROR_CODE, _ERROR_DETAIL = _errors_sql()
_KNOWN_LIST = "[" + ", ".join(f"'{f}'" for f in KNOWN_FIELDS) + "]"

CHECKED_SQL = f"""
WITH parsed AS (
    -- one JSON parse per line; anything that is not an object becomes NULL
    SELECT *, CASE WHEN starts_with(ltrim(text), '{{') AND line_bytes <= $max_line_bytes
                   THEN try(json_transform(text, '{_STRUCTURE}')) END AS r
    FROM lines_text
), typed AS (
    SELECT *, CASE WHEN regexp_matches(r.timestamp, '{UTC_OFFSET_SQL_PATTERN}')
                   THEN try_cast(r.timestamp AS TIMESTAMPTZ) END AS ts,
           {canonical_sql("trim(r.provider)")} AS canonical_provider  -- mapped once, checked and kept
    FROM parsed
), coded AS (
    SELECT *, {_ERROR_CODE} FROM typed
)
SELECT *, CASE WHEN error_code IS NOT NULL THEN {_ERROR_DETAIL} END AS error_detail,
       CASE WHEN r IS NOT NULL THEN list_filter(json_keys(text), lambda k: NOT list_contains({_KNOWN_LIST}, k)) END
           AS unknown_keys
FROM coded
"""

ACCEPTED_SQL = f"""
SELECT
    {", ".join(f"nullif(trim(r.{f}), '') AS {f}" for f in STRING_FIELDS if f not in ("timestamp", "provider"))},
    canonical_provider AS provider,
    CAST(ts AS DATE) AS event_date,
    ts AS "timestamp",
    {", ".join(f"CAST(r.{f} AS BIGINT) AS {f}" for f in TOKEN_FIELDS)},
    {", ".join(f"CAST(r.{f} AS DOUBLE) AS {f}" for f in DURATION_FIELDS)},
    {", ".join(f"CAST(r.{f} AS BOOLEAN) AS {f}" for f in BOOLEAN_FIELDS)},
    $source_file AS source_file,
    line_no
FROM checked WHERE error_code IS NULL
"""

UNKNOWN_FIELDS_SQL = """
SELECT key, count(*) FROM (SELECT unnest(unknown_keys) AS key FROM checked) GROUP BY key
"""

APP_LOG_FORMAT = LineFormat("app_logs", CHECKED_SQL, ACCEPTED_SQL, UNKNOWN_FIELDS_SQL)
