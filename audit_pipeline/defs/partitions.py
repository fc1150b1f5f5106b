"""Daily UTC partitions for event data, and the day range a run covers.

Event assets use a single-run backfill policy: a range of days is one Dagster run (a run
costs ~6.5 s of overhead here, see docs/contract.md, "Measured facts"), and each load replaces exactly its days.
"""

from __future__ import annotations

from datetime import date, timedelta

import dagster as dg

from audit_pipeline.settings import load_settings

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=load_settings().start_date.isoformat(), timezone="UTC", end_offset=0
)
single_run = dg.BackfillPolicy.single_run()


def run_days(context: dg.AssetExecutionContext) -> tuple[date, date]:
    """First and last UTC day (inclusive) of the partitions this run materializes."""
    window = context.partition_time_window
    return window.start.date(), (window.end - timedelta(days=1)).date()


def first_partition_day() -> date:
    """The first day the pipeline keeps (AUDIT_START_DATE)."""
    return daily_partitions.start.date()


def run_day_list(context: dg.AssetExecutionContext) -> list[date]:
    """Every UTC day this run materializes, in order."""
    first, last = run_days(context)
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


PARTITION_RANGE_START_TAG = "dagster/asset_partition_range_start"
PARTITION_RANGE_END_TAG = "dagster/asset_partition_range_end"
"""Dagster's run tags for a partition range, as its backfills and the UI's launchpad set them
(public names; the constants live in `dagster._core`, which a project should not import)."""


def partition_range_tags(first: date, last: date) -> dict[str, str]:
    """Run tags that make one run cover the days [first, last] (single-run backfill)."""
    return {PARTITION_RANGE_START_TAG: first.isoformat(), PARTITION_RANGE_END_TAG: last.isoformat()}
