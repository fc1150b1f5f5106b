"""Spend: the dated price catalog and the daily reconciliation of billed against logged."""

from datetime import UTC, datetime

import dagster as dg
import pyarrow.compute as pc

from audit_pipeline.defs.partitions import daily_partitions, run_days, single_run
from audit_pipeline.defs.redacted import redacted
from audit_pipeline.defs.resources import AuditPolicy, AuditStorage
from audit_pipeline.defs.tables import report_link, table_metadata
from audit_pipeline.freshness import code_version
from audit_pipeline.pricing import USER_PRICE, store_price_catalog
from audit_pipeline.reports.markdown import markdown_table
from audit_pipeline.spend.findings import HIGH
from audit_pipeline.spend.reconcile import STATUSES, conservation_gaps, reconcile_days
from audit_pipeline.spend.security import find_and_publish

OWNERS = ["team:finops", "team:security"]


@dg.asset(
    group_name="spend", owners=OWNERS, kinds={"delta", "python"}, metadata=table_metadata("price_catalog"),
    description="USD per million tokens per provider, model snapshot and token type, with the "
    "dates each price applies: the shipped reference/prices.csv (each row with its source) with "
    "`prices:` of audit.yaml applied. Lineage and the reconciliation price calls from it; a "
    "change re-prices the affected days on the next materialization.",
)
@redacted
def price_catalog(storage: AuditStorage, policy: AuditPolicy) -> dg.MaterializeResult:
    catalog, written = store_price_catalog(storage.lake(), policy.current())
    return dg.MaterializeResult(metadata={
        "dagster/row_count": catalog.num_rows,
        "changed": written,
        "prices_from_audit_yaml": sum(1 for p in catalog.column("price_id").to_pylist() if p.startswith(USER_PRICE)),
    })


@dg.asset(
    group_name="spend", partitions_def=daily_partitions, backfill_policy=single_run, owners=OWNERS,
    kinds={"delta", "duckdb"},
    deps=["billing_usage", "billing_costs", "llm_calls", "price_catalog"],
    code_version=code_version("audit_pipeline.spend.reconcile"),
    metadata=table_metadata("spend_reconciliation"),
    check_specs=[dg.AssetCheckSpec("billing_conserved", asset="spend_reconciliation", blocking=True, description=(
        "Every billed token of billing_usage and every billed cent of billing_costs reaches the reconciliation, "
        "per day and provider, whatever the bills' grouping (ungrouped bills in an unattributed bucket, "
        "charges that are not tokens as their own rows); a gap fails the run before findings are built."))],
    description="Per day × provider × API key (or project where billing has no key) × model × "
    "token type: billed tokens, logged tokens, billed cost, cost computed from the logs and the "
    "price catalog, their differences and a status (match, within_tolerance, billed_not_logged, "
    "logged_not_billed, cost_mismatch, unreconciled_charge; tolerances in audit.yaml).",
)
@redacted
def spend_reconciliation(context: dg.AssetExecutionContext, storage: AuditStorage, policy: AuditPolicy):
    first, last = run_days(context)
    reconciled = reconcile_days(storage.lake(), first, last, policy.current().reconciliation, context.run.run_id,
                                datetime.now(UTC))
    gaps = conservation_gaps(storage.lake(), first, last)
    yield dg.AssetCheckResult(
        check_name="billing_conserved", passed=not gaps, severity=dg.AssetCheckSeverity.ERROR,
        metadata={"gaps": len(gaps), "where": dg.MetadataValue.md(markdown_table(
            ["day", "provider", "billed tokens", "reconciled tokens", "billed searches", "reconciled searches",
             "billed cost", "reconciled cost"],
            [[g["day"], g["provider"], g["billed_tokens"], g["reconciled_tokens"], g["billed_searches"],
              g["reconciled_searches"], g["billed_cost"], g["reconciled_cost"]] for g in gaps])
            if gaps else "every billed token, search and cent is reconciled")})
    rows = reconciled.rows
    statuses = rows.column("status")
    counts = {status: pc.sum(pc.equal(statuses, status)).as_py() or 0 for status in STATUSES}
    off = rows.filter(pc.invert(pc.is_in(statuses, value_set=pc.cast(["match", "within_tolerance"], "string"))))
    shown = sorted(off.to_pylist(), key=lambda r: -abs(r["token_diff"]))[:15]
    yield dg.MaterializeResult(metadata={
        "dagster/row_count": rows.num_rows,
        "rebuilt": reconciled.rebuilt,
        **counts,
        "differences": dg.MetadataValue.md(markdown_table(
            ["day", "provider", "account", "model", "token type", "tier", "billed", "logged", "billed $",
             "computed $", "status"],
            [[r["usage_date"], r["provider"], r["api_key_id"], r["model"], r["token_type"], r["price_tier"] or "",
              r["billed_tokens"], r["logged_tokens"], r["billed_cost"], r["computed_cost"], r["status"]]
             for r in shown])
            if shown else "every row matches or is within tolerance"),
    })


@dg.asset(
    group_name="spend", partitions_def=daily_partitions, backfill_policy=single_run, owners=OWNERS,
    kinds={"delta", "python"},
    deps=["spend_reconciliation", "llm_calls"],
    code_version=code_version("audit_pipeline.spend.security"),
    metadata=table_metadata("security_findings"),
    check_specs=[dg.AssetCheckSpec("no_unacknowledged_high_findings", asset="security_findings", description=(
        "Fails while a high-severity finding (unknown key spend, a model nobody requested, a large spend "
        "spike) of the run's days is not acknowledged in audit.yaml, so Dagster alerting carries it."))],
    description="Findings a leaked key or scripted abuse leaves in the bills, each with a stable id, "
    "severity, evidence numbers and a plain explanation: unknown_key_spend, model_not_requested, "
    "spend_without_logs, cost_drift, spend_spike, off_hours_shift, tokens_per_request_shift. "
    "Acknowledged findings (audit.yaml) stay, marked.",
)
@redacted
def security_findings(context: dg.AssetExecutionContext, storage: AuditStorage, policy: AuditPolicy):
    first, last = run_days(context)
    found = find_and_publish(storage.lake(), storage.reports(), policy.current(), first, last, context.run.run_id,
                             datetime.now(UTC))
    rows = found.rows.to_pylist()
    open_high = [r for r in rows if r["severity"] == HIGH and not r["acknowledged"]]
    yield dg.AssetCheckResult(
        check_name="no_unacknowledged_high_findings", passed=not open_high, severity=dg.AssetCheckSeverity.ERROR,
        metadata={"open_high_findings": len(open_high), "findings": dg.MetadataValue.md(_findings_table(open_high))},
    )
    by_type: dict[str, int] = {}
    for r in rows:
        by_type[r["finding_type"]] = by_type.get(r["finding_type"], 0) + 1
    yield dg.MaterializeResult(metadata={
        "dagster/row_count": len(rows),
        "rebuilt": found.rebuilt,
        **{f"findings_{kind}": n for kind, n in sorted(by_type.items())},
        "top_findings": dg.MetadataValue.md(_findings_table(rows)),
        "html_report": report_link(storage.reports_root, found.page),
    })


def _findings_table(rows: list[dict]) -> str:
    if not rows:
        return "none"
    shown = sorted(rows, key=lambda r: (r["severity"] != HIGH, r["usage_date"]))[:20]
    return markdown_table(["day", "severity", "type", "account", "what it means", "id"],
                          [[r["usage_date"], r["severity"] + (" (acknowledged)" if r["acknowledged"] else ""),
                            r["finding_type"], r["api_key_id"], r["detail"], r["finding_id"]] for r in shown])
