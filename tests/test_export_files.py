"""AWS CUR 2.0 (through its manifest) and FOCUS 1.0/1.2 exports into the billing tables."""

import shutil
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from audit_pipeline.lake import Lake
from audit_pipeline.landing import Landing
from audit_pipeline.loads.billing import load_billing
from tests.conftest import FIXTURES

DAY = date(2026, 6, 14)
NOW = datetime(2026, 11, 27, tzinfo=UTC)
CUR = "billing/aws_cur/bedrock-export"


def _place(landing: Path, fixture: str, target: str) -> None:
    (landing / target).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(FIXTURES / fixture, landing / target)


@pytest.fixture
def loaded(tmp_path):
    landing = tmp_path / "landing"
    period = "BILLING_PERIOD=2026-06"
    _place(landing, "aws_cur/bedrock-export-Manifest.json", f"{CUR}/metadata/{period}/bedrock-export-Manifest.json")
    _place(landing, "aws_cur/bedrock-export-00001.csv.gz", f"{CUR}/data/{period}/bedrock-export-00001.csv.gz")
    # A file of an earlier delivery, still under the prefix but no longer in the manifest.
    _place(landing, "aws_cur/bedrock-export-stale-00001.csv.gz", f"{CUR}/data/{period}/old/bedrock-export-00001.csv.gz")
    _place(landing, "focus/azure-focus-1.0.csv", "billing/focus/azure/BILLING_PERIOD=2026-06/part-0.csv")
    _place(landing, "focus/aws-focus-1.2.parquet", "billing/focus/aws/BILLING_PERIOD=2026-06/part-0.snappy.parquet")
    lake = Lake(str(tmp_path / "lake"))
    reports = {r.source: r for r in load_billing(Landing(str(landing)), lake, DAY, DAY, NOW)}
    return lake, reports


def _rows(lake: Lake, table: str, source_part: str) -> list[dict]:
    return [r for r in lake.read(table).to_pylist() if source_part in r["source_file"]]


def test_cur_rows_come_only_from_files_the_manifest_lists(loaded):
    lake, reports = loaded
    costs = _rows(lake, "billing_costs", "aws_cur")
    assert {r["source_file"].split("/")[-2] for r in costs} == {"BILLING_PERIOD=2026-06"}
    assert 9.99 not in [float(r["billed_cost"]) for r in costs]
    assert all(f.balanced and f.status == "ok" for f in reports["aws_cur"].files)


def test_cur_bedrock_usage_types_become_model_and_token_type(loaded):
    lake, _ = loaded
    costs = {(r["line_item"], r["api_key_id"]): r for r in _rows(lake, "billing_costs", "aws_cur")}
    first = costs["USE1-Claude4.6Sonnet-input-tokens", "arn:aws:iam::123456789012:user/alice"]
    assert (first["model"], first["token_type"], first["billed_cost"]) == (
        "anthropic.claude-sonnet-4-6", "uncached_input", Decimal("0.069"))
    assert first["project_id"] == "123456789012" and first["tags"] == '{"user_team":"search"}'
    unmapped = costs["USE1-NewModelX-input-tokens", "arn:aws:iam::123456789012:user/bob"]
    assert unmapped["model"] == "NewModelX"  # kept as billed, not dropped
    assert len(costs) == 4  # Tax, EC2 and the next day's row are not this day's Bedrock usage


def test_cur_usage_sums_token_types_per_principal_and_model(loaded):
    lake, _ = loaded
    usage = {r["api_key_id"]: r for r in _rows(lake, "billing_usage", "aws_cur")}
    alice = usage["arn:aws:iam::123456789012:user/alice"]
    assert (alice["uncached_input_tokens"], alice["output_tokens"]) == (23000, 14267)
    role = usage["arn:aws:iam::123456789012:assumed-role/BedrockAppRole/search-svc"]
    assert role["cache_read_tokens"] == 238604
    assert usage["arn:aws:iam::123456789012:user/bob"]["uncached_input_tokens"] == 2000  # 1K tokens


def test_focus_1_0_csv_from_azure(loaded):
    lake, reports = loaded
    costs = {r["line_item"]: r for r in _rows(lake, "billing_costs", "focus/azure")}
    tokens = costs["gpt-4o-mini-2024-07-18 Input Tokens"]
    assert (tokens["provider"], tokens["model"], tokens["token_type"]) == (
        "azure_openai", "gpt-4o-mini-2024-07-18", "uncached_input")
    assert tokens["billed_cost"] == Decimal("0.0462")
    assert costs["Standard_D2s_v3"]["token_type"] == "other"
    usage = _rows(lake, "billing_usage", "focus/azure")
    assert sum(r["output_tokens"] or 0 for r in usage) == 10_000  # 10 × "1K Tokens"
    assert all(f.balanced for f in reports["focus"].files)


def test_focus_1_2_parquet_with_bedrock_meters(loaded):
    lake, _ = loaded
    costs = {r["line_item"]: r for r in _rows(lake, "billing_costs", "focus/aws")}
    assert costs["USE1-Claude4.6Sonnet-output-tokens"]["provider"] == "aws_bedrock"
    assert costs["USE1-Claude4.6Sonnet-output-tokens"]["model"] == "anthropic.claude-sonnet-4-6"
    storage = costs["USE1-TimedStorage-ByteHrs"]
    assert (storage["provider"], storage["model"], storage["token_type"]) == ("aws", None, "other")


def test_a_data_file_the_manifest_lists_but_is_missing_is_a_failed_file(tmp_path):
    landing = tmp_path / "landing"
    _place(landing, "aws_cur/bedrock-export-Manifest.json",
           f"{CUR}/metadata/BILLING_PERIOD=2026-06/bedrock-export-Manifest.json")
    reports = {r.source: r for r in load_billing(Landing(str(landing)), Lake(str(tmp_path / "lake")), DAY, DAY, NOW)}
    [failed] = reports["aws_cur"].failed_files
    assert "listed in the manifest but missing" in failed.error
