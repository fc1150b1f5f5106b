-- Every call of the staged days tied to its prompt version, model and cost (loads/lineage.py).
-- Registered: calls, versions, commits, prices, bands and the pricing macros (pricing.py). Parameters: $built_at, $snapshot_pattern.
WITH live AS (
    SELECT * FROM versions WHERE change_type <> 'deleted'
),
explicit_direct AS (
    SELECT c.event_id, v.*, 'logged version is a commit that changed this prompt' AS note,
           1 AS strength
    FROM calls c JOIN live v
      ON v.version = c.prompt_version AND v.prompt_id = coalesce(c.prompt_id, v.prompt_id)
),
explicit_via_commit AS (
    SELECT c.event_id, v.*, 'prompt as of logged repository commit ' || left(pc.commit_sha, 12) AS note,
           2 AS strength
    FROM calls c
    JOIN commits pc ON pc.commit_sha = c.prompt_version
    JOIN live v ON v.prompt_id = c.prompt_id
               AND v.valid_from <= pc.committed_at
               AND (v.valid_to IS NULL OR pc.committed_at < v.valid_to)
),
by_content AS (
    SELECT c.event_id, v.*,
           CASE WHEN c.prompt_version IS NOT NULL
                THEN 'logged version not in repository; matched by content hash'
                WHEN v.valid_from > c."timestamp" THEN 'content matched a version committed after the call'
                ELSE 'matched by content hash' END AS note,
           3 AS strength,
           (v.valid_from <= c."timestamp" AND (v.valid_to IS NULL OR c."timestamp" < v.valid_to)) AS valid_then,
           v.valid_from <= c."timestamp" AS before_call
    FROM calls c JOIN live v
      ON v.content_sha256 = c.prompt_sha256 AND v.prompt_id = coalesce(c.prompt_id, v.prompt_id)
),
by_time AS (
    SELECT c.event_id, v.*, 'version valid at the call time' AS note, 4 AS strength
    FROM calls c JOIN live v
      ON c.prompt_version IS NULL AND c.prompt_sha256 IS NULL
     AND v.prompt_id = c.prompt_id
     AND v.valid_from <= c."timestamp" AND (v.valid_to IS NULL OR c."timestamp" < v.valid_to)
),
candidates AS (
    SELECT event_id, prompt_id, version, path, content_sha256, author_email, approved_by, owners,
           note, strength, true AS valid_then, true AS before_call, valid_from FROM explicit_direct
    UNION ALL
    SELECT event_id, prompt_id, version, path, content_sha256, author_email, approved_by, owners,
           note, strength, true, true, valid_from FROM explicit_via_commit
    UNION ALL
    SELECT event_id, prompt_id, version, path, content_sha256, author_email, approved_by, owners,
           note, strength, valid_then, before_call, valid_from FROM by_content
    UNION ALL
    SELECT event_id, prompt_id, version, path, content_sha256, author_email, approved_by, owners,
           note, strength, true, true, valid_from FROM by_time
),
best AS (
    SELECT * FROM candidates
    QUALIFY row_number() OVER (
        PARTITION BY event_id
        ORDER BY strength, valid_then DESC, before_call DESC, valid_from DESC, prompt_id
    ) = 1
),
call_dims AS (
    -- what sets each call's price beside its model: tier, prompt-length band, geography
    SELECT event_id, provider, coalesce(response_model, request_model) AS model, event_date,
           price_tier(service_tier, batch) AS tier, context_band(provider, input_tokens) AS band,
           inference_geo AS geo,
           greatest(input_tokens - coalesce(cached_input_tokens, 0) - coalesce(cache_write_tokens, 0), 0)
               AS uncached_input,
           coalesce(cached_input_tokens, 0) AS cache_read,
           -- the 1-hour writes are part of the cache writes, priced apart
           coalesce(cache_write_tokens, 0) - least(coalesce(cache_write_1h_tokens, 0), coalesce(cache_write_tokens, 0))
               AS cache_write,
           least(coalesce(cache_write_1h_tokens, 0), coalesce(cache_write_tokens, 0)) AS cache_write_1h,
           output_tokens AS output, web_search_requests AS web_search
    FROM calls
),
call_quantities AS (
    -- what each call consumed of each priced type (tokens; web searches)
    UNPIVOT call_dims ON uncached_input, cache_read, cache_write, cache_write_1h, output, web_search
    INTO NAME token_type VALUE quantity
),
call_prices AS (
    -- per call and priced type, the most specific catalog row that applies (pricing.py)
    SELECT q.event_id, q.token_type, q.quantity, p.price_id, p.usd_per_million
    FROM call_quantities q LEFT JOIN prices p
      ON p.provider = q.provider AND p.model = q.model AND p.token_type = q.token_type
     AND p.effective_from <= q.event_date AND (p.effective_to IS NULL OR q.event_date < p.effective_to)
     AND price_applies(p.price_tier, p.context_window, p.inference_geo, q.tier, q.band, q.geo)
    QUALIFY row_number() OVER (PARTITION BY q.event_id, q.token_type
                               ORDER BY price_specificity(p.price_tier, p.context_window, p.inference_geo) DESC) = 1
),
costed AS (
    -- a call with a quantity the catalog has no price for gets no cost, not a partial one
    SELECT event_id,
           CASE WHEN bool_and(price_id IS NOT NULL OR quantity = 0)
                THEN coalesce(sum(quantity * CAST(usd_per_million AS DECIMAL(38, 12))), 0) / 1000000
           END AS computed_cost_usd,
           string_agg(price_id, ',' ORDER BY price_id) FILTER (WHERE quantity > 0) AS price_id
    FROM call_prices GROUP BY event_id
)
SELECT c.event_id, c.response_id, c.event_date, c."timestamp", c.ai_system, c.provider, c.api_key_id,
       coalesce(b.prompt_id, c.prompt_id) AS prompt_id,
       b.version AS prompt_version,
       b.path AS prompt_path,
       b.content_sha256 AS prompt_content_sha256,
       b.author_email AS prompt_author,
       b.approved_by AS prompt_approved_by,
       b.owners AS prompt_owners,
       CASE b.strength WHEN 1 THEN 'explicit' WHEN 2 THEN 'explicit'
                       WHEN 3 THEN 'content_hash' WHEN 4 THEN 'time_inferred'
                       ELSE 'unresolved' END AS resolution,
       CASE WHEN b.strength IS NOT NULL THEN b.note
            WHEN c.prompt_version IS NOT NULL THEN 'logged prompt_version ' || c.prompt_version || ' is not in the prompt repository'
            WHEN c.prompt_sha256 IS NOT NULL THEN 'no prompt version has the logged content hash'
            WHEN c.prompt_id IS NOT NULL THEN 'no version of ' || c.prompt_id || ' was valid at the call time'
            ELSE 'the call names no prompt' END AS resolution_note,
       c.request_model, c.response_model,
       CASE WHEN regexp_matches(coalesce(c.response_model, ''), $snapshot_pattern) THEN 'snapshot'
            ELSE 'alias_only' END AS model_status,
       c.input_tokens, c.cached_input_tokens, c.cache_write_tokens, c.output_tokens,
       k.computed_cost_usd, k.price_id, $built_at AS built_at
FROM calls c
LEFT JOIN best b USING (event_id)
LEFT JOIN costed k USING (event_id)
