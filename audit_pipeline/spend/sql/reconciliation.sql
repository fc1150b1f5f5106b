-- Billed against logged per day × provider × account × model × token type (spend/reconcile.py).
-- Registered: usage, costs, calls, prices. Parameters: $token_pct, $cost_pct, $cost_usd, $built_at.
-- Conservation: every billed token and every billed cent of the inputs reaches exactly one row.
-- A bill that does not name the key (or project) or the model (an ungrouped page) is counted
-- under '(unattributed)'; the logs are summed to that grain for the day, so the totals compare.
WITH keyless AS (
    -- providers whose usage never names a key: their account is the project / subscription
    SELECT provider FROM usage GROUP BY provider HAVING count(api_key_id) = 0
), usage_keyed AS (
    SELECT *, CASE WHEN provider IN (SELECT provider FROM keyless) THEN project_id ELSE api_key_id END AS account
    FROM usage
), grain AS (
    -- per day and provider: the bill names no account / no model at all (ungrouped pulls)
    SELECT usage_date AS day, provider, bool_and(account IS NULL) AS no_account, bool_and(model IS NULL) AS no_model
    FROM usage_keyed GROUP BY ALL
), billed_wide AS (
    SELECT usage_date AS day, provider, coalesce(account, '(unattributed)') AS account,
           workspace_id, coalesce(model, '(unattributed)') AS model,
           sum(uncached_input_tokens) AS uncached_input, sum(cache_read_tokens) AS cache_read,
           sum(cache_write_tokens) AS cache_write,  -- already includes the 1-hour writes
           sum(output_tokens) AS output
    FROM usage_keyed GROUP BY ALL
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
    SELECT c.day, c.provider,
           CASE WHEN s.no_account THEN '(unattributed)' ELSE c.account END AS account,
           CASE WHEN s.no_model THEN '(unattributed)'
                ELSE coalesce(c.response_model, a.snapshot, g.snapshot, c.request_model) END AS model,
           sum(c.uncached_input) AS uncached_input, sum(c.cache_read) AS cache_read,
           sum(c.cache_write) AS cache_write, sum(c.output) AS output
    FROM calls_grouped c
    LEFT JOIN alias_snapshot a ON a.day = c.day AND a.provider = c.provider
         AND a.account IS NOT DISTINCT FROM c.account AND a.request_model = c.request_model
    LEFT JOIN alias_any_day g ON g.provider = c.provider AND g.request_model = c.request_model
    LEFT JOIN grain s ON s.day = c.day AND s.provider = c.provider
    GROUP BY ALL
), logged AS (
    SELECT day, provider, account, model, token_type, sum(tokens)::BIGINT AS logged_tokens
    FROM (UNPIVOT logged_wide ON uncached_input, cache_read, cache_write, output
          INTO NAME token_type VALUE tokens)
    GROUP BY ALL
), cost_lines AS (
    SELECT usage_date AS day, provider,
           CASE WHEN provider IN (SELECT provider FROM keyless) THEN project_id ELSE api_key_id END AS account,
           workspace_id, coalesce(model, '(unattributed)') AS model, coalesce(token_type, 'other') AS token_type,
           billing_currency, sum(billed_cost) AS billed_cost
    FROM costs GROUP BY ALL
), direct_cost AS (
    SELECT day, provider, account, model, token_type, any_value(billing_currency) AS billing_currency,
           sum(billed_cost) AS billed_cost
    FROM cost_lines WHERE account IS NOT NULL GROUP BY ALL
), workspace_cost AS (
    SELECT day, provider, workspace_id, model, token_type, any_value(billing_currency) AS billing_currency,
           sum(billed_cost) AS billed_cost
    FROM cost_lines WHERE account IS NULL GROUP BY ALL
), unallocated_cost AS (
    -- a workspace's (or a keyless bill's) cost with no billed tokens to share it by: tool and
    -- storage charges, or a cost report pulled without its usage; kept whole, never dropped
    SELECT w.day, w.provider, '(unattributed)' AS account, w.model, w.token_type, w.billing_currency, w.billed_cost
    FROM workspace_cost w
    WHERE NOT EXISTS (SELECT 1 FROM billed b WHERE b.day = w.day AND b.provider = w.provider
                      AND b.workspace_id IS NOT DISTINCT FROM w.workspace_id AND b.model = w.model
                      AND b.token_type = w.token_type AND b.billed_tokens > 0)
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
), every_row AS (
    SELECT * FROM joined
    UNION ALL BY NAME
    SELECT day, provider, account, model, token_type, NULL::BIGINT AS billed_tokens, NULL::BIGINT AS logged_tokens,
           billed_cost, billing_currency, 'unallocated' AS billed_cost_basis
    FROM unallocated_cost
), priced AS (
    SELECT j.*, CAST(coalesce(j.logged_tokens, 0) * CAST(p.usd_per_million AS DECIMAL(38, 12)) / 1000000
                     AS DECIMAL(38, 12)) AS computed_cost, p.price_id
    FROM every_row j
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
           WHEN token_type NOT IN ('uncached_input', 'cache_read', 'cache_write', 'output')
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
