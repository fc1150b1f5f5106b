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
logged tokens with the `price_catalog` in force that day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pyarrow as pa

from audit_pipeline import engine
from audit_pipeline.freshness import Recipe, code_version, record, stale
from audit_pipeline.lake import Lake, date_range_predicate
from audit_pipeline.policy import Tolerances
from audit_pipeline.pricing import load_prices
from audit_pipeline.schemas import SPEND_RECONCILIATION, conform

STATUSES = ("match", "within_tolerance", "billed_not_logged", "logged_not_billed", "cost_mismatch")

RECONCILIATION_SQL = """
WITH keyless AS (
    -- providers whose usage never names a key: their account is the project / subscription
    SELECT provider FROM usage GROUP BY provider HAVING count(api_key_id) = 0
), billed_wide AS (
    SELECT usage_date AS day, provider,
           CASE WHEN provider IN (SELECT provider FROM keyless) THEN project_id ELSE api_key_id END AS account,
           workspace_id, model,
           sum(uncached_input_tokens) AS uncached_input, sum(cache_read_tokens) AS cache_read,
           sum(coalesce(cache_write_tokens, 0) + coalesce(cache_write_1h_tokens, 0)) AS cache_write,
           sum(output_tokens) AS output
    FROM usage GROUP BY ALL
), billed AS (
    SELECT day, provider, account, any_value(workspace_id) AS workspace_id, model, token_type,
           sum(tokens)::BIGINT AS billed_tokens
    FROM (UNPIVOT billed_wide ON uncached_input, cache_read, cache_write, output
          INTO NAME token_type VALUE tokens)
    GROUP BY day, provider, account, model, token_type
), calls_grouped AS (
    -- the calls reduced once, streaming, to their distinct (account, alias, snapshot) groups
    SELECT event_date AS day, provider,
           CASE WHEN provider IN (SELECT provider FROM keyless) THEN project_id ELSE api_key_id END AS account,
           request_model, response_model, count(*) AS n,
           sum(greatest(input_tokens - coalesce(cached_input_tokens, 0) - coalesce(cache_write_tokens, 0), 0))
               AS uncached_input,
           sum(coalesce(cached_input_tokens, 0)) AS cache_read, sum(coalesce(cache_write_tokens, 0)) AS cache_write,
           sum(output_tokens) AS output
    FROM calls GROUP BY ALL
), alias_snapshot AS (
    SELECT day, provider, account, request_model, arg_max(response_model, n) AS snapshot
    FROM calls_grouped WHERE response_model IS NOT NULL
    GROUP BY ALL
), alias_any_day AS (
    -- a rare alias may be logged only without its snapshot on a day: use its usual snapshot
    SELECT provider, request_model, arg_max(response_model, n) AS snapshot
    FROM calls_grouped WHERE response_model IS NOT NULL
    GROUP BY ALL
), logged_wide AS (
    SELECT c.day, c.provider, c.account, coalesce(c.response_model, a.snapshot, g.snapshot, c.request_model) AS model,
           sum(c.uncached_input) AS uncached_input, sum(c.cache_read) AS cache_read,
           sum(c.cache_write) AS cache_write, sum(c.output) AS output
    FROM calls_grouped c
    LEFT JOIN alias_snapshot a ON a.day = c.day AND a.provider = c.provider
         AND a.account IS NOT DISTINCT FROM c.account AND a.request_model = c.request_model
    LEFT JOIN alias_any_day g ON g.provider = c.provider AND g.request_model = c.request_model
    GROUP BY ALL
), logged AS (
    SELECT day, provider, account, model, token_type, sum(tokens)::BIGINT AS logged_tokens
    FROM (UNPIVOT logged_wide ON uncached_input, cache_read, cache_write, output
          INTO NAME token_type VALUE tokens)
    GROUP BY ALL
), cost_lines AS (
    SELECT usage_date AS day, provider,
           CASE WHEN provider IN (SELECT provider FROM keyless) THEN project_id ELSE api_key_id END AS account,
           workspace_id, model, token_type, billing_currency, sum(billed_cost) AS billed_cost
    FROM costs GROUP BY ALL
), direct_cost AS (
    SELECT day, provider, account, model, token_type, any_value(billing_currency) AS billing_currency,
           sum(billed_cost) AS billed_cost
    FROM cost_lines WHERE account IS NOT NULL GROUP BY ALL
), workspace_cost AS (
    SELECT day, provider, workspace_id, model, token_type, any_value(billing_currency) AS billing_currency,
           sum(billed_cost) AS billed_cost
    FROM cost_lines WHERE account IS NULL GROUP BY ALL
), keys AS (
    SELECT day, provider, account, model, token_type FROM billed WHERE billed_tokens > 0
    UNION SELECT day, provider, account, model, token_type FROM logged WHERE logged_tokens > 0
    UNION SELECT day, provider, account, model, token_type FROM direct_cost WHERE billed_cost <> 0
), joined AS (
    SELECT k.*, b.billed_tokens, l.logged_tokens,
           coalesce(d.billed_cost, w.billed_cost * b.billed_tokens
                    / sum(b.billed_tokens) OVER (PARTITION BY k.day, k.provider, b.workspace_id, k.model,
                                                              k.token_type, d.billed_cost IS NULL)) AS billed_cost,
           coalesce(d.billing_currency, w.billing_currency) AS billing_currency,
           CASE WHEN d.billed_cost IS NOT NULL THEN 'export'
                WHEN w.billed_cost IS NOT NULL THEN 'allocated_from_workspace' END AS billed_cost_basis
    FROM keys k
    LEFT JOIN billed b ON b.day = k.day AND b.provider = k.provider AND b.account IS NOT DISTINCT FROM k.account
         AND b.model = k.model AND b.token_type = k.token_type
    LEFT JOIN logged l ON l.day = k.day AND l.provider = k.provider AND l.account IS NOT DISTINCT FROM k.account
         AND l.model = k.model AND l.token_type = k.token_type
    LEFT JOIN direct_cost d ON d.day = k.day AND d.provider = k.provider
         AND d.account IS NOT DISTINCT FROM k.account AND d.model = k.model AND d.token_type = k.token_type
    LEFT JOIN workspace_cost w ON d.billed_cost IS NULL AND w.day = k.day AND w.provider = k.provider
         AND w.workspace_id IS NOT DISTINCT FROM b.workspace_id AND w.model = k.model AND w.token_type = k.token_type
), priced AS (
    SELECT j.*, CAST(coalesce(j.logged_tokens, 0) * CAST(p.usd_per_million AS DECIMAL(38, 12)) / 1000000
                     AS DECIMAL(38, 12)) AS computed_cost, p.price_id
    FROM joined j
    LEFT JOIN prices p ON p.provider = j.provider AND p.model = j.model AND p.token_type = j.token_type
         AND p.effective_from <= j.day AND (p.effective_to IS NULL OR j.day < p.effective_to)
), measured AS (
    SELECT *, coalesce(billed_tokens, 0) - coalesce(logged_tokens, 0) AS token_diff,
           CASE WHEN billing_currency = 'USD' THEN CAST(billed_cost - computed_cost AS DECIMAL(38, 12)) END
               AS cost_diff_usd
    FROM priced
)
SELECT day AS usage_date, provider, account AS api_key_id,
       CASE WHEN provider IN (SELECT provider FROM keyless) THEN 'project' ELSE 'api_key' END AS account_kind,
       model, token_type, coalesce(billed_tokens, 0) AS billed_tokens, coalesce(logged_tokens, 0) AS logged_tokens,
       token_diff, round(100.0 * token_diff / greatest(billed_tokens, logged_tokens, 1), 4) AS token_diff_pct,
       CAST(billed_cost AS DECIMAL(38, 12)) AS billed_cost, billing_currency, billed_cost_basis,
       computed_cost, price_id, cost_diff_usd,
       CASE WHEN billed_cost IS NOT NULL AND billed_cost <> 0
            THEN round(100.0 * CAST(cost_diff_usd AS DOUBLE) / abs(CAST(billed_cost AS DOUBLE)), 4) END
           AS cost_diff_pct,
       CASE
           WHEN coalesce(logged_tokens, 0) = 0 AND coalesce(billed_tokens, 0) > 0 THEN 'billed_not_logged'
           WHEN coalesce(billed_tokens, 0) = 0 AND coalesce(logged_tokens, 0) > 0 THEN 'logged_not_billed'
           WHEN abs(token_diff) * 100.0 > $token_pct * greatest(billed_tokens, logged_tokens)
               THEN CASE WHEN token_diff > 0 THEN 'billed_not_logged' ELSE 'logged_not_billed' END
           WHEN cost_diff_usd IS NOT NULL AND abs(cost_diff_usd) > $cost_usd
                AND abs(cost_diff_usd) * 100 > $cost_pct * abs(billed_cost) THEN 'cost_mismatch'
           WHEN token_diff = 0 AND (cost_diff_usd IS NULL OR abs(cost_diff_usd) < 0.000001) THEN 'match'
           ELSE 'within_tolerance'
       END AS status,
       $built_at AS built_at
FROM measured
ORDER BY ALL
"""


