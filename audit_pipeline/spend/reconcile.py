"""Billed versus logged: per day × provider × account × model × token type.

The account is the provider's API key, or the project (subscription) for providers whose
billing has no key dimension (Azure, FOCUS exports). Token types are normalised on both
sides first (docs/reference/billing-formats.md §0 and §7.6): the logs' input tokens include cached
and cache-write tokens, the bills count them apart, so `uncached_input = input − cache_read −
cache_write` on the logged side and cached tokens never show as a false mismatch. A log
that names only a model alias is counted under the snapshot that served the same alias on
the same account that day, or else under the alias's usual snapshot in the range.

Costs: `billed_cost` is the cost export's line for the same account where the export has
one (OpenAI keys, Bedrock principals, Azure subscriptions); Anthropic's cost report has
workspaces but no keys, so its cost is allocated to the workspace's keys by their share of
billed tokens of that model and token type (exact when the unit price is uniform, which is
how the provider prices; `billed_cost_basis` says which). `computed_cost` prices the
logged tokens with the `price_catalog` in force that day, each call group at its own tier,
prompt-length band and geography (pricing.py); those dimensions are compared where the bill,
its cost lines and the logs all carry them. Web searches are compared with the logs'
`web_search_requests` where the logs count them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pyarrow as pa

from audit_pipeline import engine, pricing
from audit_pipeline.freshness import Recipe, code_version, rebuild_days_if_stale
from audit_pipeline.lake import Lake, date_range_predicate
from audit_pipeline.policy import Tolerances
from audit_pipeline.schemas import SPEND_RECONCILIATION, TABLES, conform
from audit_pipeline.sql import load_sql

STATUSES = ("match", "within_tolerance", "billed_not_logged", "logged_not_billed", "cost_mismatch",
            "unreconciled_charge")
UNATTRIBUTED = "(unattributed)"
"""The account or model of billed rows whose bill does not name one (a pull without that
grouping): reconciled against the logs' totals for the day at that grain, never dropped."""


def reconcile(lake: Lake, first: date, last: date, tolerances: Tolerances, built_at: datetime) -> pa.Table:
    """Reconciliation rows for the days [first, last], typed as SPEND_RECONCILIATION."""
    con = engine.connect()
    try:
        con.register("usage", lake.read("billing_usage", where=date_range_predicate("usage_date", first, last)))
        con.register("costs", lake.read("billing_costs", where=date_range_predicate("usage_date", first, last)))
        con.register("calls", lake.scan("llm_calls", where=date_range_predicate("event_date", first, last), columns=[
            "event_date", "provider", "api_key_id", "project_id", "request_model", "response_model",
            "input_tokens", "cached_input_tokens", "cache_write_tokens", "cache_write_1h_tokens", "output_tokens",
            "web_search_requests", "service_tier", "batch", "inference_geo"]))
        pricing.register(con, lake)
        rows = con.sql(load_sql(__package__, "reconciliation"), params={
            "token_pct": tolerances.token_tolerance_pct, "cost_pct": tolerances.cost_tolerance_pct,
            "cost_usd": tolerances.cost_tolerance_usd, "built_at": built_at}).to_arrow_table()
    finally:
        con.close()
    return conform(rows, SPEND_RECONCILIATION)


@dataclass(frozen=True)
class Reconciled:
    rows: pa.Table
    """The reconciliation rows of the run's days, as stored."""
    rebuilt: bool
    """False when every day was fresh and nothing was written."""


def _fingerprints(lake: Lake, days: list[date], tolerances: Tolerances) -> dict[str, str]:
    """A day's reconciliation is built from that day's bills and calls, the price catalog and
    its prompt-length bands, the tolerances and this module's code."""
    recipe = Recipe("spend_reconciliation", code_version(__name__), {
        "price_catalog": lake.signatures("price_catalog")["all"], "context_bands": pricing.bands_fingerprint(),
        "tolerances": tolerances.model_dump_json()})
    own = {table: lake.signatures(table, days) for table in ("billing_usage", "billing_costs", "llm_calls")}
    return {day.isoformat(): recipe.fingerprint({t: sigs[day.isoformat()] for t, sigs in own.items()})
            for day in days}


def reconcile_days(lake: Lake, first: date, last: date, tolerances: Tolerances, run_id: str,
                   built_at: datetime) -> Reconciled:
    """The `spend_reconciliation` asset's work: when any day of [first, last] is stale,
    reconcile the whole range (an alias resolves to its usual snapshot in the range) and
    replace those days; otherwise write nothing."""
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    fingerprints = _fingerprints(lake, days, tolerances)
    rows, rebuilt = rebuild_days_if_stale(lake, "spend_reconciliation", "usage_date", fingerprints,
                                          lambda: reconcile(lake, first, last, tolerances, built_at), run_id, built_at)
    return Reconciled(rows, rebuilt)


def conservation_gaps(lake: Lake, first: date, last: date) -> list[dict]:
    """Days and providers where spend_reconciliation does not carry exactly the billed tokens
    of billing_usage and the billed cost of billing_costs (to a millionth of a unit: costs
    shared across a workspace's keys are rounded at 12 decimals). Empty when every billed
    token and cent reached the reconciliation, whatever the bills' grouping."""
    where = date_range_predicate("usage_date", first, last)
    con = engine.connect()
    try:
        for name, table in (("usage", "billing_usage"), ("costs", "billing_costs"),
                            ("reconciliation", "spend_reconciliation")):
            con.register(name, lake.read(table, where=where) if lake.exists(table) else TABLES[table].empty_table())
        return con.sql(load_sql(__package__, "conservation")).to_arrow_table().to_pylist()
    finally:
        con.close()
