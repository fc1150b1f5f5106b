"""`output_lineage`: tie every logged output to its prompt version, model and cost.

Resolution, strongest evidence first (one row per call, the reason kept in
`resolution_note`):

1. `explicit`: the call names a prompt version that the repository has, either a commit
   that changed that prompt or any repository commit (then the prompt's version as of that
   commit is meant).
2. `content_hash`: the call's `prompt_sha256` equals a version's content hash; among
   matches the version valid at the call's time wins, else the latest committed before it.
3. `time_inferred`: the call names only a prompt id; the version valid at its time is used.
4. `unresolved`: none of the above. A call that names a version the repository does not
   have is not time-inferred: a guess would hide an unreviewed prompt from the auditor.

Model: `snapshot` when the provider returned a dated or versioned model name,
`alias_only` when only an alias is known. Cost: the dated price catalog, per token type.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from audit_pipeline import engine
from audit_pipeline.freshness import Recipe, code_version, record, stale
from audit_pipeline.lake import Lake, date_range_predicate, in_predicate
from audit_pipeline.pricing import load_prices
from audit_pipeline.schemas import OUTPUT_LINEAGE, conform_reader

RESOLUTIONS = ("explicit", "content_hash", "time_inferred", "unresolved")
MODEL_STATUSES = ("snapshot", "alias_only")

_SNAPSHOT_PATTERN = r"(\d{4}-?\d{2}-?\d{2}|-v\d+(:\d+)?$|-\d{3,}$)"
"""Dated (`-2024-07-18`, `-20250929`) or versioned (`-v1:0`, `-0613`) model names."""

LINEAGE_SQL = f"""
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
costed AS (
    SELECT c.event_id,
           sum(CASE p.token_type
                 WHEN 'uncached_input' THEN greatest(c.input_tokens - coalesce(c.cached_input_tokens, 0)
                                                     - coalesce(c.cache_write_tokens, 0), 0)
                 WHEN 'cache_read' THEN coalesce(c.cached_input_tokens, 0)
                 WHEN 'cache_write' THEN coalesce(c.cache_write_tokens, 0)
                 WHEN 'output' THEN c.output_tokens
                 ELSE 0 END * CAST(p.usd_per_million AS DECIMAL(38, 12))) / 1000000 AS computed_cost_usd,
           string_agg(p.price_id, ',' ORDER BY p.price_id) AS price_id
    FROM calls c JOIN prices p
      ON p.provider = c.provider AND p.model = coalesce(c.response_model, c.request_model)
     AND p.effective_from <= c.event_date AND (p.effective_to IS NULL OR c.event_date < p.effective_to)
    GROUP BY c.event_id
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
       CASE WHEN regexp_matches(coalesce(c.response_model, ''), '{_SNAPSHOT_PATTERN}') THEN 'snapshot'
            ELSE 'alias_only' END AS model_status,
       c.input_tokens, c.cached_input_tokens, c.cache_write_tokens, c.output_tokens,
       k.computed_cost_usd, k.price_id, $built_at AS built_at
FROM calls c
LEFT JOIN best b USING (event_id)
LEFT JOIN costed k USING (event_id)
"""


def _recipe(lake: Lake) -> Recipe:
    """Lineage of a day is built from that day's calls, the whole prompt history, the price
    catalog and this module's code."""
    return Recipe("output_lineage", code_version(__name__),
                  {table: lake.signatures(table)["all"] for table in ("prompt_versions", "prompt_commits",
                                                                       "price_catalog")})


def _fingerprints(lake: Lake, days: list[date]) -> dict[str, str]:
    recipe = _recipe(lake)
    calls = lake.signatures("llm_calls", days)
    return {day: recipe.fingerprint({"llm_calls": calls[day]}) for day in calls}


def stale_days(lake: Lake, first: date, last: date) -> list[date]:
    """Days of [first, last] whose lineage was built from other calls, another prompt
    history or price catalog, or other code than now (`freshness`): a re-ingested day, a new
    commit in the prompt repository, a price change or a fix to this module rebuilds them."""
    fingerprints = _fingerprints(lake, [first + timedelta(days=n) for n in range((last - first).days + 1)])
    return [date.fromisoformat(d) for d in stale(lake, "output_lineage", fingerprints)]


def build_output_lineage(lake: Lake, first: date, last: date, built_at: datetime | None = None,
                         only_stale: bool = True, run_id: str = "") -> dict[str, int]:
    """Rebuild the stale days of [first, last] of `output_lineage` (every day unless
    `only_stale`); return counts by resolution over the whole range."""
    built_at = built_at or datetime.now(UTC)
    # Fingerprinted before building: inputs that change meanwhile leave the day stale.
    fingerprints = _fingerprints(lake, [first + timedelta(days=n) for n in range((last - first).days + 1)])
    days = stale(lake, "output_lineage", fingerprints) if only_stale else sorted(fingerprints)
    if days:
        _build(lake, [date.fromisoformat(d) for d in days], built_at)
        record(lake, "output_lineage", {d: fingerprints[d] for d in days}, run_id, built_at)
    resolutions = lake.read("output_lineage", where=date_range_predicate("event_date", first, last),
                            columns=["resolution"]).column("resolution")
    counts = dict.fromkeys(RESOLUTIONS, 0)
    counts.update({r["values"]: r["counts"] for r in resolutions.value_counts().to_pylist()})
    return counts


def _build(lake: Lake, days: list[date], built_at: datetime) -> None:
    predicate = in_predicate("event_date", [d.isoformat() for d in days])
    con = engine.connect()
    # The calls are scanned by several joins: stage them once in DuckDB (it spills to disk).
    con.register("calls_stream", lake.scan("llm_calls", where=predicate))
    con.sql("CREATE TEMP TABLE calls AS SELECT * FROM calls_stream")
    con.register("versions", lake.read("prompt_versions"))
    con.register("commits", lake.read("prompt_commits", columns=["commit_sha", "committed_at"]))
    # The catalog as the price_catalog asset wrote it (shipped + audit.yaml); before that
    # asset first ran, the shipped file.
    con.register("prices", lake.read("price_catalog") if lake.exists("price_catalog") else load_prices())
    rows = con.sql(LINEAGE_SQL, params={"built_at": built_at}).to_arrow_reader(batch_size=200_000)
    lake.replace_where("output_lineage", conform_reader(rows, OUTPUT_LINEAGE), predicate)
