"""Loads on hand-made landing zones: unreadable files, restated billing, undated files."""

import gzip
import json
import shutil
from dataclasses import replace
from datetime import UTC, date, datetime

from audit_pipeline.lake import Lake
from audit_pipeline.landing import Landing
from audit_pipeline.loads.billing import load_billing
from audit_pipeline.loads.calls import load_calls, stored_versus_logged
from tests.conftest import FIXTURES

DAY = date(2026, 11, 20)
NOW = datetime(2026, 11, 27, tzinfo=UTC)


def _record(event_id: str) -> str:
    return json.dumps({"event_id": event_id, "timestamp": "2026-11-20T10:00:00Z", "ai_system": "s",
                       "provider": "openai", "request_model": "gpt-4o-mini", "input_tokens": 5})


def test_a_corrupt_gzip_is_reported_failed_and_the_other_files_still_load(tmp_path):
    folder = tmp_path / "landing/logs/app/2026-11-20"
    folder.mkdir(parents=True)
    (folder / "good.jsonl").write_text(_record("a") + "\n" + _record("b") + "\n")
    (folder / "broken.jsonl.gz").write_bytes(gzip.compress(("\n".join(_record(f"z{i}") for i in range(5000)) + "\n").encode())[:2000])
    (tmp_path / "landing/logs/app/undated").mkdir(parents=True)
    (tmp_path / "landing/logs/app/undated/calls.jsonl").write_text(_record("c") + "\n")
    lake = Lake(str(tmp_path / "lake"))
    reports = load_calls(Landing(str(tmp_path / "landing")), lake, DAY, DAY, NOW)
    by_file = {f.source_file.rsplit("/", 1)[-1]: f for r in reports for f in r.files}
    assert by_file["good.jsonl"].status == "ok" and by_file["good.jsonl"].rows_accepted == 2
    broken = by_file["broken.jsonl.gz"]
    assert broken.status == "failed" and "broken.jsonl.gz" in broken.error
    assert broken.balanced  # records before the corruption are counted, not lost
    assert by_file["calls.jsonl"].status == "failed" and "no YYYY-MM-DD day" in by_file["calls.jsonl"].error
    assert {"a", "b"} <= set(lake.read("llm_calls", columns=["event_id"]).column("event_id").to_pylist())


def test_a_restated_billing_day_replaces_the_earlier_pull(tmp_path):
    root = tmp_path / "landing/billing/openai/usage"
    page = json.loads((FIXTURES / "openai/usage_page.json").read_text())
    (root / "pull-20251006").mkdir(parents=True)
    (root / "pull-20251006/page-001.json").write_text(json.dumps(page))
    restated = json.loads(json.dumps(page))
    restated["data"][1]["results"][0]["output_tokens"] = 99999
    (root / "pull-20251008").mkdir(parents=True)
    (root / "pull-20251008/page-001.json").write_text(json.dumps(restated))
    lake = Lake(str(tmp_path / "lake"))
    day = date(2025, 10, 5)
    [report] = [r for r in load_billing(Landing(str(tmp_path / "landing")), lake, day, day, NOW)
                if r.source == "openai_usage"]
    rows = lake.read("billing_usage").to_pylist()
    assert len(rows) == 2 and {r["source_file"].split("/")[3] for r in rows} == {"pull-20251008"}
    assert 99999 in [r["output_tokens"] for r in rows]
    old = next(f for f in report.files if "pull-20251006" in f.source_file)
    assert (old.rows_accepted, old.rows_superseded, old.rows_quarantined) == (0, 2, 1)
    assert all(f.balanced for f in report.files)


def test_a_page_that_is_not_json_is_a_failed_file_not_a_crash(tmp_path):
    root = tmp_path / "landing/billing/openai/usage/pull-20251006"
    root.mkdir(parents=True)
    shutil.copy(FIXTURES / "openai/usage_page.json", root / "page-001.json")
    (root / "page-002.json").write_text('{"data": [')
    [report] = [r for r in load_billing(Landing(str(tmp_path / "landing")), Lake(str(tmp_path / "lake")),
                                        date(2025, 10, 5), date(2025, 10, 5), NOW)
                if r.source == "openai_usage"]
    [failed] = report.failed_files
    assert "page-002.json" in failed.error
    assert report.total("rows_accepted") == 2


