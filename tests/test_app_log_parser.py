"""The JSON-lines parser: every line is accepted or rejected with a code naming the field."""

import io
from datetime import date

import pyarrow as pa
import pytest

from audit_pipeline.redaction import mask_batch
from audit_pipeline.sources.app_logs import APP_LOG_FORMAT
from audit_pipeline.sources.lines import ParsedFile, parse_lines
from tests.conftest import FIXTURES

FIXTURE = FIXTURES / "app_logs" / "mixed-2026-11-20.jsonl"
DAY = date(2026, 11, 20)


@pytest.fixture(scope="module")
def parsed():
    result = ParsedFile()
    with FIXTURE.open("rb") as stream:
        accepted = pa.concat_tables(
            parse_lines(stream, "mixed.jsonl", (DAY, DAY), APP_LOG_FORMAT, result))
    rejected = pa.concat_tables(result.rejected)
    return accepted, {row["line_no"]: row for row in rejected.to_pylist()}, result


def test_valid_records_are_accepted_with_types_and_utc_times(parsed):
    accepted, _, _ = parsed
    rows = {r["event_id"]: r for r in accepted.to_pylist()}
    assert set(rows) == {"e-ok-1", "e-ok-2"}
    first = rows["e-ok-1"]
    assert first["event_date"] == date(2026, 11, 20)
    assert first["timestamp"].utcoffset().total_seconds() == 0
    assert (first["input_tokens"], first["cached_input_tokens"], first["output_tokens"]) == (1200, 200, 80)
    assert first["latency_ms"] == 812.5
    assert first["line_no"] == 1  # the byte-order mark did not make line 1 invalid
    assert rows["e-ok-2"]["input_tokens"] == 42  # integers sent as strings are accepted
    assert rows["e-ok-2"]["timestamp"].microsecond == 123000


@pytest.mark.parametrize(
    ("line_no", "code", "field"),
    [
        (4, "json_invalid", None),
        (5, "json_invalid", None),
        (6, "missing_required", "provider"),
        (7, "missing_required", "event_id"),
        (8, "bad_timestamp", "timestamp"),
        (9, "bad_type", "output_tokens"),
        (10, "bad_type", "latency_ms"),  # NaN: not a finite number
        (11, "negative_tokens", "output_tokens"),
        (12, "outside_file_day", "timestamp"),
        (13, "json_invalid", None),
        (14, "encoding", None),
    ],
)
def test_each_bad_line_is_rejected_with_its_line_number_and_field(parsed, line_no, code, field):
    _, rejected, _ = parsed
    assert rejected[line_no]["error_code"] == code
    if field:
        assert field in rejected[line_no]["error_detail"]


def test_counts_add_up_and_blank_lines_are_not_records(parsed):
    accepted, rejected, result = parsed
    assert result.rows_read == accepted.num_rows + len(rejected) == 13  # 14 lines, one blank


def test_secrets_in_accepted_rows_and_excerpts_are_replaced_where_they_are_stored(parsed):
    accepted, rejected, _ = parsed
    rejected_table = pa.Table.from_pylist(list(rejected.values()))
    text = str(mask_batch(accepted).to_pylist()) + str(mask_batch(rejected_table).to_pylist())
    assert "sk-proj-AbCdEf" not in text
    assert "abcdefghijklmnopqrstuvwxyz012345" not in text
    stored = {r["line_no"]: r for r in mask_batch(rejected_table).to_pylist()}
    assert "[REDACTED/openai_key/" in stored[13]["raw_excerpt"]


def test_unknown_fields_are_counted_not_rejected(parsed):
    _, _, result = parsed
    assert result.unknown_fields == {"unknown_field": 1}  # the non-UTF-8 line is not parsed


def _parse_text(text: str) -> tuple[list[dict], list[dict]]:
    result = ParsedFile()
    tables = list(parse_lines(io.BytesIO(text.encode()), "pricing.jsonl", (DAY, DAY), APP_LOG_FORMAT, result))
    accepted = [r for t in tables for r in t.to_pylist()]
    return accepted, [r for t in result.rejected for r in t.to_pylist()]


def test_what_sets_the_price_is_kept_and_a_batch_flag_must_be_a_boolean():
    """Anthropic's Messages API `usage` of a batch result with web searches, as an application
    logs it (service_tier, inference_geo, server_tool_use.web_search_requests)."""
    base = ('"timestamp": "2026-11-20T10:00:00Z", "ai_system": "s", "provider": "anthropic", '
            '"request_model": "claude-sonnet-4-5"')
    accepted, rejected = _parse_text(
        f'{{"event_id": "a", {base}, "service_tier": "batch", "batch": true, "inference_geo": "us", '
        f'"web_search_requests": 3}}\n'
        f'{{"event_id": "b", {base}, "batch": "yes"}}\n')
    [row] = accepted
    assert (row["service_tier"], row["batch"], row["inference_geo"], row["web_search_requests"]) == (
        "batch", True, "us", 3)
    [bad] = rejected
    assert (bad["line_no"], bad["error_code"]) == (2, "bad_type")
    assert bad["error_detail"] == "field batch: expected true or false, got yes"