def reconcile(lake: Lake, first: date, last: date, tolerances: Tolerances, built_at: datetime) -> pa.Table:
    """Reconciliation rows for the days [first, last], typed as SPEND_RECONCILIATION."""
    con = engine.connect()
    try:
        con.register("usage", lake.read("billing_usage", where=date_range_predicate("usage_date", first, last)))
        con.register("costs", lake.read("billing_costs", where=date_range_predicate("usage_date", first, last)))
        con.register("calls", lake.scan("llm_calls", where=date_range_predicate("event_date", first, last), columns=[
            "event_date", "provider", "api_key_id", "project_id", "request_model", "response_model",
            "input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens"]))
        con.register("prices", lake.read("price_catalog") if lake.exists("price_catalog") else load_prices())
        rows = con.sql(RECONCILIATION_SQL, params={
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
    """A day's reconciliation is built from that day's bills and calls, the price catalog,
    the tolerances and this module's code."""
    recipe = Recipe("spend_reconciliation", code_version(__name__), {
        "price_catalog": lake.signatures("price_catalog")["all"], "tolerances": tolerances.model_dump_json()})
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
    rebuilt = bool(stale(lake, "spend_reconciliation", fingerprints))
    if rebuilt:
        rows = reconcile(lake, first, last, tolerances, built_at)
        lake.replace_where("spend_reconciliation", rows, date_range_predicate("usage_date", first, last))
        record(lake, "spend_reconciliation", fingerprints, run_id, built_at)
    else:
        rows = lake.read("spend_reconciliation", where=date_range_predicate("usage_date", first, last))
    return Reconciled(rows, rebuilt)
