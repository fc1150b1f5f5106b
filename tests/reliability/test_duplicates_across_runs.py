"""Duplicates do not depend on batching (issue 15): however a range of days is split into
runs, and in whatever order the runs come, the stored calls are those one range run stores."""

import json
import tempfile
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit_pipeline.lake import Lake
from audit_pipeline.landing import Landing
from audit_pipeline.loads.calls import load_calls

FIRST = date(2026, 11, 10)
DAYS = [FIRST + timedelta(days=n) for n in range(4)]
NOW = datetime(2026, 11, 20, tzinfo=UTC)


@st.composite
def landing_zones(draw):
    """Events with one to three copies each: a re-delivery or a copy whose time falls on the
    next day, filed under the event's day or the next (records are routed to their own day)."""
    files: dict[tuple[date, str], list[str]] = {}
    for n in range(draw(st.integers(min_value=3, max_value=12))):
        home = draw(st.sampled_from(DAYS[:-1]))
        for copy in range(draw(st.integers(min_value=1, max_value=3))):
            stamp_day = home + timedelta(days=draw(st.integers(min_value=0, max_value=1)))
            file_day = home + timedelta(days=draw(st.integers(min_value=0, max_value=1)))
            name = draw(st.sampled_from(["a.jsonl", "b.jsonl", "redelivered.jsonl"]))
            files.setdefault((file_day, name), []).append(json.dumps({
                "event_id": f"evt-{n}", "timestamp": f"{stamp_day}T{(n + copy) % 24:02d}:30:00Z",
                "ai_system": "s", "provider": "openai", "request_model": "gpt-4o-mini", "output_tokens": copy}))
    return files


def _write(root: Path, files: dict) -> Landing:
    for (day, name), lines in files.items():
        folder = root / "logs/app" / day.isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("\n".join(lines) + "\n")
    return Landing(str(root))


def _stored(lake: Lake) -> set[tuple]:
    rows = lake.read("llm_calls", columns=["event_id", "event_date", "source_file", "line_no", "output_tokens"])
    return {tuple(r.values()) for r in rows.to_pylist()}


@st.composite
def run_plans(draw):
    """DAYS cut into contiguous runs, run in a random order."""
    cuts = sorted(draw(st.sets(st.integers(min_value=1, max_value=len(DAYS) - 1))))
    bounds = [0, *cuts, len(DAYS)]
    runs = [(DAYS[a], DAYS[b - 1]) for a, b in pairwise(bounds)]
    return draw(st.permutations(runs))


@pytest.mark.slow  # a whole range loaded 12 ways: 25 s
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files=landing_zones(), plan=run_plans())
def test_any_split_of_a_range_into_runs_stores_what_one_range_run_stores(files, plan):
    with tempfile.TemporaryDirectory() as tmp:
        landing = _write(Path(tmp) / "landing", files)
        whole, split = Lake(f"{tmp}/whole"), Lake(f"{tmp}/split")
        load_calls(landing, whole, DAYS[0], DAYS[-1], NOW)
        for first, last in plan:
            load_calls(landing, split, first, last, NOW)
        assert _stored(split) == _stored(whole)
        assert len({row[0] for row in _stored(whole)}) == len(_stored(whole))  # each event once
