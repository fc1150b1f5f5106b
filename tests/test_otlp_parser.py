"""OTLP/JSON traces: gen_ai spans become call records; int64 strings, old names, other spans."""

from datetime import UTC, date, datetime

import pyarrow as pa
import pytest

from audit_pipeline.sources.lines import ParsedFile, parse_lines
from audit_pipeline.sources.otlp import OTLP_FORMAT
from tests.conftest import FIXTURES

DAY = date(2026, 6, 14)


@pytest.fixture(scope="module")
def parsed():
    result = ParsedFile()
    with (FIXTURES / "otlp" / "traces-2026-06-14.jsonl").open("rb") as stream:
        accepted = pa.concat_tables(parse_lines(stream, "traces.jsonl", (DAY, DAY), OTLP_FORMAT, result))
    rows = {r["event_id"]: r for r in accepted.to_pylist()}
    rejected = pa.concat_tables(result.rejected).to_pylist()
    return rows, rejected, result


def test_a_current_span_maps_onto_the_call_record(parsed):
    rows, _, _ = parsed
    row = rows["5b8efff798038103d269b633813fc60c-eee19b7ec3c1b174"]
    assert row["timestamp"] == datetime(2026, 6, 14, 1, tzinfo=UTC)
    assert (row["ai_system"], row["provider"]) == ("search-api", "openai")
    assert (row["request_model"], row["response_model"]) == ("gpt-4o-mini", "gpt-4o-mini-2024-07-18")
    assert (row["input_tokens"], row["cached_input_tokens"], row["output_tokens"]) == (2805, 500, 101)
    assert row["latency_ms"] == pytest.approx(1820.0)
    assert (row["finish_reason"], row["response_id"], row["status"]) == ("stop", "chatcmpl-9yZ3kQm2T5", "ok")


def test_deprecated_attribute_names_and_error_status_are_read(parsed):
    rows, _, _ = parsed
    row = rows["evt_legacy"]
    assert row["provider"] == "aws_bedrock"
    assert (row["input_tokens"], row["output_tokens"]) == (40, 7)
    assert (row["status"], row["error_type"]) == ("error", "throttled")


def test_int64_values_sent_as_json_numbers_are_accepted(parsed):
    rows, _, _ = parsed
    row = rows["5b8efff798038103d269b633813fc60c-aaa19b7ec3c1b174"]
    assert row["input_tokens"] == 2805 and row["timestamp"] == datetime(2026, 6, 14, 0, 0, 10, tzinfo=UTC)


def test_spans_that_are_not_model_calls_are_skipped_and_bad_ones_rejected(parsed):
    rows, rejected, result = parsed
    assert len(rows) == 3  # the HTTP span is not a record of this source
    codes = sorted((r["line_no"], r["error_code"]) for r in rejected)
    assert codes == [(1, "missing_required"), (1, "negative_tokens"), (3, "json_invalid")]
    assert result.skipped == {"not_a_model_call": 1}  # counted with its reason, not lost
    assert result.rows_read == len(rows) + len(rejected) + 1
