"""Parsers and the reconciliation on payloads exactly as their producers publish them
(tests/fixtures/real/README.md says where each was published). The figures asserted are the
ones the providers' documentation implies, computed by hand, not by our code."""

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pyarrow as pa
import pytest

from audit_pipeline.lake import Lake
from audit_pipeline.landing import Landing
from audit_pipeline.loads.billing import load_billing
from audit_pipeline.policy import Tolerances
from audit_pipeline.schemas import LLM_CALLS, TABLES, conform
from audit_pipeline.sources import anthropic_billing, openai_billing
from audit_pipeline.spend.reconcile import UNATTRIBUTED, conservation_gaps, reconcile
from tests.conftest import PARSED_AT as NOW
from tests.conftest import fixture_bytes

OPENAI_DAY = date(2024, 11, 1)  # start_time 1730419200
ANTHROPIC_DAY = date(2025, 8, 1)


def _real(*parts: str) -> bytes:
    return fixture_bytes("real", *parts)


def test_openai_documented_usage_counts_cached_tokens_inside_input_and_groups_nothing():
    parsed = openai_billing.parse_usage_page(_real("openai", "usage_completions_ungrouped.json"), "u.json", NOW)
    [row] = parsed.rows.to_pylist()
    assert parsed.rejected == [] and not parsed.unknown_fields
    assert (row["usage_date"], row["uncached_input_tokens"], row["cache_read_tokens"], row["output_tokens"],
            row["requests"]) == (OPENAI_DAY, 200, 800, 500, 5)  # input 1,000 includes the 800 cached
    assert (row["api_key_id"], row["project_id"], row["model"], row["batch"], row["user_id"]) == (
        None, None, None, None, None)  # not grouped by them: unknown, not "not batch"


def test_openai_documented_costs_keep_the_number_amount_exactly():
    parsed = openai_billing.parse_costs_page(_real("openai", "costs_ungrouped.json"), "c.json", NOW)
    [row] = parsed.rows.to_pylist()
    assert (row["billed_cost"], row["billing_currency"], row["model"], row["token_type"]) == (
        Decimal("0.06"), "USD", None, None)


def test_anthropic_documented_usage_counts_both_cache_writes_once():
    parsed = anthropic_billing.parse_usage_page(_real("anthropic", "usage_report_messages.json"), "u.json", NOW)
    [row] = parsed.rows.to_pylist()  # the empty second bucket gives no row
    assert (row["uncached_input_tokens"], row["cache_read_tokens"], row["cache_write_tokens"],
            row["cache_write_1h_tokens"], row["output_tokens"]) == (1500, 200, 1500, 1000, 500)
    total_input = row["uncached_input_tokens"] + row["cache_read_tokens"] + row["cache_write_tokens"]
    assert total_input == 1500 + 200 + 500 + 1000  # the documented sum, the 1-hour writes once
    # the dimensions that set the price are kept, not thrown away
    assert (row["service_tier"], row["batch"], row["context_window"], row["inference_geo"],
            row["web_search_requests"]) == ("standard", False, "0-200k", None, 10)


def test_anthropic_documented_costs_are_cents_and_code_execution_is_a_charge_of_its_own():
    parsed = anthropic_billing.parse_cost_page(_real("anthropic", "cost_report.json"), "c.json", NOW)
    rows = parsed.rows.to_pylist()
    assert [(r["billed_cost"], r["token_type"], r["model"], r["workspace_id"]) for r in rows] == [
        (Decimal("1.2378912"), "uncached_input", "claude-sonnet-4-20250514", "wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ"),
        (Decimal("0.482"), "code_execution", None, "(default workspace)")]


def _calls(day: date, provider: str, model: str, key: str | None, **tokens) -> pa.Table:
    row = {"event_id": f"{provider}-1", "event_date": day, "timestamp": datetime(day.year, day.month, day.day, 12,
                                                                                   tzinfo=UTC),
           "provider": provider, "api_key_id": key, "request_model": model, "response_model": model, **tokens}
    return conform(pa.Table.from_pylist([row]), LLM_CALLS)


@pytest.fixture
def lake(tmp_path):
    return Lake(str(tmp_path / "lake"))


def _load(lake: Lake, usage: pa.Table, costs: pa.Table, calls: pa.Table) -> None:
    lake.append("billing_usage", usage)
    lake.append("billing_costs", costs)
    lake.append("llm_calls", calls)