def test_a_rerun_skips_days_whose_files_did_not_change(tmp_path):
    folder = tmp_path / "landing/logs/app"
    for day in ("2026-11-19", "2026-11-20", "2026-11-21"):
        (folder / day).mkdir(parents=True)
        (folder / day / "calls.jsonl").write_text(_record(f"e-{day}").replace("2026-11-20T", f"{day}T") + "\n")
    landing, lake = Landing(str(tmp_path / "landing")), Lake(str(tmp_path / "lake"))
    first, last = date(2026, 11, 19), date(2026, 11, 21)
    load_calls(landing, lake, first, last, NOW)
    version = lake.version("llm_calls")

    [again, _] = load_calls(landing, lake, first, last, NOW)
    assert again.days == [] and again.days_skipped == 3
    assert lake.version("llm_calls") == version  # nothing rewritten

    changed = folder / "2026-11-21" / "calls.jsonl"
    changed.write_text(changed.read_text() + _record("e-late").replace("2026-11-20T", "2026-11-21T") + "\n")
    [third, _] = load_calls(landing, lake, first, last, NOW)
    assert third.days == [date(2026, 11, 20), date(2026, 11, 21)]  # its day and the day before
    ids = set(lake.read("llm_calls", columns=["event_id"]).column("event_id").to_pylist())
    assert ids == {"e-2026-11-19", "e-2026-11-20", "e-2026-11-21", "e-late"}


def test_the_stored_rows_are_checked_against_the_rows_the_log_accepted(tmp_path):
    folder = tmp_path / "landing/logs/app/2026-11-20"
    folder.mkdir(parents=True)
    (folder / "calls.jsonl").write_text("".join(_record(f"e-{k}") + "\n" for k in range(3)))
    lake = Lake(str(tmp_path / "lake"))
    load_calls(Landing(str(tmp_path / "landing")), lake, DAY, DAY, NOW)
    assert stored_versus_logged(lake, [DAY]) == []
    kept = lake.read("llm_calls").slice(0, 2)  # a write that lost a row
    lake.replace_where("llm_calls", kept, "event_date = '2026-11-20'")
    assert stored_versus_logged(lake, [DAY]) == ["2026-11-20: ingest_log accepted 3 rows, llm_calls holds 2"]


def test_rows_read_before_a_file_breaks_are_not_loaded(tmp_path, monkeypatch):
    import audit_pipeline.sources.lines as lines_module
    from audit_pipeline.sources import registry

    # small blocks and checks, so rows are staged before the damage is reached
    monkeypatch.setattr(lines_module, "BLOCK_SIZE", 4096)
    monkeypatch.setattr(registry, "SOURCES", tuple(
        replace(s, line_format=replace(s.line_format, chunk_lines=100)) if isinstance(s, registry.LineSource) else s
        for s in registry.SOURCES))
    folder = tmp_path / "landing/logs/app/2026-11-20"
    folder.mkdir(parents=True)
    whole = gzip.compress("".join(_record(f"e-{k}") + "\n" for k in range(2000)).encode())
    (folder / "calls.jsonl.gz").write_bytes(whole[: len(whole) * 3 // 4])
    (folder / "other.jsonl").write_text(_record("e-other") + "\n")
    lake = Lake(str(tmp_path / "lake"))
    load_calls(Landing(str(tmp_path / "landing")), lake, DAY, DAY, NOW)
    assert lake.read("llm_calls", columns=["event_id"])["event_id"].to_pylist() == ["e-other"]
    failed = lake.read("ingest_log", where="status = 'failed'").to_pylist()
    assert [f["source_file"] for f in failed] == ["logs/app/2026-11-20/calls.jsonl.gz"]
