"""Retention: the model lifecycle catalog, the daily retention report, and weekly enforcement."""

from datetime import UTC, datetime

import dagster as dg
import pyarrow.compute as pc

from audit_pipeline.defs.ingest.results import refuse_incomplete_days
from audit_pipeline.defs.partitions import daily_partitions, run_day_list, single_run
from audit_pipeline.defs.redacted import redacted
from audit_pipeline.defs.resources import AuditPolicy, AuditStorage
from audit_pipeline.defs.tables import report_link, table_metadata
from audit_pipeline.freshness import code_version
from audit_pipeline.reports.markdown import markdown_table
from audit_pipeline.reports.retention_markdown import render_overview
from audit_pipeline.retention.catalog import USER, store_model_catalog
from audit_pipeline.retention.enforcement import DEFAULT_SAFETY_HOURS, enforce, plan_erasure
from audit_pipeline.retention.publish import parse_as_of
from audit_pipeline.retention.report import ReportContext
from audit_pipeline.retention.stored import build_or_reuse

OWNERS = ["team:compliance"]


@dg.asset(
    group_name="retention", owners=OWNERS, kinds={"delta", "python"}, metadata=table_metadata("model_catalog"),
    description="Model snapshots' deprecation and retirement dates: the shipped catalog "
    "(reference/model_catalog.csv, each row with its source) with `model_catalog` entries of "
    "audit.yaml applied. Part of the model inventory (technical documentation, AI Act Art. 18).",
)
@redacted
def model_catalog(storage: AuditStorage, policy: AuditPolicy) -> dg.MaterializeResult:
    catalog, written = store_model_catalog(storage.lake(), policy.current())
    dated = catalog.filter(pc.is_valid(catalog.column("retires_on")))
    return dg.MaterializeResult(metadata={
        "dagster/row_count": catalog.num_rows,
        "changed": written,
        "entries_from_audit_yaml": pc.sum(pc.equal(catalog.column("origin"), USER)).as_py() or 0,
        "retirements": dg.MetadataValue.md(markdown_table(
            ["provider", "snapshot", "retires", "replacement"],
            [[r["provider"], r["snapshot"], r["retires_on"], r["replacement"]] for r in dated.to_pylist()])),
    })


class RetentionReportConfig(dg.Config):
    as_of: str | None = None
    """Report as the lake stood at this moment (YYYY-MM-DD: the end of that UTC day, or an
    ISO time); empty: now. Reads each table at its Delta version of that moment."""


@dg.asset(
    group_name="retention", partitions_def=daily_partitions, backfill_policy=single_run, owners=OWNERS,
    kinds={"delta", "html"},
    deps=["llm_calls", "output_lineage", "billing_usage", "prompt_versions", "model_catalog"],
    code_version=code_version("audit_pipeline.retention.stored"),
    metadata=table_metadata("retention_report"),
    check_specs=[dg.AssetCheckSpec("floor_intact", asset="retention_report", description=(
        "Every AI system's logs are present and covered on every day of its retention floor "
        "window (§7.3); fails naming the system and the days."))],
    description="Per AI system and day: the EU AI Act-style retention report (coverage against "
    "billed usage, the six-month floor test, ceiling and disposal ledger, legal holds, "
    "traceability, model inventory, prompt change history, exceptions with GREEN/AMBER/RED). "
    "The last day of a run is also written as one HTML file per system under AUDIT_REPORTS.",
)
@redacted
def retention_report(context: dg.AssetExecutionContext, config: RetentionReportConfig,
                     storage: AuditStorage, policy: AuditPolicy):
    dates = run_day_list(context)
    last = dates[-1]
    now = datetime.now(UTC)
    as_of = parse_as_of(config.as_of, now) if config.as_of else now
    if as_of > now:
        raise dg.Failure(f"as_of {as_of.isoformat()} is in the future: a report can only show what has been")
    lake = storage.lake()
    refuse_incomplete_days(lake, dates[0], dates[-1], "The retention report")
    report_context = ReportContext(policy.current(), policy.current().sha256, context.run.run_id, now,
                                   as_of_requested=config.as_of is not None)
    latest, published, written, reused = build_or_reuse(lake, storage.reports(), report_context, as_of, dates)
    failing = [r for r in latest if not r["floor_intact"]]
    statuses = [r["status"] for r in latest]
    yield dg.AssetCheckResult(
        check_name="floor_intact", passed=not failing, severity=dg.AssetCheckSeverity.ERROR,
        metadata={"failing": dg.MetadataValue.md(markdown_table(
            ["system", "failing days"], [[r["ai_system"], ", ".join(d.isoformat() for d in r["failing_days"])
                                         or "no records"] for r in failing]) if failing else "none")},
    )
    yield dg.MaterializeResult(metadata={
        "dagster/row_count": written,
        "reused_stored_reports": reused,
        "as_of": as_of.isoformat(),
        **{status.lower(): statuses.count(status) for status in ("GREEN", "AMBER", "RED")},
        "overview": dg.MetadataValue.md(f"Report date {last}, as of {latest[0]['as_of']:%Y-%m-%d %H:%M:%S} UTC\n\n"
                                        + render_overview(latest)),
        **{f"html_report_{p.ai_system}": report_link(storage.reports_root, p.path) for p in published},
    })


class EnforcementConfig(dg.Config):
    dry_run: bool = True
    """Only count what would be deleted (the ledger records it as a dry run). The weekly
    schedule sets it to false."""
    vacuum_safety_hours: int = DEFAULT_SAFETY_HOURS
    """Vacuum keeps files younger versions need for this long (time travel and as-of reports
    reach back this far after a deletion)."""


@dg.asset(
    group_name="retention", owners=OWNERS, kinds={"delta", "python"},
    deps=["llm_calls", "output_lineage"],
    description="Deletes log rows past each AI system's retention ceiling from llm_calls, "
    "output_lineage and quarantine, never rows inside the floor or under an active legal hold, "
    "then vacuums; every action is a row of `erasure_log`. Dry run unless configured.",
)
@redacted
def retention_enforcement(context: dg.AssetExecutionContext, config: EnforcementConfig,
                          storage: AuditStorage, policy: AuditPolicy) -> dg.MaterializeResult:
    now = datetime.now(UTC)  # always the real clock: a configurable date could reach into the floor
    actions = plan_erasure(policy.current(), now.date(), now)
    ledger = enforce(storage.lake(), actions, dry_run=config.dry_run, safety_hours=config.vacuum_safety_hours,
                     run_id=context.run.run_id, now=now)
    rows = ledger.to_pylist()
    deleted = sum(r["rows_deleted"] for r in rows if r["action"] == "delete")
    if not config.dry_run and deleted:
        context.log.info(f"retention enforcement deleted {deleted} rows past their ceilings")
    return dg.MaterializeResult(metadata={
        "dry_run": config.dry_run,
        "rows_deleted" if not config.dry_run else "rows_that_would_be_deleted": deleted,
        "files_removed": sum(r["files_removed"] for r in rows),
        "ledger": dg.MetadataValue.md(markdown_table(
            ["table", "system", "action", "rows", "cutoff", "holds checked"],
            [[r["table_name"], r["ai_system"], r["action"], r["rows_deleted"], r["cutoff_date"], r["hold_checked"]]
             for r in rows]) if rows else "no system has a ceiling: nothing to enforce"),
    })
