"""The dimensions that set a price (tier, prompt-length band, inference geography, web
searches) survive from the bill and the logs to the reconciliation and the per-call cost.

The bills are the Anthropic Admin API's documented usage-report and cost-report rows
(tests/fixtures/real/anthropic, provenance in its README) with their documented
`service_tier` and `context_window` values varied, the calls as an application logs Anthropic's
Messages API `usage`. Every expected figure is the catalog price (claude.com/pricing, shipped
in reference/prices.csv) times the tokens, worked by hand in the comments."""

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pyarrow as pa
import pytest

from audit_pipeline.lake import Lake
from audit_pipeline.loads.lineage import build_output_lineage
from audit_pipeline.policy import Tolerances
from audit_pipeline.schemas import LLM_CALLS, TABLES, conform
from audit_pipeline.sources import anthropic_billing, openai_billing
from audit_pipeline.spend.reconcile import conservation_gaps, reconcile
from tests.conftest import PARSED_AT as NOW
from tests.conftest import fixture_bytes

DAY = date(2025, 10, 1)
MODEL = "claude-sonnet-4-5-20250929"
KEY = "apikey_01Rj2N8SVvo6BePZj99NhmiT"


def _documented(name: str) -> dict:
    return json.loads(fixture_bytes("real", "anthropic", name))


def _usage_page() -> bytes:
    """Three results of the documented usage row: standard and batch under 200K tokens, and a
    long (200K–1M) prompt."""
    page = _documented("usage_report_messages.json")
    [row] = page["data"][0]["results"]
    base = {**row, "model": MODEL, "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
            "cache_read_input_tokens": 0, "server_tool_use": {"web_search_requests": 0}}
    results = [
        {**base, "uncached_input_tokens": 1500, "cache_read_input_tokens": 200, "output_tokens": 500,
         "cache_creation": {"ephemeral_5m_input_tokens": 500, "ephemeral_1h_input_tokens": 0},
         "server_tool_use": {"web_search_requests": 10}},
        {**base, "service_tier": "batch", "uncached_input_tokens": 4_000_000, "output_tokens": 1_000_000},
        {**base, "context_window": "200k-1M", "uncached_input_tokens": 250_000, "output_tokens": 2000},
    ]
    page["data"] = [{"starting_at": f"{DAY}T00:00:00Z", "ending_at": "2025-10-02T00:00:00Z", "results": results}]
    return json.dumps(page).encode()


def _cost_page() -> bytes:
    """The documented cost row per tier, band and token type, at the catalog's prices (cents)."""
    page = _documented("cost_report.json")
    base = page["data"][0]["results"][0]
    lines = [  # (tier, band, token type, cents)
        ("standard", "0-200k", "uncached_input_tokens", "0.45"),     # 1,500 × $3/M = $0.0045
        ("standard", "0-200k", "cache_read_input_tokens", "0.006"),  # 200 × $0.30/M
        ("standard", "0-200k", "cache_creation.ephemeral_5m_input_tokens", "0.1875"),  # 500 × $3.75/M
        ("standard", "0-200k", "output_tokens", "0.75"),             # 500 × $15/M
        ("batch", "0-200k", "uncached_input_tokens", "600"),         # 4M × $1.50/M = $6
        ("batch", "0-200k", "output_tokens", "750"),                 # 1M × $7.50/M = $7.50
        ("standard", "200k-1M", "uncached_input_tokens", "150"),     # 250K × $6/M = $1.50
        ("standard", "200k-1M", "output_tokens", "4.5"),             # 2,000 × $22.50/M = $0.045
    ]
    results = [{**base, "model": MODEL, "service_tier": tier, "context_window": band, "token_type": token_type,
                "amount": cents} for tier, band, token_type, cents in lines]
    results.append({**base, "model": MODEL, "cost_type": "web_search", "token_type": None, "service_tier": None,
                    "context_window": None, "description": "Web Search Usage", "amount": "10"})  # 10 × $10/1,000
    page["data"] = [{"starting_at": f"{DAY}T00:00:00Z", "ending_at": "2025-10-02T00:00:00Z", "results": results}]
    return json.dumps(page).encode()


