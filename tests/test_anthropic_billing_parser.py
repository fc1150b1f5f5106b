"""Anthropic usage and cost reports: cents, cache creation, and nulls that mean something."""

from datetime import date
from decimal import Decimal

from audit_pipeline.sources.anthropic_billing import (
    CONSOLE_KEY,
    DEFAULT_WORKSPACE,
    parse_cost_page,
    parse_usage_page,
)
from tests.conftest import PARSED_AT as NOW
from tests.conftest import fixture_bytes


def test_usage_keeps_each_token_type_and_sums_both_cache_writes():
    parsed = parse_usage_page(fixture_bytes("anthropic", "usage_page.json"), "usage.json", NOW)
    first = parsed.rows.to_pylist()[0]
    assert first["usage_date"] == date(2025, 8, 1)
    assert (first["uncached_input_tokens"], first["cache_read_tokens"]) == (1500, 200)
    assert (first["cache_write_tokens"], first["cache_write_1h_tokens"]) == (1500, 1000)
    assert first["requests"] is None  # not reported: unknown, not zero


def test_null_key_is_console_usage_and_null_workspace_is_the_default_workspace():
    parsed = parse_usage_page(fixture_bytes("anthropic", "usage_page.json"), "usage.json", NOW)
    console = parsed.rows.to_pylist()[1]
    assert console["api_key_id"] == CONSOLE_KEY
    assert console["workspace_id"] == DEFAULT_WORKSPACE
    assert console["cache_write_1h_tokens"] is None  # absent field stays unknown


def test_unknown_fields_are_counted_and_bad_counts_rejected_with_their_path():
    parsed = parse_usage_page(fixture_bytes("anthropic", "usage_page.json"), "usage.json", NOW)
    assert parsed.unknown_fields["speed_bonus_field_from_the_future"] == 1
    [rejected] = parsed.rejected
    assert rejected["error_code"] == "bad_type"
    assert "cache_creation.ephemeral_5m_input_tokens" in rejected["error_detail"]


def test_cost_amounts_are_cents_converted_to_exact_dollars():
    parsed = parse_cost_page(fixture_bytes("anthropic", "cost_page.json"), "cost.json", NOW)
    rows = parsed.rows.to_pylist()
    assert [r["billed_cost"] for r in rows] == [Decimal("1.2378912"), Decimal("0.482"), Decimal("0.000001")]
    assert [r["token_type"] for r in rows] == ["uncached_input", "code_execution", "cache_write"]  # a charge type of its own
    assert rows[1]["workspace_id"] == DEFAULT_WORKSPACE
    assert rows[0]["line_item"] == "Claude Sonnet 4 Usage - Input Tokens"


def test_an_ungrouped_page_leaves_keys_unknown():
    raw = b'{"data": [{"starting_at": "2025-08-01T00:00:00Z", "ending_at": "2025-08-02T00:00:00Z", "results": [{"uncached_input_tokens": 5, "output_tokens": 1, "api_key_id": null, "workspace_id": null}]}]}'
    row = parse_usage_page(raw, "u.json", NOW).rows.to_pylist()[0]
    assert row["api_key_id"] is None and row["workspace_id"] is None
