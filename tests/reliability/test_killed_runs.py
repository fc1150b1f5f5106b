"""A run killed halfway leaves nothing that lies: the next run marks it failed and removes
what it staged (issue 15)."""

import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

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


def _killed_run(landing, settings, days, tags: dict[str, str] | None = None) -> tuple[dg.DagsterRun, int]:
    """A CLI run of every asset over `days`, killed with SIGKILL while it is STARTED (held at
    its first commit so the kill always lands mid-run); returns the run and the dead pid."""
    code = (f"import time\nfrom datetime import date\nfrom audit_pipeline import lake\n"
            f"from audit_pipeline.defs.partitions import partition_range_tags\n"
            f"from audit_pipeline.runner import run_job\n"
            f"from audit_pipeline.settings import load_settings\n"
            f"lake.COMMIT_HOOKS.append(lambda table, moment: time.sleep(600))\n"
            f"tags = partition_range_tags(date.fromisoformat({days[0].isoformat()!r}), "
            f"date.fromisoformat({days[-1].isoformat()!r}))\n"
            f"run_job(load_settings({{'AUDIT_LANDING': {str(landing)!r}, 'AUDIT_LAKE': {settings.lake!r}, "
            f"'AUDIT_REPORTS': {settings.reports!r}, 'DAGSTER_HOME': {settings.dagster_home!r}}}), "
            f"'every_asset', {{**tags, **{tags or {}!r}}})\n")
    child = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        time.sleep(0.5)
        started = dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])
        if os.path.exists(os.path.join(settings.dagster_home, "history", "runs.db")) and \
                dagster_instance(settings).get_runs(filters=started):
            break
    child.send_signal(signal.SIGKILL)
    child.wait()
    [killed] = dagster_instance(settings).get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
    return killed, child.pid


def _days(truth) -> list[date]:
    return [date.fromisoformat(d) for d in truth["days"]]


@pytest.mark.slow
def test_a_killed_run_is_marked_failed_by_the_next_run(sample_landing, settings_for):
    landing, truth = sample_landing
    settings = settings_for(landing)
    days = _days(truth)
    killed, pid = _killed_run(landing, settings, days)
    outcome = materialize_range(settings, days[0], days[-1])
    assert outcome.success  # the next run completes the work
    after = dagster_instance(settings).get_run_by_id(killed.run_id)
    assert after.status == dg.DagsterRunStatus.FAILURE
    assert not [p for p in os.listdir(os.environ.get("TMPDIR", "/tmp")) if p.startswith(f"audit-stage-{pid}-")]


@pytest.mark.slow
def test_the_abandoned_runs_sensor_marks_a_killed_run_failed_without_waiting_for_a_run(sample_landing,
                                                                                       settings_for):
    from audit_pipeline.defs.automation.abandoned import abandoned_runs

    landing, truth = sample_landing
    settings = settings_for(landing)
    killed, pid = _killed_run(landing, settings, _days(truth))
    instance = dagster_instance(settings)
    result = abandoned_runs(dg.build_sensor_context(instance=instance))
    assert killed.run_id in result.skip_message
    after = instance.get_run_by_id(killed.run_id)
    assert after.status == dg.DagsterRunStatus.FAILURE
    failure = [r.message for r in instance.all_logs(killed.run_id) if "is gone" in (r.message or "")]
    assert failure and str(pid) in failure[0]
    # A second look finds nothing more to do.
    assert abandoned_runs(dg.build_sensor_context(instance=instance)).skip_message == "no abandoned run"


@pytest.mark.slow
def test_the_instances_run_monitoring_marks_a_run_past_its_runtime_failed(sample_landing, settings_for, tmp_path):
    """The daemon, with the project's dagster.yaml, fails a run that outlived its runtime:
    how a hung or killed run launched from the UI or a schedule ends. Only the poll interval
    is shortened here, so the test waits seconds rather than minutes."""
    landing, truth = sample_landing
    settings = settings_for(landing)
    home = Path(settings.dagster_home)
    home.mkdir(parents=True)
    project_yaml = (Path(__file__).parents[2] / "dagster_home" / "dagster.yaml").read_text()
    assert "run_monitoring:\n  enabled: true" in project_yaml
    (home / "dagster.yaml").write_text(project_yaml.replace("poll_interval_seconds: 120", "poll_interval_seconds: 1"))
    killed, _ = _killed_run(landing, settings, _days(truth), {"dagster/max_runtime": "2"})
    environment = {**os.environ, "DAGSTER_HOME": str(home), "AUDIT_LANDING": str(landing),
                   "AUDIT_LAKE": settings.lake, "AUDIT_REPORTS": settings.reports}
    daemon = subprocess.Popen([str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w",
                               str(Path(__file__).parents[2] / "workspace.yaml")], env=environment,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        status = killed.status
        while time.monotonic() < deadline and status != dg.DagsterRunStatus.FAILURE:
            time.sleep(1)
            status = dagster_instance(settings).get_run_by_id(killed.run_id).status
    finally:
        daemon.terminate()
        daemon.wait(timeout=60)
    assert status == dg.DagsterRunStatus.FAILURE
    messages = [r.message or "" for r in dagster_instance(settings).all_logs(killed.run_id)]
    assert any("maximum runtime" in m for m in messages)