def _calls(tiers: bool = True, searches: bool = True) -> pa.Table:
    """The calls as logged: input tokens include cache reads and writes (GenAI convention)."""
    calls = [
        {"event_id": "standard", "input_tokens": 2200, "cached_input_tokens": 200, "cache_write_tokens": 500,
         "output_tokens": 500, "service_tier": "standard", "web_search_requests": 10 if searches else None},
        *({"event_id": f"batch-{n}", "input_tokens": 100_000, "output_tokens": 25_000, "service_tier": "batch"}
          for n in range(40)),  # 4M input and 1M output in prompts under 200K
        {"event_id": "long", "input_tokens": 250_000, "output_tokens": 2000, "service_tier": "standard"},
    ]
    rows = [{**c, "service_tier": c["service_tier"] if tiers else None, "event_date": DAY,
             "timestamp": datetime(2025, 10, 1, 12, tzinfo=UTC), "provider": "anthropic", "api_key_id": KEY,
             "ai_system": "support-bot", "request_model": MODEL, "response_model": MODEL} for c in calls]
    return conform(pa.Table.from_pylist(rows), LLM_CALLS)


@pytest.fixture
def lake(tmp_path):
    lake = Lake(str(tmp_path / "lake"))
    lake.append("billing_usage", anthropic_billing.parse_usage_page(_usage_page(), "u.json", NOW).rows)
    lake.append("billing_costs", anthropic_billing.parse_cost_page(_cost_page(), "c.json", NOW).rows)
    return lake


def _rows(lake: Lake) -> dict[tuple, dict]:
    rows = reconcile(lake, DAY, DAY, Tolerances(), NOW)
    lake.append("spend_reconciliation", conform(rows, TABLES["spend_reconciliation"]))
    return {(r["price_tier"], r["context_window"], r["token_type"]): r for r in rows.to_pylist()}


def test_tiers_and_bands_reconcile_apart_and_each_is_priced_at_its_own_rate(lake):
    lake.append("llm_calls", _calls())
    rows = _rows(lake)
    tokens = {k: (r["billed_tokens"], r["logged_tokens"], r["billed_cost"], r["computed_cost"], r["status"])
              for k, r in rows.items() if r["unit"] == "tokens"}
    assert tokens == {
        ("standard", "0-200k", "uncached_input"): (1500, 1500, Decimal("0.0045"), Decimal("0.0045"), "match"),
        ("standard", "0-200k", "cache_read"): (200, 200, Decimal("0.00006"), Decimal("0.00006"), "match"),
        ("standard", "0-200k", "cache_write"): (500, 500, Decimal("0.001875"), Decimal("0.001875"), "match"),
        ("standard", "0-200k", "output"): (500, 500, Decimal("0.0075"), Decimal("0.0075"), "match"),
        ("batch", "0-200k", "uncached_input"): (4_000_000, 4_000_000, Decimal("6"), Decimal("6"), "match"),
        ("batch", "0-200k", "output"): (1_000_000, 1_000_000, Decimal("7.5"), Decimal("7.5"), "match"),
        ("standard", "200k-1M", "uncached_input"): (250_000, 250_000, Decimal("1.5"), Decimal("1.5"), "match"),
        ("standard", "200k-1M", "output"): (2000, 2000, Decimal("0.045"), Decimal("0.045"), "match"),
    }
    assert rows[("batch", "0-200k", "output")]["price_id"] == f"anthropic-{MODEL}-out-batch"
    assert rows[("standard", "200k-1M", "uncached_input")]["price_id"] == f"anthropic-{MODEL}-in-long"
    assert conservation_gaps(lake, DAY, DAY) == []


def test_logged_web_searches_are_compared_and_priced_per_search(lake):
    lake.append("llm_calls", _calls())
    search = _rows(lake)[(None, None, "web_search")]
    assert (search["unit"], search["billed_tokens"], search["logged_tokens"], search["billed_cost"],
            search["computed_cost"], search["status"]) == ("requests", 10, 10, Decimal("0.1"), Decimal("0.1"), "match")


