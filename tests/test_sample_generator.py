"""The sample generator: deterministic, shaped like the real exports, anomalies listed."""

import gzip
import json
from datetime import date
from pathlib import Path

from audit_pipeline.sample.generator import SampleSpec, generate_sample


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file() and ".git" not in p.parts}


def test_the_same_seed_gives_the_same_landing_zone(tmp_path):
    spec = dict(days=2, seed=3, calls_per_day=200, end=date(2026, 11, 20))
    generate_sample(SampleSpec(tmp_path / "a", **spec))
    generate_sample(SampleSpec(tmp_path / "b", **spec))
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    generate_sample(SampleSpec(tmp_path / "c", **{**spec, "seed": 4}))
    assert _files(tmp_path / "a") != _files(tmp_path / "c")


def test_openai_pages_have_an_unaligned_first_bucket_and_empty_buckets(sample_landing):
    landing, _ = sample_landing
    [page] = sorted((landing / "billing/openai/usage").rglob("*.json"))
    buckets = json.loads(page.read_text())["data"]
    assert buckets[0]["start_time"] % 86400 != 0 and buckets[0]["results"] == []
    assert buckets[-1]["results"] == []
    assert all(b["end_time"] % 86400 == 0 for b in buckets)


def test_cost_amounts_use_each_providers_unit_and_type(sample_landing):
    landing, _ = sample_landing
    [openai] = (landing / "billing/openai/costs").rglob("*.json")
    result = json.loads(openai.read_text())["data"][0]["results"][0]
    assert isinstance(result["amount"]["value"], str) and len(result["amount"]["value"]) > 30
    [anthropic] = (landing / "billing/anthropic/cost").rglob("*.json")
    result = json.loads(anthropic.read_text())["data"][0]["results"][0]
    assert isinstance(result["amount"], str) and result["currency"] == "USD"
    assert result["workspace_id"] is None  # the default workspace


def test_the_cur_manifest_lists_its_parquet_data_files(sample_landing):
    landing, _ = sample_landing
    [manifest] = (landing / "billing/aws_cur").rglob("*Manifest.json")
    document = json.loads(manifest.read_text())
    export_root = manifest.parents[2]
    for uri in document["dataFiles"]:
        relative = uri.split(f"/{export_root.name}/", 1)[1]
        assert (export_root / relative).exists()
    assert {"line_item_usage_type", "line_item_iam_principal"} <= {c["name"] for c in document["columns"]}


def test_logs_come_as_jsonl_gzip_and_otlp_with_int64_as_strings(sample_landing):
    landing, truth = sample_landing
    gz = next((landing / "logs/cv-screener").rglob("*.jsonl.gz"))
    assert json.loads(gzip.decompress(gz.read_bytes()).splitlines()[0])["provider"] == "anthropic"
    otlp = next((landing / "logs/otlp").rglob("*.jsonl"))
    span = json.loads(otlp.read_text().splitlines()[0])["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert isinstance(span["startTimeUnixNano"], str)
    tokens = [a for a in span["attributes"] if a["key"].startswith("gen_ai.usage.")]
    assert tokens and all(isinstance(a["value"]["intValue"], str) for a in tokens)
    assert truth["otlp_spans"] > 0


def test_the_ground_truth_lists_every_injected_anomaly(sample_landing):
    landing, truth = sample_landing
    anomalies = truth["anomalies"]
    assert set(anomalies) == {
        "key_with_spend_but_no_logs", "model_billed_never_requested", "day_without_logs",
        "malformed_and_duplicate_lines", "outputs_with_unknown_prompt_version",
        "outputs_identified_only_by_content_hash", "price_mismatch", "quality_violations",
        "retired_model_in_use",
    }
    missing = anomalies["day_without_logs"]
    assert not (landing / "logs" / missing["ai_system"] / missing["day"]).exists()
    assert anomalies["outputs_with_unknown_prompt_version"] > 0
    assert anomalies["outputs_identified_only_by_content_hash"] > 0


def test_the_prompt_repository_has_authors_renames_deletions_and_some_approvals(sample_landing):
    import subprocess

    landing, _ = sample_landing
    log = subprocess.run(["git", "-C", str(landing / "prompt-repo"), "log", "--format=%ae%x09%B%x1e",
                          "--name-status", "-M"], capture_output=True, text=True, check=True).stdout
    assert len({line.split("\t")[0] for line in log.split("\x1e") if "@" in line}) >= 3
    assert "\nR100\t" in log and "\nD\t" in log
    assert "Approved-by:" in log and log.count("Approved-by:") < log.count("\x1e")
    assert (landing / "prompt-repo" / "CODEOWNERS").exists()
