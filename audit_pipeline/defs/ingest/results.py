"""Turn load reports into what a person sees in the Dagster UI, and a blocking check."""

from __future__ import annotations

from collections import Counter

import dagster as dg

from audit_pipeline.loads.bookkeeping import LoadReport
from audit_pipeline.redaction import redact
from audit_pipeline.reports.markdown import markdown_table

CONSERVATION_CHECK = "rows_add_up"
"""Per file and day: rows_read = rows_accepted + rows_quarantined + rows_duplicate +
rows_superseded + rows_skipped."""


def conservation_spec(asset: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        CONSERVATION_CHECK, asset=asset, blocking=True,
        description="Every row read is accepted, quarantined with a reason, a counted duplicate, superseded by "
        "a newer pull, or skipped with its reason (not this source's kind of record); "
        "for llm_calls, each day's table rows equal the rows the log says were accepted.",
    )


def log_failed_files(context: dg.AssetExecutionContext, reports: list[LoadReport]) -> None:
    """One warning per file that could not be read (the reason names the file), so the run
    log and Dagster's alerting carry it; the other files loaded."""
    for report in reports:
        for failed in report.failed_files:
            context.log.warning(redact(f"{report.source}: file not loaded: {failed.error}"))


def _total(reports: list[LoadReport], attribute: str) -> int:
    return sum(r.total(attribute) for r in reports)


def load_result(asset: str, reports: list[LoadReport], extra: dict | None = None,
                quality: list[dg.AssetCheckResult] = (), stored_mismatches: list[str] = ()) -> dg.MaterializeResult:
    """The asset's metadata, its conservation check and its `quality` check results.

    The conservation check fails when a file's counts do not add up, or when the table
    holds a different number of rows for a day than the log says were accepted
    (`stored_mismatches`)."""
    files = [f for r in reports for f in r.files]
    unbalanced = [f"{f.source_file} ({f.partition})" for f in files if not f.balanced] + list(stored_mismatches)
    failed = [f for f in files if f.status != "ok"]
    unknown = sum((r.unknown_fields for r in reports), Counter())
    by_source = [[r.source, len(r.files), r.total("rows_read"), r.total("rows_accepted"),
                  r.total("rows_quarantined"), r.total("rows_duplicate"), r.total("rows_superseded"),
                  r.total("rows_skipped")] for r in reports]
    metadata = {
        "days": f"{reports[0].days[0]} .. {reports[0].days[-1]}" if reports and reports[0].days else "-",
        "days_skipped_unchanged": max((r.days_skipped for r in reports), default=0),
        "files": len(files),
        "failed_files": len(failed),
        "rows_read": _total(reports, "rows_read"),
        "rows_accepted": _total(reports, "rows_accepted"),
        "rows_quarantined": _total(reports, "rows_quarantined"),
        "rows_duplicate": _total(reports, "rows_duplicate"),
        "rows_superseded": _total(reports, "rows_superseded"),
        "rows_skipped": _total(reports, "rows_skipped"),
        "sources": dg.MetadataValue.md(markdown_table(
            ["source", "files", "read", "accepted", "quarantined", "duplicate", "superseded", "skipped"], by_source)),
        "unknown_fields": dg.MetadataValue.json(dict(unknown.most_common(20))),
        **(extra or {}),
    }
    if failed:
        metadata["failed"] = dg.MetadataValue.md("\n".join(f"- {f.error}" for f in failed[:20]))
    return dg.MaterializeResult(
        asset_key=asset,
        metadata=metadata,
        check_results=[
            dg.AssetCheckResult(
                asset_key=asset,
                check_name=CONSERVATION_CHECK,
                passed=not unbalanced,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={"unbalanced": dg.MetadataValue.json(unbalanced[:50])},
            ),
            *quality,
        ],
    )


def fail_on_unreadable_files(reports: list[LoadReport], skip: bool) -> None:
    """Fail the step (after what could be read was stored and reported) when a file could not
    be read: a run that silently lacks a file's rows would let reports and exports build on an
    incomplete day. The operator may opt in to going on (AUDIT_SKIP_UNREADABLE_FILES)."""
    failed = [f"{f.source_file}: {f.error}" for r in reports for f in r.failed_files]
    if failed and not skip:
        raise dg.Failure(description=redact(
            f"{len(failed)} landing file(s) could not be read; the others were loaded, nothing downstream "
            "was built. Fix or remove the file and rerun, or set AUDIT_SKIP_UNREADABLE_FILES=true to go on "
            "without it.\n" + "\n".join(failed[:20])))


def refuse_incomplete_days(lake, first, last, what: str) -> None:
    """Refuse to build `what` over days a landing file could not be read for (unless the
    operator opted in to going on without it): a report or a signed export would hold an
    incomplete day without saying so."""
    from audit_pipeline.loads.bookkeeping import unreadable_files
    from audit_pipeline.settings import load_settings

    failed = unreadable_files(lake, first, last)
    if failed and not load_settings().skip_unreadable_files:
        raise dg.Failure(description=redact(
            f"{what} of {first} .. {last} refused: {len(failed)} landing file(s) of these days could not be "
            "read, so the days are incomplete. Fix the file and rerun those days, or set "
            "AUDIT_SKIP_UNREADABLE_FILES=true to build without it.\n" + "\n".join(failed[:20])))
