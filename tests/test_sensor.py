"""The landing sensor requests runs only for the days that new or changed files affect."""

import os
import shutil
from datetime import date

import dagster as dg
import pytest

from audit_pipeline.definitions import defs
from audit_pipeline.defs.resources import storage_from_settings


@pytest.fixture
def evaluate(sample_landing, settings_for, tmp_path):
    landing = tmp_path / "landing"
    shutil.copytree(sample_landing[0], landing)
    sensor = defs.resolve_sensor_def("landing_files")
    storage = storage_from_settings(settings_for(landing))

    def tick(cursor: str | None):
        context = dg.build_sensor_context(cursor=cursor, resources={"storage": storage})
        result = sensor.evaluate_tick(context)
        return result, context.cursor

    return landing, tick


def _range(result) -> tuple[date, date]:
    [request] = result.run_requests
    return (date.fromisoformat(request.tags["dagster/asset_partition_range_start"]),
            date.fromisoformat(request.tags["dagster/asset_partition_range_end"]))


def test_the_first_tick_covers_every_affected_day_then_unchanged_files_start_nothing(evaluate):
    _, tick = evaluate
    first, cursor = tick(None)
    start, _ = _range(first)
    assert start == date(2026, 11, 1)  # the CUR and FOCUS billing period starts the range
    second, cursor_after = tick(cursor)
    assert not second.run_requests and "no new or changed" in second.skip_message
    assert cursor_after == cursor


def test_a_changed_log_file_requests_its_day_and_the_days_either_side(evaluate):
    landing, tick = evaluate
    _, cursor = tick(None)
    log = next((landing / "logs/support-assistant/2026-11-19").glob("*.jsonl"))
    log.write_text(log.read_text() + log.read_text().splitlines()[0] + "\n")
    result, _ = tick(cursor)
    assert _range(result) == (date(2026, 11, 18), date(2026, 11, 20))


def test_touching_a_file_without_changing_it_requests_nothing(evaluate):
    landing, tick = evaluate
    _, cursor = tick(None)
    page = next((landing / "billing/openai/usage").rglob("page-001.json"))
    os.utime(page, ns=(1, 1))
    result, _ = tick(cursor)
    assert not result.run_requests


def test_a_new_billing_page_requests_the_days_of_its_buckets(evaluate):
    landing, tick = evaluate
    _, cursor = tick(None)
    pull = landing / "billing/anthropic/usage/pull-20261126T020000Z"
    pull.mkdir(parents=True)
    shutil.copy(next((landing / "billing/anthropic/usage").rglob("page-001.json")), pull / "page-001.json")
    assert _range(tick(cursor)[0]) == (date(2026, 11, 18), date(2026, 11, 20))
