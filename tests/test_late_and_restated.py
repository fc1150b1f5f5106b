"""Data that arrives after its day was loaded, through the nightly schedule's run range.

A late log file for an old day and a provider's restatement of an old billing day are
both picked up by the next nightly run (yesterday plus the lookback window): the late
records are added once, the restated day replaces the earlier pull instead of adding to it.
"""

import json
import shutil
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import dagster as dg
import pyarrow.compute as pc
import pytest

from audit_pipeline.lake import date_range_predicate
from audit_pipeline.runner import materialize_range
from audit_pipeline.storage import lake_for


def _nightly_range(after: date) -> tuple[date, date]:
    """The days the nightly schedule runs at 02:00 UTC the day after `after`."""
    from audit_pipeline.definitions import defs

    context = dg.build_schedule_context(
        scheduled_execution_time=datetime.combine(after + timedelta(days=1), time(2), tzinfo=UTC))
    [request] = defs.resolve_schedule_def("nightly").evaluate_tick(context).run_requests
    return (date.fromisoformat(request.tags["dagster/asset_partition_range_start"]),
            date.fromisoformat(request.tags["dagster/asset_partition_range_end"]))


@pytest.fixture
def loaded(sample_landing, settings_for, tmp_path, monkeypatch):
    """A private copy of the sample landing zone, every day loaded once."""
    source, truth = sample_landing
    landing = tmp_path / "landing"
    shutil.copytree(source, landing)
    settings = settings_for(landing)
    monkeypatch.setenv("DAGSTER_HOME", settings.dagster_home)
    days = [date.fromisoformat(d) for d in truth["days"]]
    assert materialize_range(settings, days[0], days[-1]).success
    return settings, landing, days


def _late_record(event_id: str, day: date) -> str:
    return json.dumps({"event_id": event_id, "timestamp": f"{day}T10:00:00Z", "ai_system": "support-assistant",
                       "provider": "openai", "request_model": "gpt-4o-mini", "input_tokens": 10,
                       "output_tokens": 5}) + "\n"


def test_a_late_log_file_for_an_old_day_is_picked_up_by_the_lookback_window(loaded):
    settings, landing, days = loaded
    lake = lake_for(settings)
    old_day = days[-3]
    before = {d: lake.read("llm_calls", where=date_range_predicate("event_date", d, d),
                           columns=["event_id"]).num_rows for d in days}
    late = landing / "logs/support-assistant" / old_day.isoformat() / "late-delivery.jsonl"
    late.write_text(_late_record("evt_late_1", old_day) + _late_record("evt_late_2", old_day))

    first, last = _nightly_range(days[-1])
    assert first <= old_day <= last  # the lookback window reaches the old day
    assert materialize_range(settings, first, last).success

    after = {d: lake.read("llm_calls", where=date_range_predicate("event_date", d, d),
                          columns=["event_id"]).num_rows for d in days}
    assert after == {**before, old_day: before[old_day] + 2}
    [logged] = lake.read("ingest_log", where=f"source_file = '{late.relative_to(landing).as_posix()}'").to_pylist()
    assert (logged["partition"], logged["rows_read"], logged["rows_accepted"]) == (old_day.isoformat(), 2, 2)


def _restate(landing: Path, day: date, factor: int) -> tuple[Path, int]:
    """A later OpenAI usage pull with `day`'s output tokens multiplied; returns the
    new pull folder and the restated day's output tokens."""
    pulls = sorted((landing / "billing/openai/usage").iterdir())
    restated = pulls[-1].with_name("pull-29991231")
    start = int(datetime.combine(day, time(0), tzinfo=UTC).timestamp())
    total = 0
    restated.mkdir()
    for page_file in sorted(pulls[-1].glob("*.json")):
        page = json.loads(page_file.read_text())
        for bucket in page["data"]:
            if bucket["start_time"] == start:
                for result in bucket["results"]:
                    result["output_tokens"] *= factor
                    total += result["output_tokens"]
        (restated / page_file.name).write_text(json.dumps(page))
    return restated, total


def test_a_restated_billing_day_replaces_the_earlier_pull_without_double_counting(loaded):
    settings, landing, days = loaded
    lake = lake_for(settings)
    day = days[-2]

    def openai_output(d: date) -> int:
        rows = lake.read("billing_usage", where=f"{date_range_predicate('usage_date', d, d)} AND provider = 'openai'",
                         columns=["output_tokens"])
        return pc.sum(rows["output_tokens"]).as_py()

    billed_before = {d: openai_output(d) for d in days}
    restated_pull, restated_total = _restate(landing, day, factor=3)
    assert restated_total == 3 * billed_before[day]

    first, last = _nightly_range(days[-1])
    assert materialize_range(settings, first, last).success

    assert openai_output(day) == restated_total  # replaced, not added
    assert {d: openai_output(d) for d in days if d != day} == {d: v for d, v in billed_before.items() if d != day}
    superseded = lake.read("ingest_log", where=f"source = 'openai_usage' AND partition = '{day}'").to_pylist()
    older = [r for r in superseded if not r["source_file"].startswith(restated_pull.relative_to(landing).as_posix())]
    assert older and all(r["rows_superseded"] == r["rows_read"] and r["rows_accepted"] == 0 for r in older)


def test_a_corrupt_late_file_fails_the_run_naming_it_and_the_rest_still_loads(loaded):
    settings, landing, days = loaded
    from audit_pipeline.runner import dagster_instance

    corrupt = landing / "logs/support-assistant" / days[-1].isoformat() / "late.jsonl.gz"
    corrupt.write_bytes(b"\x1f\x8b\x08\x00not really gzip")
    late = landing / "logs/support-assistant" / days[-1].isoformat() / "late-2.jsonl"
    late.write_text(_late_record("evt_after_corrupt", days[-1]))
    first, last = _nightly_range(days[-1])
    outcome = materialize_range(settings, first, last)
    assert not outcome.success and outcome.failed_steps == ["llm_calls"]  # no silent partial success
    failure = next(r.dagster_event.step_failure_data.error.message for r in dagster_instance(settings).all_logs(
        outcome.run_id, of_type=dg.DagsterEventType.STEP_FAILURE))
    assert corrupt.name in failure and "AUDIT_SKIP_UNREADABLE_FILES" in failure
    warnings = [r.user_message for r in dagster_instance(settings).all_logs(outcome.run_id)
                if r.level >= 30 and "file not loaded" in r.user_message]
    assert len(warnings) == 1 and corrupt.name in warnings[0]
    lake = lake_for(settings)
    [failed] = lake.read("ingest_log", where="status = 'failed'").to_pylist()
    assert failed["source_file"].endswith(corrupt.name) and failed["rows_read"] == 0
    assert "evt_after_corrupt" in lake.read("llm_calls", columns=["event_id"])["event_id"].to_pylist()
    # An operator who opts in goes on without the file: the run succeeds, the file stays failed.
    opted_in = materialize_range(replace(settings, skip_unreadable_files=True), first, last)
    assert opted_in.success
    assert len(lake_for(settings).read("ingest_log", where="status = 'failed'")) == 1
