"""Run assets through Dagster from the command line, recorded in the DAGSTER_HOME instance.

A range of days is one run (the event assets use a single-run backfill policy), so a
14-day demo costs one run's overhead rather than fourteen. Runs appear in `make ui` exactly
like runs launched there.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg

from audit_pipeline.settings import Settings

INSTANCE_CONFIG = "dagster.yaml"


def dagster_instance(settings: Settings) -> dg.DagsterInstance:
    """The persistent instance in `settings.dagster_home` (created on first use)."""
    home = Path(settings.dagster_home)
    home.mkdir(parents=True, exist_ok=True)
    if not (home / INSTANCE_CONFIG).exists():
        (home / INSTANCE_CONFIG).write_text("telemetry:\n  enabled: false\n")
    # dagster.yaml resolves its storage folder from DAGSTER_HOME: point it at this home.
    os.environ["DAGSTER_HOME"] = str(home)
    return dg.DagsterInstance.get()


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


def run_job(settings: Settings, job_name: str, tags: dict[str, str] | None = None,
            run_config: dict | None = None) -> RunOutcome:
    """Run one of the code location's jobs in this process, recorded in the instance."""
    from audit_pipeline.definitions import defs  # loading defs reads settings: do it late
    from audit_pipeline.defs.resources import storage_from_settings

    job = defs.resolve_job_def(job_name)
    result = job.execute_in_process(
        instance=dagster_instance(settings),
        # The terminal gets warnings only; every event is in the instance and the UI.
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}, **(run_config or {})},
        tags={**(tags or {}), "audit/trigger": "cli"},
        # Bound here, not at import, so the run uses exactly these settings.
        resources={"storage": storage_from_settings(settings)},
        raise_on_error=False,
    )
    failed = [event.step_key for event in result.all_events if event.is_step_failure]
    return RunOutcome(result.run_id, result.success, failed)


def latest_materialization(settings: Settings, asset: str, run_id: str) -> dict:
    """The metadata `asset` recorded in run `run_id` (plain values)."""
    event = dagster_instance(settings).get_latest_materialization_event(dg.AssetKey(asset))
    if event is None or event.run_id != run_id:
        raise LookupError(f"run {run_id} did not materialize {asset}")
    return {key: value.value for key, value in event.asset_materialization.metadata.items()}
