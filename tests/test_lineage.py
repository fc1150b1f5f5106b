"""Lineage resolution: every kind, renames, calls before a prompt existed, unknown versions."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pyarrow as pa
import pytest

from audit_pipeline.lake import Lake, date_range_predicate
from audit_pipeline.loads.lineage import build_output_lineage, stale_days
from audit_pipeline.loads.prompts import read_prompt_history
from audit_pipeline.schemas import LLM_CALLS

DAY = date(2026, 11, 10)


def _call(event_id: str, hour: int, **fields) -> dict:
    row = dict.fromkeys(LLM_CALLS.names)
    row.update(event_id=event_id, event_date=DAY, timestamp=datetime(2026, 11, 10, hour, tzinfo=UTC),
               ai_system="support-assistant", provider="openai", request_model="gpt-4o-mini",
               response_model="gpt-4o-mini-2024-07-18", input_tokens=1000, cached_input_tokens=400,
               cache_write_tokens=0, output_tokens=100)
    row.update(fields)
    return row


@pytest.fixture
def lineage(git_repo, tmp_path):
    """A prompt created, edited, renamed; a second prompt created mid-day; and calls of each kind."""
    v_add = git_repo.commit("2026-11-01T09:00:00+00:00", "alice", "Add answer",
                            write={"prompts/answer.md": "answer v1", "prompts/other.md": "other v1"})
    v_edit = git_repo.commit("2026-11-10T06:00:00+00:00", "bob", "Edit answer",
                             write={"prompts/answer.md": "answer v2"})
    v_rename = git_repo.commit("2026-11-10T12:00:00+00:00", "carol", "Rename answer to reply",
                               move=("prompts/answer.md", "prompts/reply.md"))
    v_late = git_repo.commit("2026-11-10T15:00:00+00:00", "dave", "Add late prompt",
                             write={"prompts/late.md": "late v1"})
    lake = Lake(str(tmp_path / "lake"))
    commits, versions, _ = read_prompt_history(str(git_repo.path), ("prompts/**",))
    lake.replace_all("prompt_commits", commits)
    lake.replace_all("prompt_versions", versions)
    content = {v["version"] + v["prompt_id"]: v["content_sha256"] for v in versions.to_pylist()}
    calls = [
        _call("explicit", 8, prompt_id="answer", prompt_version=v_edit),
        _call("explicit-no-id", 8, prompt_version=v_edit, prompt_sha256=content[v_edit + "answer"]),
        _call("explicit-via-commit", 16, prompt_id="other", prompt_version=v_late),
        _call("content", 9, prompt_sha256=content[v_edit + "answer"]),
        _call("content-after-rename", 13, prompt_sha256=content[v_rename + "reply"]),
        _call("time-before-edit", 5, prompt_id="answer"),
        _call("time-after-rename", 14, prompt_id="reply"),
        _call("old-id-after-rename", 14, prompt_id="answer"),
        _call("before-first-commit", 10, prompt_id="late"),
        _call("unknown-version", 8, prompt_id="answer", prompt_version="f" * 40),
        _call("unknown-version-known-content", 8, prompt_id="answer", prompt_version="e" * 40,
              prompt_sha256=content[v_edit + "answer"]),
        _call("no-prompt", 8),
        _call("alias-only", 8, response_model=None, request_model="gpt-4o-mini"),
    ]
    lake.replace_where("llm_calls", pa.Table.from_pylist(calls, schema=LLM_CALLS),
                       date_range_predicate("event_date", DAY, DAY))
    counts = build_output_lineage(lake, DAY, DAY)
    rows = {r["event_id"]: r for r in lake.read("output_lineage").to_pylist()}
    return rows, counts, {"add": v_add, "edit": v_edit, "rename": v_rename, "late": v_late}


@pytest.mark.parametrize(
    ("event_id", "resolution", "version"),
    [
        ("explicit", "explicit", "edit"),
        ("explicit-no-id", "explicit", "edit"),
        ("explicit-via-commit", "explicit", "add"),  # repo commit → prompt as of that commit
        ("content", "content_hash", "edit"),
        ("content-after-rename", "content_hash", "rename"),
        ("time-before-edit", "time_inferred", "add"),
        ("time-after-rename", "time_inferred", "rename"),
        ("old-id-after-rename", "unresolved", None),
        ("before-first-commit", "unresolved", None),
        ("unknown-version", "unresolved", None),
        ("unknown-version-known-content", "content_hash", "edit"),
        ("no-prompt", "unresolved", None),
    ],
)
def test_each_call_resolves_to_the_right_version(lineage, event_id, resolution, version):
    rows, _, shas = lineage
    assert rows[event_id]["resolution"] == resolution, rows[event_id]["resolution_note"]
    assert rows[event_id]["prompt_version"] == (shas[version] if version else None)


def test_unresolved_calls_say_why(lineage):
    rows, _, _ = lineage
    assert "not in the prompt repository" in rows["unknown-version"]["resolution_note"]
    assert "no version of late was valid" in rows["before-first-commit"]["resolution_note"]
    assert rows["no-prompt"]["resolution_note"] == "the call names no prompt"


def test_lineage_carries_author_and_path_of_the_version(lineage):
    rows, _, _ = lineage
    assert rows["time-after-rename"]["prompt_author"] == "carol@example.com"
    assert rows["time-after-rename"]["prompt_path"] == "prompts/reply.md"


def test_counts_by_resolution_cover_every_call(lineage):
    rows, counts, _ = lineage
    assert sum(counts.values()) == len(rows) == 13


def test_model_status_and_cost_from_the_price_catalog(lineage):
    rows, _, _ = lineage
    assert rows["explicit"]["model_status"] == "snapshot"
    assert rows["alias-only"]["model_status"] == "alias_only"
    # gpt-4o-mini-2024-07-18: 600 uncached × $0.15 + 400 cached × $0.075 + 100 out × $0.60, per 1M
    assert rows["explicit"]["computed_cost_usd"] == Decimal("0.000180000000")
    assert rows["explicit"]["price_id"].startswith("openai-gpt-4o-mini-2024-07-18")
    assert rows["alias-only"]["computed_cost_usd"] is None  # an alias has no dated price


def test_lineage_is_rebuilt_only_when_calls_or_prompt_history_changed(lineage, tmp_path):
    lake = Lake(str(tmp_path / "lake"))
    version = lake.version("output_lineage")
    build_output_lineage(lake, DAY, DAY)
    assert lake.version("output_lineage") == version  # nothing changed: nothing rewritten
    assert stale_days(lake, DAY, DAY) == []
    commits, versions = lake.read("prompt_commits"), lake.read("prompt_versions")
    assert not lake.replace_all_if_changed("prompt_versions", versions)
    assert not lake.replace_all_if_changed("prompt_commits", commits)  # the same history: no new files
    assert stale_days(lake, DAY, DAY) == []
    lake.replace_all("prompt_versions", versions.slice(1))  # history rewritten
    assert stale_days(lake, DAY, DAY) == [DAY]


def test_a_change_to_the_lineage_code_rebuilds_lineage_on_an_unchanged_lake(lineage, tmp_path, monkeypatch):
    from audit_pipeline.loads import lineage as lineage_code

    lake = Lake(str(tmp_path / "lake"))
    assert stale_days(lake, DAY, DAY) == []
    version = lake.version("output_lineage")

    def patched_rows(con, lake, predicate, built_at, shard):  # a fix to how lineage is built
        return original_rows(con, lake, predicate, built_at, shard)

    original_rows = lineage_code._lineage_rows
    monkeypatch.setattr(lineage_code, "_lineage_rows", patched_rows)
    assert stale_days(lake, DAY, DAY) == [DAY]
    build_output_lineage(lake, DAY, DAY)
    assert lake.version("output_lineage") == version + 1  # rebuilt once ...
    build_output_lineage(lake, DAY, DAY)
    assert lake.version("output_lineage") == version + 1  # ... and then fresh again