def test_an_ungrouped_openai_bill_reconciles_in_full_against_the_days_logs(lake):
    usage = openai_billing.parse_usage_page(_real("openai", "usage_completions_ungrouped.json"), "u.json", NOW).rows
    costs = openai_billing.parse_costs_page(_real("openai", "costs_ungrouped.json"), "c.json", NOW).rows
    # the application logged the same calls, on its key and model
    _load(lake, usage, costs, _calls(OPENAI_DAY, "openai", "gpt-4o-mini-2024-07-18", "key_abc", input_tokens=1000,
                                     cached_input_tokens=800, output_tokens=500))
    rows = reconcile(lake, OPENAI_DAY, OPENAI_DAY, Tolerances(), NOW).to_pylist()
    tokens = {r["token_type"]: (r["api_key_id"], r["model"], r["billed_tokens"], r["logged_tokens"], r["status"])
              for r in rows if r["billed_tokens"] or r["logged_tokens"]}
    assert tokens == {"uncached_input": (UNATTRIBUTED, UNATTRIBUTED, 200, 200, "match"),
                      "cache_read": (UNATTRIBUTED, UNATTRIBUTED, 800, 800, "match"),
                      "output": (UNATTRIBUTED, UNATTRIBUTED, 500, 500, "match")}
    [charge] = [r for r in rows if r["billed_cost"]]
    assert (charge["billed_cost"], charge["token_type"], charge["status"], charge["billed_cost_basis"]) == (
        Decimal("0.06"), "other", "unreconciled_charge", "unallocated")  # the $0.06 is not lost
    lake.append("spend_reconciliation", conform(pa.Table.from_pylist(rows), TABLES["spend_reconciliation"]))
    assert conservation_gaps(lake, OPENAI_DAY, OPENAI_DAY) == []


def test_an_anthropic_bill_with_1h_cache_writes_and_code_execution_is_conserved(lake):
    usage = anthropic_billing.parse_usage_page(_real("anthropic", "usage_report_messages.json"), "u.json", NOW).rows
    costs = anthropic_billing.parse_cost_page(_real("anthropic", "cost_report.json"), "c.json", NOW).rows
    key = "apikey_01Rj2N8SVvo6BePZj99NhmiT"
    _load(lake, usage, costs, _calls(ANTHROPIC_DAY, "anthropic", "claude-sonnet-4-20250514", key, input_tokens=3200,
                                     cached_input_tokens=200, cache_write_tokens=1500, output_tokens=500))
    rows = reconcile(lake, ANTHROPIC_DAY, ANTHROPIC_DAY, Tolerances(), NOW).to_pylist()
    by_type = {r["token_type"]: r for r in rows}
    assert (by_type["cache_write"]["billed_tokens"], by_type["cache_write"]["logged_tokens"],
            by_type["cache_write"]["status"]) == (1500, 1500, "match")  # 500 + 1,000, once
    assert {t: by_type[t]["status"] for t in ("uncached_input", "cache_read", "output")} == {
        "uncached_input": "match", "cache_read": "match", "output": "match"}
    assert (by_type["uncached_input"]["billed_cost"], by_type["uncached_input"]["billed_cost_basis"]) == (
        Decimal("1.2378912"), "allocated_from_workspace")
    assert (by_type["code_execution"]["billed_cost"], by_type["code_execution"]["status"]) == (
        Decimal("0.482"), "unreconciled_charge")
    lake.append("spend_reconciliation", conform(pa.Table.from_pylist(rows), TABLES["spend_reconciliation"]))
    assert conservation_gaps(lake, ANTHROPIC_DAY, ANTHROPIC_DAY) == []


def test_a_reconciliation_that_drops_a_billed_row_is_a_conservation_gap(lake):
    usage = anthropic_billing.parse_usage_page(_real("anthropic", "usage_report_messages.json"), "u.json", NOW).rows
    costs = anthropic_billing.parse_cost_page(_real("anthropic", "cost_report.json"), "c.json", NOW).rows
    _load(lake, usage, costs, _calls(ANTHROPIC_DAY, "anthropic", "claude-sonnet-4-20250514", "k", input_tokens=1))
    rows = [r for r in reconcile(lake, ANTHROPIC_DAY, ANTHROPIC_DAY, Tolerances(), NOW).to_pylist()
            if r["token_type"] != "code_execution"]  # as the reconciliation did before: the charge vanished
    lake.append("spend_reconciliation", conform(pa.Table.from_pylist(rows), TABLES["spend_reconciliation"]))
    [gap] = conservation_gaps(lake, ANTHROPIC_DAY, ANTHROPIC_DAY)
    assert (gap["provider"], gap["billed_tokens"], gap["reconciled_tokens"]) == ("anthropic", 3700, 3700)
    assert gap["billed_cost"] - gap["reconciled_cost"] == Decimal("0.482")


