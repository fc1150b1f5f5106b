"""A run killed halfway leaves nothing that lies: the next run marks it failed and removes
what it staged (issue 15)."""

import os
import signal
import subprocess
import sys
import time
from datetime import date

import dagster as dg
import pytest

from audit_pipeline.runner import dagster_instance, materialize_range
from audit_pipeline.scratch import remove_orphans, scratch


def test_a_scratch_folder_of_a_dead_process_is_removed_and_a_live_ones_kept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    orphan = tmp_path / f"audit-stage-{dead.stdout.strip()}-abc"
    orphan.mkdir()
    (orphan / "part.parquet").write_bytes(b"x")
    mine = tmp_path / f"audit-stage-{os.getpid()}-def"
    mine.mkdir()
    (tmp_path / "audit-unrelated").mkdir()
    assert remove_orphans(str(tmp_path)) == [orphan]
    assert mine.exists() and (tmp_path / "audit-unrelated").exists() and not orphan.exists()
    with scratch("stage") as folder:
        assert folder.name.startswith(f"audit-stage-{os.getpid()}-")


@pytest.mark.slow
def test_a_killed_run_is_marked_failed_by_the_next_run(sample_landing, settings_for, tmp_path):
    landing, truth = sample_landing
    settings = settings_for(landing)
    days = [date.fromisoformat(d) for d in truth["days"]]
    code = (f"import time\nfrom datetime import date\nfrom audit_pipeline import lake\n"
            f"from audit_pipeline.runner import materialize_range\n"
            f"from audit_pipeline.settings import load_settings\n"
            # Held mid-run at its first commit, so the kill lands while the run is STARTED.
            f"lake.COMMIT_HOOKS.append(lambda table, moment: time.sleep(600))\n"
            f"materialize_range(load_settings({{'AUDIT_LANDING': {str(landing)!r}, 'AUDIT_LAKE': {settings.lake!r}, "
            f"'AUDIT_REPORTS': {settings.reports!r}, 'DAGSTER_HOME': {settings.dagster_home!r}}}), "
            f"date.fromisoformat({days[0].isoformat()!r}), date.fromisoformat({days[-1].isoformat()!r}))\n")
    child = subprocess.Popen([sys.executable, "-c", code])
    instance = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        time.sleep(0.5)
        if os.path.exists(os.path.join(settings.dagster_home, "history", "runs.db")):
            try:
                instance = dagster_instance(settings)
                if instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])):
                    break
            except Exception:  # the child may still be creating the instance's tables
                continue
    child.send_signal(signal.SIGKILL)
    child.wait()
    [killed] = dagster_instance(settings).get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
    outcome = materialize_range(settings, days[0], days[-1])
    assert outcome.success  # the next run completes the work
    after = dagster_instance(settings).get_run_by_id(killed.run_id)
    assert after.status == dg.DagsterRunStatus.FAILURE
    assert not [p for p in os.listdir(os.environ.get("TMPDIR", "/tmp")) if p.startswith(f"audit-stage-{child.pid}-")]
