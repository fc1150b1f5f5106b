"""Hostile or broken input gets a clear rejection and moves nothing (issue 15)."""

import io
import json
import re
from datetime import date

import pyarrow as pa
import pytest

from audit_pipeline.sources.app_logs import APP_LOG_FORMAT
from audit_pipeline.sources.lines import ParsedFile, parse_lines
from audit_pipeline.sources.money import TimestampError, utc_from_rfc3339

DAY = date(2026, 11, 20)


def _parse(*timestamps: str) -> tuple[list[str], dict[str, str]]:
    lines = [json.dumps({"event_id": f"e{n}", "timestamp": ts, "ai_system": "s", "provider": "openai",
                         "request_model": "gpt-4o-mini"}) for n, ts in enumerate(timestamps)]
    result = ParsedFile()
    batches = list(parse_lines(io.BytesIO(("\n".join(lines) + "\n").encode()), "x.jsonl", (DAY, DAY),
                               APP_LOG_FORMAT, result))
    accepted = pa.concat_tables(batches)["event_id"].to_pylist() if batches else []
    rejected = {r["line_no"]: r["error_code"] for t in result.rejected for r in t.to_pylist()}
    return accepted, rejected


def test_a_utc_offset_beyond_18_hours_is_a_bad_timestamp_not_a_record_moved_a_day():
    accepted, rejected = _parse("2026-11-20T10:00:00+25:00", "2026-11-20T10:00:00-19:30", "2026-11-20T20:00:00+18:00",
                                "2026-11-20T10:00:00-0530", "2026-11-20T10:00:00Z")
    assert rejected == {1: "bad_timestamp", 2: "bad_timestamp"}
    assert sorted(accepted) == ["e2", "e3", "e4"]


@pytest.mark.parametrize("text", ["2026-11-20T10:00:00+25:00", "2026-11-20T10:00:00-18:30"])
def test_billing_times_with_an_impossible_offset_are_refused_naming_the_field(text):
    with pytest.raises(TimestampError, match="field starting_at"):
        utc_from_rfc3339(text, field="starting_at")


def test_symbolic_links_in_the_landing_zone_are_reported_never_followed(tmp_path):
    from datetime import UTC, datetime

    from audit_pipeline.lake import Lake
    from audit_pipeline.landing import Landing
    from audit_pipeline.loads.billing import load_billing
    from audit_pipeline.loads.calls import load_calls

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (outside / "calls.jsonl").write_text(json.dumps({
        "event_id": "e-outside", "timestamp": "2026-11-20T10:00:00Z", "ai_system": "s", "provider": "openai",
        "request_model": "gpt-4o-mini"}) + "\n")
    (outside / "page").mkdir()
    (outside / "page" / "page-001.json").write_text('{"data": []}')
    logs = tmp_path / "landing/logs/app/2026-11-20"
    logs.mkdir(parents=True)
    (logs / "passwd.jsonl").symlink_to(outside / "passwd")
    (logs / "calls.jsonl").symlink_to(outside / "calls.jsonl")
    (logs / "own.jsonl").write_text(json.dumps({
        "event_id": "e-own", "timestamp": "2026-11-20T11:00:00Z", "ai_system": "s", "provider": "openai",
        "request_model": "gpt-4o-mini"}) + "\n")
    pages = tmp_path / "landing/billing/openai/usage"
    pages.mkdir(parents=True)
    (pages / "pull-x").symlink_to(outside / "page")  # a linked folder is not entered
    (pages / "page-001.json").symlink_to(outside / "page" / "page-001.json")
    lake, landing, now = Lake(str(tmp_path / "lake")), Landing(str(tmp_path / "landing")), datetime.now(UTC)
    load_calls(landing, lake, DAY, DAY, now)
    load_billing(landing, lake, DAY, DAY, now)
    assert lake.read("llm_calls")["event_id"].to_pylist() == ["e-own"]
    failed = {r["source_file"]: r["error"] for r in lake.read("ingest_log", where="status = 'failed'").to_pylist()}
    assert set(failed) == {"logs/app/2026-11-20/passwd.jsonl", "logs/app/2026-11-20/calls.jsonl",
                           "billing/openai/usage/page-001.json"}
    assert all("symbolic link" in error and "never followed" in error for error in failed.values())
    stored = str(lake.read("quarantine").to_pylist()) + str(lake.read("ingest_log").to_pylist())
    assert "root:x:0:0" not in stored and "pull-x" not in stored