def _console_page() -> bytes:
    """A page of the same pull holding only Console usage: its key is null, as the reference
    says Console (Workbench, Playground) usage is even when grouped by key."""
    page = json.loads(_real("anthropic", "usage_report_messages.json"))
    [result] = page["data"][0]["results"]
    page["data"] = [{**page["data"][0], "results": [{**result, "api_key_id": None, "workspace_id": None,
                                                     "output_tokens": 7}]}]
    return json.dumps(page).encode()


def test_console_usage_on_a_page_of_its_own_is_decided_by_its_whole_pull(tmp_path):
    grouped = tmp_path / "landing/billing/anthropic/usage/pull-20250802"
    grouped.mkdir(parents=True)
    (grouped / "page-0001.json").write_bytes(_real("anthropic", "usage_report_messages.json"))
    (grouped / "page-0002.json").write_bytes(_console_page())
    lake = Lake(str(tmp_path / "lake"))
    load_billing(Landing(str(tmp_path / "landing")), lake, ANTHROPIC_DAY, ANTHROPIC_DAY, NOW)
    keys = {(r["api_key_id"], r["workspace_id"], r["output_tokens"]) for r in lake.read("billing_usage").to_pylist()}
    assert keys == {("apikey_01Rj2N8SVvo6BePZj99NhmiT", "wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ", 500),
                    ("(console)", "(default workspace)", 7)}


def test_a_pull_that_was_not_grouped_by_key_leaves_the_key_unknown(tmp_path):
    alone = tmp_path / "landing/billing/anthropic/usage/pull-20250802"
    alone.mkdir(parents=True)
    (alone / "page-0001.json").write_bytes(_console_page())
    lake = Lake(str(tmp_path / "lake"))
    load_billing(Landing(str(tmp_path / "landing")), lake, ANTHROPIC_DAY, ANTHROPIC_DAY, NOW)
    [row] = lake.read("billing_usage").to_pylist()
    assert (row["api_key_id"], row["workspace_id"]) == (None, None)  # nothing says it was the Console


def _openai_page(project: str, input_tokens: int) -> bytes:
    """The documented usage page as a pull filtered to one project and grouped by it."""
    page = json.loads(_real("openai", "usage_completions_ungrouped.json"))
    [result] = page["data"][0]["results"]
    page["data"][0]["results"] = [{**result, "project_id": project, "input_tokens": input_tokens,
                                   "input_cached_tokens": 0}]
    return json.dumps(page).encode()


def _pull(root, name: str, page: bytes) -> None:
    folder = root / "landing/billing/openai/usage" / name
    folder.mkdir(parents=True)
    (folder / "page-0001.json").write_bytes(page)


def _usage_by_project(tmp_path) -> tuple[dict, list]:
    lake = Lake(str(tmp_path / "lake"))
    reports = load_billing(Landing(str(tmp_path / "landing")), lake, OPENAI_DAY, OPENAI_DAY, NOW)
    rows = {r["project_id"]: r["uncached_input_tokens"] for r in lake.read("billing_usage").to_pylist()}
    files = [f for r in reports if r.source == "openai_usage" for f in r.files]
    return rows, files


def test_two_project_filtered_pulls_of_one_day_both_count(tmp_path):
    _pull(tmp_path, "pull-20241102", _openai_page("proj_a", 1000))
    _pull(tmp_path, "pull-20241103", _openai_page("proj_b", 300))  # newer, another project only
    rows, files = _usage_by_project(tmp_path)
    assert rows == {"proj_a": 1000, "proj_b": 300}  # the older pull's project is not dropped
    assert sum(f.rows_superseded for f in files) == 0 and all(f.balanced for f in files)


def test_a_newer_pull_restating_a_project_replaces_only_that_project(tmp_path):
    _pull(tmp_path, "pull-20241102", _openai_page("proj_a", 1000))
    _pull(tmp_path, "pull-20241103", _openai_page("proj_b", 300))
    _pull(tmp_path, "pull-20241104", _openai_page("proj_a", 900))  # a restatement that lowers proj_a
    rows, files = _usage_by_project(tmp_path)
    assert rows == {"proj_a": 900, "proj_b": 300}
    assert sum(f.rows_superseded for f in files) == 1 and all(f.balanced for f in files)


def test_a_newer_ungrouped_pull_restates_every_project_of_the_day(tmp_path):
    _pull(tmp_path, "pull-20241102", _openai_page("proj_a", 1000))
    _pull(tmp_path, "pull-20241103", _real("openai", "usage_completions_ungrouped.json"))
    rows, _ = _usage_by_project(tmp_path)
    assert rows == {None: 200}  # the whole day, restated by a pull grouped by nothing: never summed


