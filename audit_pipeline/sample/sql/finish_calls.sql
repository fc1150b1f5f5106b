-- The sample's calls completed: cache shares, status, latency, finish reason (sample/calls.py).
CREATE OR REPLACE TABLE calls AS
SELECT * EXCLUDE (u_cache),
    CASE WHEN u_cache < 0.3 THEN input_tokens // 2 ELSE 0 END AS cached_input_tokens,
    CASE WHEN u_cache >= 0.3 AND u_cache < 0.4 AND provider IN ('anthropic', 'aws_bedrock')
         THEN input_tokens * 2 // 5 ELSE 0 END AS cache_write_tokens,
    CASE WHEN failed THEN 'error' ELSE 'ok' END AS status,
    CASE WHEN failed THEN 'rate_limit_exceeded' END AS error_type,
    CASE WHEN failed THEN NULL WHEN output_tokens > 780 THEN 'length' ELSE 'stop' END AS finish_reason,
    CAST(250 + (hash(event_id) % 4000) + output_tokens * 3 AS DOUBLE) AS latency_ms,
    CAST(120 + (hash(event_id) % 600) AS DOUBLE) AS ttft_ms,
    'u_' || (hash(event_id, 'user') % 5000) AS user_ref,
    'tenant-' || lpad(CAST(hash(event_id, 'tenant') % 20 AS VARCHAR), 2, '0') AS tenant_id,
    '/v1/' || ai_system AS route,
    '2026.11.' || (hash(ai_system) % 9) AS app_version,
    sha256('output:' || event_id) AS output_sha256
FROM calls
