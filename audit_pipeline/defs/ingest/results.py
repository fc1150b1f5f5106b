"""Turn a load's report into what a person sees in the Dagster UI and a blocking check."""

from __future__ import annotations

import dagster as dg

from audit_pipeline.loads.bookkeeping import LoadReport
from audit_pipeline.reports.markdown import markdown_table

CONSERVATION_CHECK = "rows_add_up"
"""Per file: rows_read = rows_accepted + rows_quarantined + rows_duplicate."""


def conservation_spec(asset: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        CONSERVATION_CHECK, asset=asset, blocking=True,
        description="Every row read is accepted, quarantined with a reason, or a counted duplicate.",
    )


def load_result(report: LoadReport, extra: dict | None = None) -> dg.MaterializeResult:
    unbalanced = [f.source_file for f in report.files if not f.balanced]
    rows = [
        [f.source_file, f.partition, f.status, f.rows_read, f.rows_accepted, f.rows_quarantined,
         f.rows_duplicate]
        for f in report.files[:20]
    ]
    metadata = {
        "days": f"{report.days[0]} .. {report.days[-1]}",
        "files": len(report.files),
        "failed_files": len(report.failed_files),
        "rows_read": report.total("rows_read"),
        "rows_accepted": report.total("rows_accepted"),
        "rows_quarantined": report.total("rows_quarantined"),
        "rows_duplicate": report.total("rows_duplicate"),
        "files_preview": dg.MetadataValue.md(markdown_table(
            ["file", "day", "status", "read", "accepted", "quarantined", "duplicate"], rows)),
        **(extra or {}),
    }
    if report.failed_files:
        metadata["failed"] = dg.MetadataValue.md(
            "\n".join(f"- {f.error}" for f in report.failed_files[:20]))
    return dg.MaterializeResult(
        metadata=metadata,
        check_results=[
            dg.AssetCheckResult(
                check_name=CONSERVATION_CHECK,
                passed=not unbalanced,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={"unbalanced_files": dg.MetadataValue.json(unbalanced[:50])},
            )
        ],
    )
