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

from audit_pipeline import engine, pricing
from audit_pipeline.freshness import Recipe, code_version, record, stale
from audit_pipeline.lake import Lake, date_range_predicate, in_predicate
from audit_pipeline.schemas import OUTPUT_LINEAGE, conform_reader
from audit_pipeline.sql import load_sql

RESOLUTIONS = ("explicit", "content_hash", "time_inferred", "unresolved")
MODEL_STATUSES = ("snapshot", "alias_only")

_SNAPSHOT_PATTERN = r"(\d{4}-?\d{2}-?\d{2}|-v\d+(:\d+)?$|-\d{3,}$)"
"""Dated (`-2024-07-18`, `-20250929`) or versioned (`-v1:0`, `-0613`) model names."""



def _recipe(lake: Lake) -> Recipe:
    """Lineage of a day is built from that day's calls, the whole prompt history, the price
    catalog and its prompt-length bands, and this module's code."""
    return Recipe("output_lineage", code_version(__name__),
                  {**{table: lake.signatures(table)["all"] for table in ("prompt_versions", "prompt_commits",
                                                                         "price_catalog")},
                   "context_bands": pricing.bands_fingerprint()})


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
    pricing.register(con, lake)
    rows = con.sql(load_sql(__package__, "output_lineage"), params={
        "built_at": built_at, "snapshot_pattern": _SNAPSHOT_PATTERN}).to_arrow_reader(batch_size=200_000)
    lake.replace_where("output_lineage", conform_reader(rows, OUTPUT_LINEAGE), predicate)
