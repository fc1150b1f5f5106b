"""Run assets through Dagster from the command line, recorded in the DAGSTER_HOME instance.

A range of days is one run (the event assets use a single-run backfill policy), so a
14-day demo costs one run's overhead rather than fourteen. Runs appear in `make ui` exactly
like runs launched there.
"""

from __future__ import annotations

import fcntl
import os
import socket
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg

from audit_pipeline.scratch import alive, remove_orphans
from audit_pipeline.settings import Settings

INSTANCE_CONFIG = "dagster.yaml"


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """These variables set while the block runs, then restored: a run in this process reads
    the signing key, S3 credentials and DAGSTER_HOME from the environment, and none of them
    may outlive it (the next command, or the next test, must not inherit a key)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


INSTANCE_LOCK = ".instance.lock"
"""Held while an instance is made: Dagster's SQLite storages create their tables and stamp
their schema version on first use, and two processes doing that at once on a new DAGSTER_HOME
fail, or leave two schema heads behind that every later run trips over (reproduced with six
concurrent first runs: docs/reliability.md)."""


def dagster_instance(settings: Settings) -> dg.DagsterInstance:
    """The persistent instance in `settings.dagster_home` (created on first use, one process
    at a time)."""
    home = Path(settings.dagster_home)
    home.mkdir(parents=True, exist_ok=True)
    with open(home / INSTANCE_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not (home / INSTANCE_CONFIG).exists():
                staged = home / f".{INSTANCE_CONFIG}.{os.getpid()}"
                staged.write_text("telemetry:\n  enabled: false\n")
                staged.replace(home / INSTANCE_CONFIG)  # never read half-written
            # dagster.yaml resolves its storage folder from DAGSTER_HOME, read when the instance is made.
            with environment({"DAGSTER_HOME": str(home)}):
                instance = dg.DagsterInstance.get()
            # Each storage makes its tables on first use: touch all three inside the lock.
            instance.get_runs(limit=1)
            instance.get_asset_keys(limit=1)
            instance.schedule_storage.all_instigator_state()
            return instance
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@dataclass(frozen=True)
class RunOutcome:
    run_id: str
    success: bool
    failed_steps: list[str]


def materialize_range(settings: Settings, first: date, last: date) -> RunOutcome:
    """Materialize every asset (except retention enforcement) for the days [first, last] in
    one Dagster run."""
    from audit_pipeline.defs.partitions import partition_range_tags

    return run_job(settings, "every_asset", partition_range_tags(first, last))


def _run_environment(settings: Settings) -> dict[str, str]:
    """What the run's assets read from the environment rather than from run config (which the
    UI shows and the instance stores): the signing key, S3 credentials, admin-API keys and the
    unreadable-files switch of `settings`."""
    from audit_pipeline.sources.registry import admin_apis

    values = {"DAGSTER_HOME": settings.dagster_home, "AWS_REGION": settings.s3.region,
              "AWS_ENDPOINT_URL": settings.s3.endpoint_url, "AWS_ACCESS_KEY_ID": settings.s3.access_key_id,
              "AWS_SECRET_ACCESS_KEY": settings.s3.secret_access_key, "AUDIT_SIGNING_KEY": settings.signing_key,
              "AUDIT_SKIP_UNREADABLE_FILES": "true" if settings.skip_unreadable_files else None}
    for api in admin_apis():
        if api.provider in settings.admin_keys:
            values[api.key_variable] = settings.admin_keys[api.provider]
            values[api.base_url_variable] = settings.admin_apis[api.provider]
    return {name: value for name, value in values.items() if value}


PID_TAG, HOST_TAG = "audit/pid", "audit/host"
"""Which process on which machine runs a CLI run: a run whose process is gone was killed."""


def fail_abandoned_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark failed the runs this machine started in a process that no longer exists (killed
    by SIGKILL, OOM or a reboot): they would otherwise stay STARTED forever. Returns their ids."""
    failed = []
    started = instance.get_runs(filters=dg.RunsFilter(
        statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING],
        tags={HOST_TAG: socket.gethostname()}))
    for run in started:
        pid = run.tags.get(PID_TAG, "")
        if pid.isdigit() and int(pid) != os.getpid() and not alive(int(pid)):
            instance.report_run_failed(run, f"the process running it ({pid}) is gone: killed before it finished")
            failed.append(run.run_id)
    return failed


def run_job(settings: Settings, job_name: str, tags: dict[str, str] | None = None,
            run_config: dict | None = None) -> RunOutcome:
    """Run one of the code location's jobs, recorded in the instance, with exactly `settings`
    (their secrets set in the environment for the run only): in this process, or with
    AUDIT_EXECUTOR set, through that executor (this process coordinates, the steps run where
    the executor puts them)."""
    from audit_pipeline.definitions import defs  # loading defs reads settings: do it late

    instance = dagster_instance(settings)
    fail_abandoned_runs(instance)
    remove_orphans()
    tags = {**(tags or {}), PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname(), "audit/trigger": "cli"}
    # The terminal gets warnings only; every event is in the instance and the UI.
    run_config = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}, **(run_config or {})}
    with environment(_run_environment(settings)):
        if settings.executor:
            # dagster-celery registers its step task once per executor it builds; Celery warns
            # on the second, harmlessly (both are the same task).
            warnings.filterwarnings("ignore", message="Task name 'execute_plan' is already registered")
            result = dg.execute_job(dg.build_reconstructable_job("audit_pipeline.runner", "code_location_job",
                                                                 reconstructable_args=(job_name,)),
                                    instance, run_config=run_config, tags=tags)
        else:
            result = _execute_here(defs.resolve_job_def(job_name), instance, settings, tags, run_config)
    failed = [event.step_key for event in result.all_events if event.is_step_failure]
    return RunOutcome(result.run_id, result.success, failed)


def code_location_job(name: str) -> dg.JobDefinition:
    """The job `name` of the code location, as a step worker rebuilds it in its own process
    (its resources from that process's environment, which must be these settings')."""
    from audit_pipeline.definitions import defs

    return defs.resolve_job_def(name)


def _execute_here(job, instance: dg.DagsterInstance, settings: Settings, tags: dict[str, str],
                  run_config: dict) -> dg.ExecuteInProcessResult:
    from audit_pipeline.defs.resources import policy_from_settings, storage_from_settings

    return job.execute_in_process(
        instance=instance, run_config=run_config, tags=tags,
        # Bound here, not at import, so the run uses exactly these settings.
        resources={"storage": storage_from_settings(settings), "policy": policy_from_settings(settings)},
        raise_on_error=False,
    )


def latest_materialization(settings: Settings, asset: str, run_id: str) -> dict:
    """The metadata `asset` recorded in run `run_id` (plain values)."""
    event = dagster_instance(settings).get_latest_materialization_event(dg.AssetKey(asset))
    if event is None or event.run_id != run_id:
        raise LookupError(f"run {run_id} did not materialize {asset}")
    return {key: value.value for key, value in event.asset_materialization.metadata.items()}