def test_landing_file_names_are_literal_never_patterns(tmp_path):
    from datetime import UTC, datetime

    from audit_pipeline.lake import Lake
    from audit_pipeline.landing import Landing
    from audit_pipeline.loads.calls import load_calls

    logs = tmp_path / "landing/logs/app/2026-11-20"
    logs.mkdir(parents=True)
    names = ["a.jsonl", "[a].jsonl", "a*.jsonl", "?.jsonl", "{a,b}.jsonl", "b.jsonl", "*.jsonl", "x[!a].jsonl"]
    for n, name in enumerate(names):
        records = [json.dumps({"event_id": f"e-{n}-{k}", "timestamp": f"2026-11-20T1{k}:00:00Z", "ai_system": "s",
                               "provider": "openai", "request_model": "gpt-4o-mini"}) for k in range(n + 1)]
        (logs / name).write_text("\n".join(records) + "\n")
    lake = Lake(str(tmp_path / "lake"))
    load_calls(Landing(str(tmp_path / "landing")), lake, DAY, DAY, datetime.now(UTC))
    stored = lake.read("llm_calls", columns=["event_id", "source_file", "line_no"]).to_pylist()
    expected = {(f"e-{n}-{k}", f"logs/app/2026-11-20/{name}", k + 1) for n, name in enumerate(names) for k in range(n + 1)}
    assert {(r["event_id"], r["source_file"], r["line_no"]) for r in stored} == expected
    log = {r["source_file"]: r["rows_accepted"] for r in lake.read("ingest_log").to_pylist()}
    assert log == {f"logs/app/2026-11-20/{name}": n + 1 for n, name in enumerate(names)}


def test_a_line_longer_than_the_readers_block_is_quarantined_alone_and_its_neighbours_load():
    good = json.dumps({"event_id": "e-{n}", "timestamp": "2026-11-20T10:00:00Z", "ai_system": "s",
                       "provider": "openai", "request_model": "gpt-4o-mini"})
    huge = json.dumps({"event_id": "e-huge", "timestamp": "2026-11-20T10:00:00Z", "ai_system": "s",
                       "provider": "openai", "request_model": "gpt-4o-mini", "prompt": "x" * (40 << 20)})
    body = "\n".join([good.replace("{n}", "1"), huge, good.replace("{n}", "3")]) + "\n"
    result = ParsedFile()
    accepted = pa.concat_tables(parse_lines(io.BytesIO(body.encode()), "big.jsonl", (DAY, DAY), APP_LOG_FORMAT, result))
    assert accepted["event_id"].to_pylist() == ["e-1", "e-3"]
    [rejected] = [r for t in result.rejected for r in t.to_pylist()]
    assert (rejected["line_no"], rejected["error_code"]) == (2, "line_too_long")
    assert len(rejected["raw_excerpt"]) <= 200


def test_a_gzip_bomb_stops_at_the_cap_with_a_named_error():
    import gzip

    from audit_pipeline.sources.lines import RecordLimits, TooLarge

    bomb = gzip.compress(b"\n" * (64 << 20))  # 64 MiB of newlines in about 64 KB
    with pytest.raises(TooLarge, match=re.escape("bomb.jsonl.gz: expands beyond 8,388,608 bytes")):
        list(parse_lines(gzip.GzipFile(fileobj=io.BytesIO(bomb)), "bomb.jsonl.gz", (DAY, DAY), APP_LOG_FORMAT,
                         ParsedFile(), limits=RecordLimits(max_file_bytes=8 << 20)))


def test_a_gzip_bomb_in_the_landing_zone_fails_its_file_and_the_others_load(tmp_path):
    import gzip
    from datetime import UTC, datetime

    from audit_pipeline.lake import Lake
    from audit_pipeline.landing import Landing
    from audit_pipeline.loads.calls import load_calls

    logs = tmp_path / "landing/logs/app/2026-11-20"
    logs.mkdir(parents=True)
    (logs / "bomb.jsonl.gz").write_bytes(gzip.compress(b" " * (48 << 20) + b"\n"))
    (logs / "fine.jsonl").write_text(json.dumps({"event_id": "e-fine", "timestamp": "2026-11-20T10:00:00Z",
                                                 "ai_system": "s", "provider": "openai",
                                                 "request_model": "gpt-4o-mini"}) + "\n")
    lake = Lake(str(tmp_path / "lake"))
    load_calls(Landing(str(tmp_path / "landing")), lake, DAY, DAY, datetime.now(UTC), max_file_bytes=16 << 20)
    assert lake.read("llm_calls")["event_id"].to_pylist() == ["e-fine"]
    [failed] = lake.read("ingest_log", where="status = 'failed'").to_pylist()
    assert failed["source_file"].endswith("bomb.jsonl.gz") and "expands beyond 16,777,216 bytes" in failed["error"]
