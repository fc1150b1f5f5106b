-- Billed against logged per day × provider × account × model × price grain × token type
-- (spend/reconcile.py). Registered: usage, costs, calls, and prices, bands and the pricing
-- macros (pricing.py). Parameters: $token_pct, $cost_pct, $cost_usd, $built_at.
-- Conservation: every billed token, search and cent of the inputs reaches exactly one row.
-- A bill that does not name the key (or project) or the model (an ungrouped page) is counted
-- under '(unattributed)'; the logs are summed to that grain for the day, so the totals compare.
-- Price grain: the tier, prompt-length band and inference geography are compared where the
-- day's bill, its cost lines and its logs all carry them ('' = all together elsewhere); a call
-- that does not log its tier counts as standard. The logged cost is priced per call group at
-- its own tier, band and geography, then summed to the row.
WITH keyless AS (
    -- providers whose usage never names a key: their account is the project / subscription
    SELECT provider FROM usage GROUP BY provider HAVING count(api_key_id) = 0
), usage_keyed AS (
    SELECT *, CASE WHEN provider IN (SELECT provider FROM keyless) THEN project_id ELSE api_key_id END AS account,
           price_tier(service_tier, batch) AS tier
    FROM usage
), costs_keyed AS (
    SELECT *, CASE WHEN provider IN (SELECT provider FROM keyless) THEN project_id ELSE api_key_id END AS account,
           price_tier(service_tier, NULL) AS tier
    FROM costs
), calls_grouped AS (
    -- the calls reduced once, streaming, to their distinct (account, alias, snapshot, price) groups
    SELECT event_date AS day, provider,
           CASE WHEN provider IN (SELECT provider FROM keyless) THEN project_id ELSE api_key_id END AS account,
           request_model, response_model, price_tier(service_tier, batch) AS tier,
           context_band(provider, input_tokens) AS band, inference_geo AS geo, count(*) AS n,
           sum(greatest(input_tokens - coalesce(cached_input_tokens, 0) - coalesce(cache_write_tokens, 0), 0))
               AS uncached_input,
           sum(coalesce(cached_input_tokens, 0)) AS cache_read, sum(coalesce(cache_write_tokens, 0)) AS cache_write,
           sum(least(coalesce(cache_write_1h_tokens, 0), coalesce(cache_write_tokens, 0))) AS cache_write_1h,
           sum(output_tokens) AS output, sum(web_search_requests) AS web_search
    FROM calls GROUP BY ALL
), usage_carries AS (
    SELECT usage_date AS day, provider, bool_and(account IS NULL) AS no_account, bool_and(model IS NULL) AS no_model,
           bool_or(tier IS NOT NULL) AS tier, bool_or(context_window IS NOT NULL) AS band,
           bool_or(inference_geo IS NOT NULL) AS geo
    FROM usage_keyed GROUP BY ALL
), costs_carry AS (
    SELECT usage_date AS day, provider, bool_or(tier IS NOT NULL) AS tier,
           bool_or(context_window IS NOT NULL) AS band, bool_or(inference_geo IS NOT NULL) AS geo
    FROM costs_keyed WHERE token_type IN ('uncached_input', 'cache_read', 'cache_write', 'output')
    GROUP BY ALL
), logs_carry AS (
    SELECT day, provider, bool_or(tier IS NOT NULL) AS tier, bool_or(band IS NOT NULL) AS band,
           bool_or(geo IS NOT NULL) AS geo, bool_or(web_search IS NOT NULL) AS web_search
    FROM calls_grouped GROUP BY ALL
), grain AS (
    -- per day and provider: what the bill names, and the price dimensions every side carries
    SELECT u.day, u.provider, u.no_account, u.no_model,
           u.tier AND coalesce(c.tier, true) AND coalesce(l.tier, true) AS by_tier,
           u.band AND coalesce(c.band, true) AND coalesce(l.band, true) AS by_band,
           u.geo AND coalesce(c.geo, true) AND coalesce(l.geo, true) AS by_geo
    FROM usage_carries u
    LEFT JOIN costs_carry c ON c.day = u.day AND c.provider = u.provider
    LEFT JOIN logs_carry l ON l.day = u.day AND l.provider = u.provider
), billed_wide AS (
    SELECT u.usage_date AS day, u.provider, coalesce(u.account, '(unattributed)') AS account,
           u.workspace_id, coalesce(u.model, '(unattributed)') AS model,
           CASE WHEN g.by_tier THEN coalesce(u.tier, '') ELSE '' END AS tier,
           CASE WHEN g.by_band THEN coalesce(u.context_window, '') ELSE '' END AS band,
           CASE WHEN g.by_geo THEN coalesce(u.inference_geo, '') ELSE '' END AS geo,
           sum(uncached_input_tokens) AS uncached_input, sum(cache_read_tokens) AS cache_read,
           sum(cache_write_tokens) AS cache_write,  -- already includes the 1-hour writes
           sum(output_tokens) AS output, sum(web_search_requests) AS web_search
    FROM usage_keyed u JOIN grain g ON g.day = u.usage_date AND g.provider = u.provider
    GROUP BY ALL
), billed AS (
    -- a search is priced alike on every tier, band and geography: searches are one row
    SELECT day, provider, account, any_value(workspace_id) AS workspace_id, model,
           CASE WHEN token_type = 'web_search' THEN '' ELSE tier END AS tier,
           CASE WHEN token_type = 'web_search' THEN '' ELSE band END AS band,
           CASE WHEN token_type = 'web_search' THEN '' ELSE geo END AS geo,
           token_type, sum(tokens)::BIGINT AS billed_tokens
    FROM (UNPIVOT billed_wide ON uncached_input, cache_read, cache_write, output, web_search
          INTO NAME token_type VALUE tokens)
    GROUP BY day, provider, account, model, 6, 7, 8, token_type
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
    SELECT c.day, c.provider,
           CASE WHEN s.no_account THEN '(unattributed)' ELSE c.account END AS account,
           coalesce(c.response_model, a.snapshot, g.snapshot, c.request_model) AS priced_model,
           c.tier, c.band, c.geo,
           CASE WHEN s.no_model THEN '(unattributed)' ELSE priced_model END AS model,
           CASE WHEN s.by_tier THEN coalesce(c.tier, 'standard') ELSE '' END AS grain_tier,
           CASE WHEN s.by_band THEN coalesce(c.band, '') ELSE '' END AS grain_band,
           CASE WHEN s.by_geo THEN coalesce(c.geo, '') ELSE '' END AS grain_geo,
           sum(c.uncached_input) AS uncached_input, sum(c.cache_read) AS cache_read,
           sum(c.cache_write - c.cache_write_1h) AS cache_write, sum(c.cache_write_1h) AS cache_write_1h,
           sum(c.output) AS output, sum(c.web_search) AS web_search
    FROM calls_grouped c
    LEFT JOIN alias_snapshot a ON a.day = c.day AND a.provider = c.provider
         AND a.account IS NOT DISTINCT FROM c.account AND a.request_model = c.request_model
    LEFT JOIN alias_any_day g ON g.provider = c.provider AND g.request_model = c.request_model
    LEFT JOIN grain s ON s.day = c.day AND s.provider = c.provider
    GROUP BY ALL
), logged_priced AS (
    -- each logged group priced by the most specific catalog row that applies to it; the
    -- 1-hour cache writes at their own price, reconciled within cache_write
    SELECT q.*, p.price_id, p.usd_per_million
    FROM (UNPIVOT logged_wide ON uncached_input, cache_read, cache_write, cache_write_1h, output, web_search
          INTO NAME token_type VALUE tokens) q
    LEFT JOIN prices p ON p.provider = q.provider AND p.model = q.priced_model AND p.token_type = q.token_type
         AND p.effective_from <= q.day AND (p.effective_to IS NULL OR q.day < p.effective_to)
         AND price_applies(p.price_tier, p.context_window, p.inference_geo, q.tier, q.band, q.geo)
    QUALIFY row_number() OVER (
        PARTITION BY q.day, q.provider, q.account, q.priced_model, q.tier, q.band, q.geo, q.token_type
        ORDER BY price_specificity(p.price_tier, p.context_window, p.inference_geo) DESC) = 1
), logged AS (
    SELECT day, provider, account, model,
           CASE WHEN token_type = 'web_search' THEN '' ELSE grain_tier END AS tier,
           CASE WHEN token_type = 'web_search' THEN '' ELSE grain_band END AS band,
           CASE WHEN token_type = 'web_search' THEN '' ELSE grain_geo END AS geo,
           CASE WHEN token_type = 'cache_write_1h' THEN 'cache_write' ELSE token_type END AS token_type,
           sum(tokens)::BIGINT AS logged_tokens,
           -- a logged token the catalog has no price for leaves the row without a computed cost
           CASE WHEN bool_and(price_id IS NOT NULL OR tokens = 0)
                THEN CAST(coalesce(sum(tokens * CAST(usd_per_million AS DECIMAL(38, 12))), 0) / 1000000
                          AS DECIMAL(38, 12)) END AS computed_cost,
           string_agg(DISTINCT price_id, ',' ORDER BY price_id) AS price_id
    FROM logged_priced
    GROUP BY day, provider, account, model, 5, 6, 7, 8
), cost_lines AS (
    SELECT c.usage_date AS day, c.provider, c.account, c.workspace_id, coalesce(c.model, '(unattributed)') AS model,
           coalesce(c.token_type, 'other') AS token_type,
           CASE WHEN g.by_tier AND c.token_type <> 'web_search' THEN coalesce(c.tier, '') ELSE '' END AS tier,
           CASE WHEN g.by_band AND c.token_type <> 'web_search' THEN coalesce(c.context_window, '') ELSE '' END
               AS band,
           CASE WHEN g.by_geo AND c.token_type <> 'web_search' THEN coalesce(c.inference_geo, '') ELSE '' END AS geo,
           c.billing_currency, sum(c.billed_cost) AS billed_cost
    FROM costs_keyed c LEFT JOIN grain g ON g.day = c.usage_date AND g.provider = c.provider
    GROUP BY ALL
), direct_cost AS (
    SELECT day, provider, account, model, tier, band, geo, token_type,
           any_value(billing_currency) AS billing_currency, sum(billed_cost) AS billed_cost
    FROM cost_lines WHERE account IS NOT NULL GROUP BY ALL
), workspace_cost AS (
    SELECT day, provider, workspace_id, model, tier, band, geo, token_type,
           any_value(billing_currency) AS billing_currency, sum(billed_cost) AS billed_cost
    FROM cost_lines WHERE account IS NULL GROUP BY ALL
), unallocated_cost AS (
    -- a workspace's (or a keyless bill's) cost with no billed tokens to share it by: tool and
    -- storage charges, or a cost report pulled without its usage; kept whole, never dropped
    SELECT w.day, w.provider, '(unattributed)' AS account, w.model, w.tier, w.band, w.geo, w.token_type,
           w.billing_currency, w.billed_cost
    FROM workspace_cost w
    WHERE NOT EXISTS (SELECT 1 FROM billed b WHERE b.day = w.day AND b.provider = w.provider
                      AND b.workspace_id IS NOT DISTINCT FROM w.workspace_id AND b.model = w.model
                      AND b.tier = w.tier AND b.band = w.band AND b.geo = w.geo
                      AND b.token_type = w.token_type AND b.billed_tokens > 0)
), keys AS (
    SELECT day, provider, account, model, tier, band, geo, token_type FROM billed WHERE billed_tokens > 0
    UNION SELECT day, provider, account, model, tier, band, geo, token_type FROM logged WHERE logged_tokens > 0
    UNION SELECT day, provider, account, model, tier, band, geo, token_type FROM direct_cost WHERE billed_cost <> 0
), joined AS (
    SELECT k.*, b.billed_tokens, l.logged_tokens, l.computed_cost, l.price_id,
           coalesce(d.billed_cost, w.billed_cost * b.billed_tokens
                    / sum(b.billed_tokens) OVER (PARTITION BY k.day, k.provider, b.workspace_id, k.model, k.tier,
                                                              k.band, k.geo, k.token_type, d.billed_cost IS NULL))
               AS billed_cost,
           coalesce(d.billing_currency, w.billing_currency) AS billing_currency,
           CASE WHEN d.billed_cost IS NOT NULL THEN 'export'
                WHEN w.billed_cost IS NOT NULL THEN 'allocated_from_workspace' END AS billed_cost_basis
    FROM keys k
    LEFT JOIN billed b ON b.day = k.day AND b.provider = k.provider AND b.account IS NOT DISTINCT FROM k.account
         AND b.model = k.model AND b.tier = k.tier AND b.band = k.band AND b.geo = k.geo
         AND b.token_type = k.token_type
    LEFT JOIN logged l ON l.day = k.day AND l.provider = k.provider AND l.account IS NOT DISTINCT FROM k.account
         AND l.model = k.model AND l.tier = k.tier AND l.band = k.band AND l.geo = k.geo
         AND l.token_type = k.token_type
    LEFT JOIN direct_cost d ON d.day = k.day AND d.provider = k.provider
         AND d.account IS NOT DISTINCT FROM k.account AND d.model = k.model AND d.tier = k.tier
         AND d.band = k.band AND d.geo = k.geo AND d.token_type = k.token_type
    LEFT JOIN workspace_cost w ON d.billed_cost IS NULL AND w.day = k.day AND w.provider = k.provider
         AND w.workspace_id IS NOT DISTINCT FROM b.workspace_id AND w.model = k.model AND w.tier = k.tier
         AND w.band = k.band AND w.geo = k.geo AND w.token_type = k.token_type
), every_row AS (
    SELECT * FROM joined
    UNION ALL BY NAME
    SELECT day, provider, account, model, tier, band, geo, token_type, NULL::BIGINT AS billed_tokens,
           NULL::BIGINT AS logged_tokens, billed_cost, billing_currency, 'unallocated' AS billed_cost_basis
    FROM unallocated_cost
), measured AS (
    SELECT r.*,
           CASE WHEN r.token_type IN ('uncached_input', 'cache_read', 'cache_write', 'output') THEN 'tokens'
                WHEN r.token_type = 'web_search' THEN 'requests' END AS unit,
           -- nothing logged costs nothing; a charge the catalog cannot price has no computed cost
           CASE WHEN r.logged_tokens IS NOT NULL THEN r.computed_cost
                WHEN unit IS NOT NULL THEN 0::DECIMAL(38, 12) END AS logged_cost,
           coalesce(r.billed_tokens, 0) - coalesce(r.logged_tokens, 0) AS token_diff,
           CASE WHEN r.billing_currency = 'USD' THEN CAST(r.billed_cost - logged_cost AS DECIMAL(38, 12)) END
               AS cost_diff_usd,
           coalesce(l.web_search, false) AS logs_count_searches
    FROM every_row r LEFT JOIN logs_carry l ON l.day = r.day AND l.provider = r.provider
)
SELECT day AS usage_date, provider, account AS api_key_id,
       CASE WHEN provider IN (SELECT provider FROM keyless) THEN 'project' ELSE 'api_key' END AS account_kind,
       model, token_type, nullif(tier, '') AS price_tier, nullif(band, '') AS context_window,
       nullif(geo, '') AS inference_geo, unit,
       coalesce(billed_tokens, 0) AS billed_tokens, coalesce(logged_tokens, 0) AS logged_tokens,
       token_diff, round(100.0 * token_diff / greatest(billed_tokens, logged_tokens, 1), 4) AS token_diff_pct,
       CAST(billed_cost AS DECIMAL(38, 12)) AS billed_cost, billing_currency, billed_cost_basis,
       logged_cost AS computed_cost, price_id, cost_diff_usd,
       CASE WHEN billed_cost IS NOT NULL AND billed_cost <> 0
            THEN round(100.0 * CAST(cost_diff_usd AS DOUBLE) / abs(CAST(billed_cost AS DOUBLE)), 4) END
           AS cost_diff_pct,
       CASE
           WHEN unit IS NULL OR (unit = 'requests' AND NOT logs_count_searches)
               THEN 'unreconciled_charge'  -- a charge the logs carry no count for (tools, storage)
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
