"""Concurrent first runs on a new DAGSTER_HOME (issue 15): Dagster's SQLite storages create
their tables and stamp their schema version on first use; six processes doing that at once
failed (UNIQUE constraint on alembic_version) and left two schema heads that broke every later
run. The instance is now made under a lock, so every process gets a working instance."""

import subprocess
import sys

import pytest

FIRST_USE = """
import sys
import dagster as dg
from audit_pipeline.runner import dagster_instance
from audit_pipeline.settings import load_settings
instance = dagster_instance(load_settings({"DAGSTER_HOME": sys.argv[1]}))
instance.get_runs()
instance.get_event_records(dg.EventRecordsFilter(event_type=dg.DagsterEventType.ASSET_MATERIALIZATION), limit=1)
print("instance ready")
"""

PROCESSES = 6


@pytest.mark.slow
@pytest.mark.parametrize("attempt", [1, 2])
def test_concurrent_first_runs_on_a_new_dagster_home_all_get_a_working_instance(tmp_path, attempt):
    home = tmp_path / f"dagster_home_{attempt}"
    children = [subprocess.Popen([sys.executable, "-c", FIRST_USE, str(home)], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for _ in range(PROCESSES)]
    outcomes = [child.communicate(timeout=240) for child in children]
    failures = [err.strip().splitlines()[-1] for child, (_, err) in zip(children, outcomes, strict=True)
                if child.returncode != 0]
    assert failures == []
    assert all("instance ready" in out for out, _ in outcomes)
    # The instance they left is sound: one more process uses it.
    later = subprocess.run([sys.executable, "-c", FIRST_USE, str(home)], capture_output=True, text=True, timeout=120)
    assert later.returncode == 0, later.stderr[-2000:]
    assert (home / "dagster.yaml").read_text() == "telemetry:\n  enabled: false\n"
