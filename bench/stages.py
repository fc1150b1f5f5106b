"""The stages the benchmark times: each calls the same domain function its asset calls (no
pipeline code is restated here), and each runs in its own process so its peak memory is its
own.

`python -m bench.stages NAME LANDING LAKE DAY` runs one stage; `--end-to-end` runs every
nightly stage in one process, in order (the pipeline without Dagster); `--refs DIR` writes the
Parquet references the peer scripts read.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from audit_pipeline.exports.build import ExportRequest, export_period
from audit_pipeline.exports.store import LocalExports
from audit_pipeline.exports.verify import verify
from audit_pipeline.lake import Lake
from audit_pipeline.landing import Landing
from audit_pipeline.loads.billing import load_billing
from audit_pipeline.loads.calls import load_calls
from audit_pipeline.loads.lineage import build_output_lineage
from audit_pipeline.loads.prompts import store_prompt_history
from audit_pipeline.policy import Policy, load_policy
from audit_pipeline.pricing import store_price_catalog
from audit_pipeline.quality.checks import check_table
from audit_pipeline.quality.suites import SUITES
from audit_pipeline.retention.catalog import store_model_catalog
from audit_pipeline.retention.report import ReportContext
from audit_pipeline.retention.stored import build_or_reuse
from audit_pipeline.spend.reconcile import reconcile_days
from audit_pipeline.spend.security import find_and_publish

RUN_ID = "bench"
SIGNING_KEY = "bench signing key"


@dataclass(frozen=True)
class Workload:
    landing: str
    lake_root: str
    day: date
    policy: Policy

    @property
    def lake(self) -> Lake:
        return Lake(self.lake_root)

    @property
    def reports(self) -> Landing:
        return Landing(self.lake_root + "-reports")


def _now() -> datetime:
    # Taken when the stage runs: end to end, a report's as-of must follow the writes before it.
    return datetime.now(UTC)


def prompt_history(w: Workload) -> None:
    store_prompt_history(w.lake, f"{w.landing}/prompt-repo", ("prompts/**",))


def price_catalog(w: Workload) -> None:
    store_price_catalog(w.lake, w.policy)


def ingest_llm_calls(w: Workload) -> None:
    load_calls(Landing(w.landing), w.lake, w.day, w.day, _now(), RUN_ID)


def billing(w: Workload) -> None:
    load_billing(Landing(w.landing), w.lake, w.day, w.day, _now(), RUN_ID)


def output_lineage(w: Workload) -> None:
    build_output_lineage(w.lake, w.day, w.day, run_id=RUN_ID)


def quality(w: Workload) -> None:
    for table in SUITES:  # as the assets call it: GX is imported only if a suite must run
        check_table(w.lake, table, [w.day], RUN_ID, _now())


def spend_reconciliation(w: Workload) -> None:
    reconcile_days(w.lake, w.day, w.day, w.policy.reconciliation, RUN_ID, _now())


def security_findings(w: Workload) -> None:
    find_and_publish(w.lake, w.reports, w.policy, w.day, w.day, RUN_ID, _now())


def retention_report(w: Workload) -> None:
    store_model_catalog(w.lake, w.policy)
    now = _now()
    build_or_reuse(w.lake, w.reports, ReportContext(w.policy, w.policy.sha256, RUN_ID, now), now, [w.day])


def auditor_export(w: Workload) -> None:
    request = ExportRequest(w.day, w.day, w.policy.sha256, 6)
    export_period(w.lake, w.reports, LocalExports(w.lake_root + "-exports"), SIGNING_KEY, request)


def verify_export(w: Workload) -> None:
    assert verify(Path(w.lake_root + "-exports")).intact


STAGES: dict[str, Callable[[Workload], None]] = {
    "prompt_history": prompt_history,
    "price_catalog": price_catalog,
    "ingest_llm_calls": ingest_llm_calls,
    "billing": billing,
    "output_lineage": output_lineage,
    "quality (GX, every table)": quality,
    "spend reconciliation": spend_reconciliation,
    "security findings": security_findings,
    "retention report": retention_report,
    "auditor export": auditor_export,
    "verify export": verify_export,
}
"""Stage name → the domain function run for the workload's day."""

EXPORT_STAGES = ("auditor export", "verify export")
"""Monthly (or on demand), not part of the nightly pipeline: timed alone, not end to end."""

END_TO_END = "--end-to-end"
REFS = "--refs"
REFERENCE_TABLES = ("prompt_versions", "billing_usage", "llm_calls")
"""What the peer scripts read: the tables our pipeline built, as Parquet."""


def command(stage: str, landing: Path, lake: Path, day: date, *extra: str) -> list[str]:
    """The argv that runs `stage` (a name, END_TO_END or REFS) in a process of its own."""
    return [sys.executable, "-m", "bench.stages", stage, str(landing), str(lake), day.isoformat(), *extra]


def main(argv: list[str]) -> None:
    stage, landing, lake, day, *extra = argv
    workload = Workload(landing, lake, date.fromisoformat(day), load_policy("audit.yaml"))
    if stage == END_TO_END:
        for name, run in STAGES.items():
            if name not in EXPORT_STAGES:
                run(workload)
    elif stage == REFS:
        import pyarrow.parquet as pq

        for table in REFERENCE_TABLES:
            pq.write_table(workload.lake.read(table), f"{extra[0]}/{table}.parquet")
    else:
        STAGES[stage](workload)


if __name__ == "__main__":
    main(sys.argv[1:])
