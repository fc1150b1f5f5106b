-- Billed tokens, web searches and cost per day × provider in the bills against
-- spend_reconciliation (spend/reconcile.py conservation_gaps). Registered: usage, costs, reconciliation.
WITH billed AS (
    SELECT usage_date AS day, provider,
           sum(coalesce(uncached_input_tokens, 0) + coalesce(cache_read_tokens, 0) + coalesce(cache_write_tokens, 0)
               + coalesce(output_tokens, 0))::BIGINT AS tokens,
           coalesce(sum(web_search_requests), 0)::BIGINT AS searches, 0::DECIMAL(38, 12) AS cost
    FROM usage GROUP BY ALL
    UNION ALL
    SELECT usage_date, provider, 0, 0, sum(billed_cost) FROM costs GROUP BY ALL
), inputs AS (
    SELECT day, provider, sum(tokens)::BIGINT AS tokens, sum(searches)::BIGINT AS searches, sum(cost) AS cost
    FROM billed GROUP BY ALL
), reconciled AS (
    SELECT usage_date AS day, provider,
           coalesce(sum(billed_tokens) FILTER (WHERE unit IS DISTINCT FROM 'requests'), 0)::BIGINT AS tokens,
           coalesce(sum(billed_tokens) FILTER (WHERE unit = 'requests'), 0)::BIGINT AS searches,
           coalesce(sum(billed_cost), 0) AS cost
    FROM reconciliation GROUP BY ALL
)
SELECT coalesce(i.day, r.day) AS day, coalesce(i.provider, r.provider) AS provider,
       coalesce(i.tokens, 0) AS billed_tokens, coalesce(r.tokens, 0) AS reconciled_tokens,
       coalesce(i.searches, 0) AS billed_searches, coalesce(r.searches, 0) AS reconciled_searches,
       coalesce(i.cost, 0) AS billed_cost, coalesce(r.cost, 0) AS reconciled_cost
FROM inputs i FULL JOIN reconciled r ON r.day = i.day AND r.provider = i.provider
WHERE coalesce(i.tokens, 0) <> coalesce(r.tokens, 0) OR coalesce(i.searches, 0) <> coalesce(r.searches, 0)
   OR abs(coalesce(i.cost, 0) - coalesce(r.cost, 0)) > 0.000001
ORDER BY ALL