def test_searches_the_logs_do_not_count_stay_an_unreconciled_charge(lake):
    lake.append("llm_calls", _calls(searches=False))
    search = _rows(lake)[(None, None, "web_search")]
    assert (search["billed_tokens"], search["logged_tokens"], search["status"]) == (10, 0, "unreconciled_charge")
    assert conservation_gaps(lake, DAY, DAY) == []


def test_logs_without_a_tier_compare_all_tiers_together_and_price_them_standard(lake):
    lake.append("llm_calls", _calls(tiers=False))
    rows = _rows(lake)
    assert {k[0] for k in rows} == {None}  # the tier is not compared: the logs do not carry it
    short_input = rows[(None, "0-200k", "uncached_input")]
    # 4,001,500 tokens on both sides; billed $6 + $0.0045, computed all at the standard $3/M
    assert (short_input["billed_tokens"], short_input["logged_tokens"]) == (4_001_500, 4_001_500)
    assert (short_input["billed_cost"], short_input["computed_cost"]) == (Decimal("6.0045"), Decimal("12.0045"))
    assert short_input["status"] == "cost_mismatch"
    assert conservation_gaps(lake, DAY, DAY) == []


def test_a_call_is_priced_at_its_tier_band_and_searches_in_lineage(lake):
    lake.append("llm_calls", _calls())
    for table in ("prompt_versions", "prompt_commits"):
        lake.append(table, TABLES[table].empty_table())
    build_output_lineage(lake, DAY, DAY, NOW)
    costs = {r["event_id"]: (r["computed_cost_usd"], r["price_id"])
             for r in lake.read("output_lineage").to_pylist()}
    # 1,500 uncached × $3 + 200 × $0.30 + 500 × $3.75 + 500 × $15 per M, plus 10 searches × $0.01
    assert costs["standard"][0] == Decimal("0.0045") + Decimal("0.00006") + Decimal("0.001875") + Decimal("0.0075") \
        + Decimal("0.1")
    batch_prices = f"anthropic-{MODEL}-in-batch,anthropic-{MODEL}-out-batch"  # only what the call consumed
    assert costs["batch-0"] == (Decimal("0.3375"), batch_prices)  # 100K × $1.50 + 25K × $7.50 per M
    assert costs["long"][0] == Decimal("1.545")  # 250K × $6 + 2,000 × $22.50 per M
    assert f"anthropic-{MODEL}-web-search" in costs["standard"][1]


def _one_hour_cache_bill(lake: Lake) -> None:
    """The documented usage row as published: 500 five-minute and 1,000 one-hour cache writes,
    billed in two cost lines (5 minutes at $3.75/M, 1 hour at $6/M)."""
    page = _documented("usage_report_messages.json")
    page["data"][0]["results"][0].update(model=MODEL, server_tool_use={"web_search_requests": 0})
    page["data"] = [{**page["data"][0], "starting_at": f"{DAY}T00:00:00Z", "ending_at": "2025-10-02T00:00:00Z"}]
    costs = _documented("cost_report.json")
    base = costs["data"][0]["results"][0]
    costs["data"][0].update(starting_at=f"{DAY}T00:00:00Z", ending_at="2025-10-02T00:00:00Z", results=[
        {**base, "model": MODEL, "token_type": "cache_creation.ephemeral_5m_input_tokens", "amount": "0.1875"},
        {**base, "model": MODEL, "token_type": "cache_creation.ephemeral_1h_input_tokens", "amount": "0.6"}])
    lake.append("billing_usage", anthropic_billing.parse_usage_page(json.dumps(page).encode(), "u.json", NOW).rows)
    lake.append("billing_costs", anthropic_billing.parse_cost_page(json.dumps(costs).encode(), "c.json", NOW).rows)


@pytest.mark.parametrize(("logged_1h", "computed", "status"), [
    (1000, Decimal("0.007875"), "match"),  # 500 × $3.75 + 1,000 × $6 per M, as billed
    (None, Decimal("0.005625"), "cost_mismatch")])  # all 1,500 at the 5-minute price: the log lacks the split