FOCUS_DAY = date(2026, 6, 14)


def test_a_whole_focus_cloud_bill_keeps_only_its_llm_charges_and_counts_the_rest(tmp_path):
    folder = tmp_path / "landing/billing/focus/aws/BILLING_PERIOD=2026-06"
    folder.mkdir(parents=True)
    (folder / "part-00001.csv").write_bytes(_real("focus", "aws-focus-1.2-whole-bill.csv"))
    lake = Lake(str(tmp_path / "lake"))
    reports = load_billing(Landing(str(tmp_path / "landing")), lake, FOCUS_DAY, FOCUS_DAY, NOW)
    costs = sorted(lake.read("billing_costs").to_pylist(), key=lambda r: r["billed_cost"])
    assert [(r["billed_cost"], r["provider"], r["model"], r["token_type"], r["tags"]) for r in costs] == [
        (Decimal("-0.050"), "aws_bedrock", None, "other", None),  # a credit keeps its sign; "USD …" names no model
        (Decimal("0.069"), "aws_bedrock", "anthropic.claude-sonnet-4-6", "uncached_input", '{"user_team":"search"}'),
        (Decimal("0.105"), "aws_bedrock", "anthropic.claude-sonnet-4-6", "output", None)]  # literal NULL is null
    [count] = [f for r in reports if r.source == "focus" for f in r.files]
    assert (count.rows_read, count.rows_accepted, count.rows_skipped, count.skipped) == (
        6, 3, 3, {"not_llm_service": 3})  # EC2, S3 and the disk are counted, never LLM spend
    assert count.balanced
    usage = lake.read("billing_usage").to_pylist()
    assert (sum(r["uncached_input_tokens"] or 0 for r in usage), sum(r["output_tokens"] or 0 for r in usage)) == (
        23000, 7000)


def test_bedrock_cur_cache_usage_types_are_their_own_token_types_and_all_four_reconcile(tmp_path):
    root = tmp_path / "landing/billing/aws_cur/bedrock-cur2"
    (root / "metadata/BILLING_PERIOD=2026-06").mkdir(parents=True)
    (root / "data/BILLING_PERIOD=2026-06").mkdir(parents=True)
    (root / "metadata/BILLING_PERIOD=2026-06/bedrock-cur2-Manifest.json").write_bytes(
        _real("aws_cur", "bedrock-cur2-Manifest.json"))
    (root / "data/BILLING_PERIOD=2026-06/bedrock-cur2-00001.csv.gz").write_bytes(
        _real("aws_cur", "bedrock-cur2-00001.csv.gz"))
    lake = Lake(str(tmp_path / "lake"))
    reports = load_billing(Landing(str(tmp_path / "landing")), lake, FOCUS_DAY, FOCUS_DAY, NOW)
    [usage] = lake.read("billing_usage").to_pylist()
    assert (usage["model"], usage["uncached_input_tokens"], usage["cache_read_tokens"], usage["cache_write_tokens"],
            usage["output_tokens"]) == ("anthropic.claude-sonnet-4-6", 23000, 238604, 1314, 14267)
    [count] = [f for r in reports if r.source == "aws_cur" for f in r.files]
    assert (count.rows_accepted, count.skipped) == (4, {"not_a_usage_line": 1, "not_llm_service": 1})
    assert count.balanced
    principal = "arn:aws:iam::123456789012:user/alice"
    calls = _calls(FOCUS_DAY, "aws_bedrock", "anthropic.claude-sonnet-4-6", principal, input_tokens=23000 + 238604 + 1314,
                   cached_input_tokens=238604, cache_write_tokens=1314, output_tokens=14267)
    lake.append("llm_calls", calls)
    rows = reconcile(lake, FOCUS_DAY, FOCUS_DAY, Tolerances(), NOW).to_pylist()
    assert {r["token_type"]: (r["billed_tokens"], r["status"]) for r in rows} == {
        "uncached_input": (23000, "match"), "cache_read": (238604, "match"), "cache_write": (1314, "match"),
        "output": (14267, "match")}


def test_openai_audio_tokens_are_part_of_input_tokens_never_added_to_them():
    page = json.loads(_real("openai", "usage_completions_ungrouped.json"))
    result = page["data"][0]["results"][0]
    # the fields the reference documents beside input_tokens: audio is a part of it, like cached
    page["data"][0]["results"][0] = {**result, "input_audio_tokens": 150, "output_audio_tokens": 40}
    [row] = openai_billing.parse_usage_page(json.dumps(page).encode(), "u.json", NOW).rows.to_pylist()
    assert (row["uncached_input_tokens"], row["cache_read_tokens"], row["output_tokens"]) == (200, 800, 500)
