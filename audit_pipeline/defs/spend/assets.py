"""Spend: the dated price catalog and the daily reconciliation of billed against logged."""

from datetime import UTC, datetime

import dagster as dg
import pyarrow.compute as pc

from audit_pipeline.defs.partitions import daily_partitions, run_days, single_run
from audit_pipeline.defs.resources import AuditStorage
from audit_pipeline.lake import date_range_predicate
from audit_pipeline.policy import load_policy
from audit_pipeline.pricing import load_prices
from audit_pipeline.pricing import price_catalog as build_price_catalog
from audit_pipeline.reports.markdown import markdown_table
from audit_pipeline.spend.reconcile import STATUSES, reconcile

OWNERS = ["team:finops", "team:security"]


@dg.asset(
    group_name="spend", owners=OWNERS, kinds={"delta", "python"},
    description="USD per million tokens per provider, model snapshot and token type, with the "
    "dates each price applies: the shipped reference/prices.csv (each row with its source) with "
    "`prices:` of audit.yaml applied. Lineage and the reconciliation price calls from it; a "
    "change re-prices the affected days on the next materialization.",
)
def price_catalog(storage: AuditStorage) -> dg.MaterializeResult:
    catalog = build_price_catalog(load_policy(storage.config_path))
    written = storage.lake().replace_all_if_changed("price_catalog", catalog)
    shipped = set(load_prices().column("price_id").to_pylist())
    return dg.MaterializeResult(metadata={
        "dagster/row_count": catalog.num_rows,
        "changed": written,
        "prices_from_audit_yaml": sum(1 for p in catalog.column("price_id").to_pylist() if p not in shipped),
    })


@dg.asset(
    group_name="spend", partitions_def=daily_partitions, backfill_policy=single_run, owners=OWNERS,
    kinds={"delta", "duckdb"},
    deps=["billing_usage", "billing_costs", "llm_calls", "price_catalog"],
    description="Per day × provider × API key (or project where billing has no key) × model × "
    "token type: billed tokens, logged tokens, billed cost, cost computed from the logs and the "
    "price catalog, their differences and a status (match, within_tolerance, billed_not_logged, "
    "logged_not_billed, cost_mismatch; tolerances in audit.yaml).",
)
def spend_reconciliation(context: dg.AssetExecutionContext, storage: AuditStorage) -> dg.MaterializeResult:
    first, last = run_days(context)
    lake = storage.lake()
    rows = reconcile(lake, first, last, load_policy(storage.config_path).reconciliation, datetime.now(UTC))
    lake.replace_where("spend_reconciliation", rows, date_range_predicate("usage_date", first, last))
    statuses = rows.column("status")
    counts = {status: pc.sum(pc.equal(statuses, status)).as_py() or 0 for status in STATUSES}
    off = rows.filter(pc.invert(pc.is_in(statuses, value_set=pc.cast(["match", "within_tolerance"], "string"))))
    shown = sorted(off.to_pylist(), key=lambda r: -abs(r["token_diff"]))[:15]
    return dg.MaterializeResult(metadata={
        "dagster/row_count": rows.num_rows,
        **counts,
        "differences": dg.MetadataValue.md(markdown_table(
            ["day", "provider", "account", "model", "token type", "billed", "logged", "billed $", "computed $",
             "status"],
            [[r["usage_date"], r["provider"], r["api_key_id"], r["model"], r["token_type"], r["billed_tokens"],
              r["logged_tokens"], r["billed_cost"], r["computed_cost_usd"], r["status"]] for r in shown])
            if shown else "every row matches or is within tolerance"),
    })
