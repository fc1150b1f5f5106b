"""Every table's GX suite as two Dagster asset checks on its asset.

`critical_expectations` is blocking: when one of its expectations fails on any day of the
run, the assets downstream of this one are not materialized in that run. Advisory
expectations (`advisory_expectations`) warn. Both show, per failed expectation, the day, what
GX observed and a few unexpected values; every result is also a row of `dq_results`.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import dagster as dg

from audit_pipeline.defs.partitions import daily_partitions
from audit_pipeline.lake import Lake
from audit_pipeline.quality.checks import SuiteRun, check_table
from audit_pipeline.quality.suites import SUITES
from audit_pipeline.reports.markdown import markdown_table

if TYPE_CHECKING:
    from audit_pipeline.quality.gx_runner import GxRunner

CRITICAL_CHECK = "critical_expectations"
ADVISORY_CHECK = "advisory_expectations"


def quality_specs(asset: str) -> list[dg.AssetCheckSpec]:
    """The two checks of a table's suite; per day (partitioned) when the table is, so the UI
    shows data quality day by day."""
    partitions = daily_partitions if SUITES[asset].partition_column else None
    return [
        dg.AssetCheckSpec(CRITICAL_CHECK, asset=asset, blocking=True, partitions_def=partitions,
                          description="Great Expectations suite, critical rules (ids present and "
                          "unique, rows inside their day, counts not negative, enums, references): "
                          "a failure stops downstream assets."),
        dg.AssetCheckSpec(ADVISORY_CHECK, asset=asset, partitions_def=partitions,
                          description="Great Expectations suite, advisory rules (known provider and "
                          "currency, non-empty model names, non-negative costs and latencies)."),
    ]


@dataclass(frozen=True)
class Quality:
    """What an asset reports of its suite."""

    results: list[dg.AssetCheckResult]
    """The two checks over the run's days: the critical one blocks downstream assets."""
    per_day: list[dg.AssetCheckEvaluation]
    """For a day-partitioned table, both checks of each day of the run, recorded on that day's
    partition (a run over a range of days is one step, so Dagster cannot split its results)."""


def quality_results(lake: Lake, asset: str, days: list[date] | None, run_id: str,
                    runner: "GxRunner | None" = None) -> Quality:
    """Run the asset's suite over the run's days and report it as the two checks."""
    run = check_table(lake, asset, days, run_id, datetime.now(UTC), runner)
    results = [_result(run, asset, CRITICAL_CHECK, critical=True),
               _result(run, asset, ADVISORY_CHECK, critical=False)]
    if not SUITES[asset].partition_column:
        return Quality(results, [])
    per_day = [_day(run, asset, day.isoformat(), check, critical)
               for day in days for check, critical in ((CRITICAL_CHECK, True), (ADVISORY_CHECK, False))]
    return Quality(results, per_day)


def _day(run: SuiteRun, asset: str, partition: str, check: str, critical: bool) -> dg.AssetCheckEvaluation:
    failures = [f for f in run.failures(critical) if f["partition"] == partition]
    return dg.AssetCheckEvaluation(
        asset_key=dg.AssetKey(asset), check_name=check, passed=not failures, partition=partition,
        severity=dg.AssetCheckSeverity.ERROR if critical else dg.AssetCheckSeverity.WARN, blocking=critical,
        metadata={"failed_expectations": dg.MetadataValue.md(
            markdown_table(["expectation", "observed", "unexpected examples"],
                           [[f["expectation"], f["observed"], f["unexpected_examples"] or ""] for f in failures])
            if failures else "every expectation passed")},
    )


def _result(run: SuiteRun, asset: str, check: str, critical: bool) -> dg.AssetCheckResult:
    failures = run.failures(critical)
    partitions = sorted({f["partition"] for f in failures})
    rows = [[f["partition"], f["expectation"], f["observed"], f["unexpected_examples"] or ""]
            for f in failures[:25]]
    return dg.AssetCheckResult(
        asset_key=asset,
        check_name=check,
        passed=not failures,
        severity=dg.AssetCheckSeverity.ERROR if critical else dg.AssetCheckSeverity.WARN,
        metadata={
            "expectations": run.expectations(critical),
            # unchanged table version and suite: the recorded results stand (docs/tables.md)
            "reused_recorded_results": run.reused,
            "partitions_checked": len(set(run.results["partition"].to_pylist())),
            "failed_results": len(failures),
            "failed_partitions": dg.MetadataValue.json(partitions),
            "failures": dg.MetadataValue.md(
                markdown_table(["partition", "expectation", "observed", "unexpected examples"], rows)
                if rows else "every expectation passed on every partition"),
        },
    )