def test_one_hour_cache_writes_are_priced_apart_where_the_logs_say_which_they_were(tmp_path, logged_1h, computed,
                                                                                   status):
    lake = Lake(str(tmp_path / "lake"))
    _one_hour_cache_bill(lake)
    call = {"event_id": "c", "event_date": DAY, "timestamp": datetime(2025, 10, 1, 12, tzinfo=UTC),
            "provider": "anthropic", "api_key_id": KEY, "ai_system": "support-bot", "request_model": MODEL,
            "response_model": MODEL, "input_tokens": 3200, "cached_input_tokens": 200, "cache_write_tokens": 1500,
            "cache_write_1h_tokens": logged_1h, "output_tokens": 500, "service_tier": "standard"}
    lake.append("llm_calls", conform(pa.Table.from_pylist([call]), LLM_CALLS))
    writes = _rows(lake)[("standard", "0-200k", "cache_write")]
    assert (writes["billed_tokens"], writes["logged_tokens"], writes["billed_cost"]) == (
        1500, 1500, Decimal("0.007875"))
    assert (writes["computed_cost"], writes["status"]) == (computed, status)


def _openai_page(name: str, results: list[dict]) -> bytes:
    page = json.loads(fixture_bytes("real", "openai", name))
    template = page["data"][0]["results"][0]
    page["data"][0]["results"] = [{**template, **r} for r in results]
    return json.dumps(page).encode()


def test_openai_tiers_compare_together_where_its_cost_lines_do_not_name_them_yet_each_is_priced_at_its_own(tmp_path):
    """The documented OpenAI usage result grouped by key, model and `batch` (two rows), and the
    documented cost result grouped by line item (which names no tier)."""
    day, mini = date(2024, 11, 1), "gpt-4o-mini-2024-07-18"
    grouped = {"api_key_id": "key_abc", "model": mini, "input_cached_tokens": 0}
    usage = _openai_page("usage_completions_ungrouped.json", [
        {**grouped, "batch": False, "input_tokens": 1_000_000, "output_tokens": 100_000},
        {**grouped, "batch": True, "input_tokens": 2_000_000, "output_tokens": 400_000}])
    costs = _openai_page("costs_ungrouped.json", [  # $0.15 + $0.15 (batch $0.075/M); $0.06 + $0.12
        {"api_key_id": "key_abc", "line_item": f"{mini}, input", "amount": {"value": "0.30", "currency": "usd"}},
        {"api_key_id": "key_abc", "line_item": f"{mini}, output", "amount": {"value": "0.18", "currency": "usd"}}])
    lake = Lake(str(tmp_path / "lake"))
    lake.append("billing_usage", openai_billing.parse_usage_page(usage, "u.json", NOW).rows)
    lake.append("billing_costs", openai_billing.parse_costs_page(costs, "c.json", NOW).rows)
    calls = [{"event_id": f"{tier}-{n}", "event_date": day, "timestamp": datetime(2024, 11, 1, 12, tzinfo=UTC),
              "provider": "openai", "api_key_id": "key_abc", "ai_system": "s", "request_model": "gpt-4o-mini",
              "response_model": mini, "input_tokens": tokens, "output_tokens": output,
              "service_tier": "default", "batch": tier == "batch"}
             for tier, tokens, output, count in (("standard", 100_000, 10_000, 10), ("batch", 200_000, 40_000, 10))
             for n in range(count)]
    lake.append("llm_calls", conform(pa.Table.from_pylist(calls), LLM_CALLS))
    rows = reconcile(lake, day, day, Tolerances(), NOW).to_pylist()
    assert {(r["price_tier"], r["token_type"]): (r["billed_tokens"], r["logged_tokens"], r["billed_cost"],
                                                r["computed_cost"], r["status"]) for r in rows} == {
        (None, "uncached_input"): (3_000_000, 3_000_000, Decimal("0.30"), Decimal("0.30"), "match"),
        (None, "output"): (500_000, 500_000, Decimal("0.18"), Decimal("0.18"), "match")}
    assert {r["price_id"] for r in rows} == {
        f"openai-{mini}-in-2024,openai-{mini}-in-batch-2024", f"openai-{mini}-out-2024,openai-{mini}-out-batch-2024"}
