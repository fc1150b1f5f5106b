"""OpenAI Usage and Costs pages: units, nulls, traps (docs/reference/billing-formats.md §1)."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from audit_pipeline.sources.openai_billing import (
    parse_costs_page,
    parse_usage_page,
    split_line_item,
)
from audit_pipeline.sources.pages import PageError
from tests.conftest import PARSED_AT as NOW
from tests.conftest import fixture_bytes


def test_usage_page_normalises_token_types_and_keeps_unknown_as_null():
    parsed = parse_usage_page(fixture_bytes("openai", "usage_page.json"), "usage.json", NOW)
    rows = {r["model"]: r for r in parsed.rows.to_pylist()}
    full = rows["gpt-4o-2024-08-06"]
    assert full["usage_date"] == date(2025, 10, 5)
    assert full["bucket_start"] == datetime(2025, 10, 5, tzinfo=UTC)
    assert (full["uncached_input_tokens"], full["cache_read_tokens"], full["cache_write_tokens"]) == (53440, 5760, 0)
    assert (full["output_tokens"], full["requests"]) == (10646, 10)
    # An older-shape result: uncached input is derived; cache writes were not reported.
    old = rows["gpt-4o-mini-2024-07-18"]
    assert old["uncached_input_tokens"] == 2805 - 500
    assert old["cache_write_tokens"] is None


def test_usage_page_empty_buckets_yield_no_rows_and_bad_results_are_rejected():
    parsed = parse_usage_page(fixture_bytes("openai", "usage_page.json"), "usage.json", NOW)
    assert parsed.rows.num_rows == 2
    assert parsed.rows_read == 3
    [rejected] = parsed.rejected
    assert rejected["error_code"] == "negative_tokens"
    assert "data[1].results.input_tokens" in rejected["error_detail"]
    assert rejected["day"] == date(2025, 10, 5)


def test_costs_page_amounts_are_exact_decimals_from_strings_numbers_and_scientific_notation():
    parsed = parse_costs_page(fixture_bytes("openai", "costs_page.json"), "costs.json", NOW)
    costs = [r["billed_cost"] for r in parsed.rows.to_pylist()]
    assert costs[:3] == [Decimal("0.00042075"), Decimal("0.0000606"), Decimal("0.00001")]
    assert costs[3] == Decimal(0)  # "0E-6176"
    assert costs[4] == Decimal("0.125")
    assert costs[5] == Decimal("0.0000045")
    assert {r["billing_currency"] for r in parsed.rows.to_pylist()} == {"USD"}
    [rejected] = parsed.rejected
    assert rejected["error_code"] == "bad_type" and "amount.value" in rejected["error_detail"]


@pytest.mark.parametrize(
    ("line_item", "model", "token_type"),
    [
        ("gpt-4o-mini-2024-07-18, input", "gpt-4o-mini-2024-07-18", "uncached_input"),
        ("gpt-4o-mini-2024-07-18, cached input", "gpt-4o-mini-2024-07-18", "cache_read"),
        ("gpt-4o-mini-2024-07-18, output", "gpt-4o-mini-2024-07-18", "output"),
        ("gpt-audio-mini-2025-12-15 audio, input", "gpt-audio-mini-2025-12-15", "uncached_input"),
        ("evals | gpt-4o-mini-2024-07-18 text, output", "gpt-4o-mini-2024-07-18", "output"),
        ("web search tool calls", None, "other"),
        (None, None, None),
    ],
)
def test_line_items_split_on_the_last_comma(line_item, model, token_type):
    assert split_line_item(line_item) == (model, token_type)


@pytest.mark.parametrize("raw", [b"", b"{not json", b'{"data": 3}', b'{"data": [{"results": 5}]}'])
def test_an_unreadable_page_names_the_file_and_field(raw):
    with pytest.raises(PageError, match=r"page\.json"):
        parse_usage_page(raw, "page.json", NOW)
