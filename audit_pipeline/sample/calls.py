"""Generate the sample's model calls in DuckDB, deterministically from a seed.

Every random choice is a hash of (seed, day, call number, purpose), so the same seed gives
the same calls without Python touching individual rows: a million calls take seconds.
Each call is assigned the prompt version valid at its time (from the real prompt
repository) and one of several logging styles, which fixes the lineage resolution the
pipeline must find; that expected resolution is kept in the `expected_resolution` column.
"""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import pyarrow as pa

from audit_pipeline.sample.systems import SYSTEMS
from audit_pipeline.sql import load_sql

STYLE_THRESHOLDS = (
    ("explicit", 0.70),      # prompt_id + prompt_version (+ prompt_sha256)
    ("content_hash", 0.80),  # prompt_sha256 only
    ("id_only", 0.95),       # prompt_id only: the pipeline infers the version by time
    ("unknown_version", 0.98),  # a version that is not in the repository
    ("no_prompt", 1.00),     # nothing about the prompt
)
ALIAS_ONLY_SHARE = 0.02
"""Calls whose log lacks the response's model snapshot (only the requested alias)."""
ERROR_SHARE = 0.005

_FAR_PAST = datetime(1970, 1, 1)
_FAR_FUTURE = datetime(9999, 1, 1)


def _choice_tables() -> dict[str, pa.Table]:
    systems, models, keys, slots = [], [], [], []
    lo = 0.0
    for s in SYSTEMS:
        systems.append({"ai_system": s.name, "provider": s.provider, "lo": lo, "hi": lo + s.share,
                        "n_slots": len(s.prompt_slots), "n_keys": len(s.api_keys),
                        "project_id": s.project_id, "workspace_id": s.workspace_id})
        lo += s.share
        mlo = 0.0
        for m in s.models:
            models.append({"ai_system": s.name, "request_model": m.request,
                           "snapshot": m.snapshot, "lo": mlo, "hi": mlo + m.share})
            mlo += m.share
        keys += [{"ai_system": s.name, "key_index": i, "api_key_id": k}
                 for i, k in enumerate(s.api_keys)]
        slots += [{"ai_system": s.name, "slot": i} for i in range(len(s.prompt_slots))]
    systems[-1]["hi"] = 1.0  # guard against float rounding in the last bucket
    return {name: pa.Table.from_pylist(rows) for name, rows in
            (("systems", systems), ("models", models), ("keys", keys), ("slots", slots))}


def prompt_schedule(versions: pa.Table) -> pa.Table:
    """Which prompt version serves each (system, slot) when: a small interval table.

    Before a prompt's first commit the slot still names the prompt but has no version (the
    pipeline must leave such calls unresolved); after a deletion the slot is retired and its
    calls move to the system's first slot.
    """
    rows = versions.to_pylist()
    intervals = []
    for system in SYSTEMS:
        for slot, ids in enumerate(system.prompt_slots):
            live = sorted((v for v in rows if v["prompt_id"] in ids and v["change_type"] != "deleted"),
                          key=lambda v: v["valid_from"])
            first = live[0]["valid_from"].replace(tzinfo=None) if live else _FAR_FUTURE
            intervals.append({"ai_system": system.name, "slot": slot, "start": _FAR_PAST,
                              "end": first, "prompt_id": ids[0], "version": None,
                              "content_sha256": None, "retired": False})
            for v in live:
                end = v["valid_to"].replace(tzinfo=None) if v["valid_to"] else _FAR_FUTURE
                intervals.append({"ai_system": system.name, "slot": slot,
                                  "start": v["valid_from"].replace(tzinfo=None), "end": end,
                                  "prompt_id": v["prompt_id"], "version": v["version"],
                                  "content_sha256": v["content_sha256"], "retired": False})
            if live and live[-1]["valid_to"] is not None:
                intervals.append({"ai_system": system.name, "slot": slot,
                                  "start": live[-1]["valid_to"].replace(tzinfo=None),
                                  "end": _FAR_FUTURE, "prompt_id": None, "version": None,
                                  "content_sha256": None, "retired": True})
    return pa.Table.from_pylist(intervals)


def _u(purpose: int) -> str:
    """A uniform number in [0, 1) for this call and purpose."""
    return f"((hash($seed, day, i, {purpose}) % 1000000) / 1000000.0)"


def _style_case() -> str:
    cases = " ".join(f"WHEN {_u(4)} < {hi} THEN '{name}'" for name, hi in STYLE_THRESHOLDS[:-1])
    return f"CASE {cases} ELSE '{STYLE_THRESHOLDS[-1][0]}' END"


CALLS_SQL = f"""
CREATE OR REPLACE TABLE calls AS
WITH base AS (
    SELECT day, i,
           day::TIMESTAMP + to_microseconds(CAST(hash($seed, day, i, 0) % 86400000000 AS BIGINT)) AS ts,
           {_u(1)} AS u_system, {_u(2)} AS u_model, {_u(3)} AS u_slot, {_style_case()} AS style0,
           {_u(5)} AS u_key, {_u(6)} AS u_cache, {_u(7)} AS u_alias, {_u(8)} AS u_error,
           hash($seed, day, i, 9) AS h
    FROM days, range(0, $calls_per_day) r(i)
), chosen AS (
    SELECT b.*, s.ai_system, s.provider, s.project_id, s.workspace_id,
           m.request_model, m.snapshot,
           k.api_key_id,
           CAST(floor(b.u_slot * s.n_slots) AS INTEGER) AS slot0
    FROM base b
    JOIN systems s ON b.u_system >= s.lo AND b.u_system < s.hi
    JOIN models m ON m.ai_system = s.ai_system AND b.u_model >= m.lo AND b.u_model < m.hi
    JOIN keys k ON k.ai_system = s.ai_system AND k.key_index = CAST(floor(b.u_key * s.n_keys) AS INTEGER)
), slotted AS (
    -- a call whose slot's prompt was deleted moves to the system's first slot
    SELECT c.*, CASE WHEN r.ai_system IS NOT NULL THEN 0 ELSE c.slot0 END AS slot
    FROM chosen c
    LEFT JOIN schedule r ON r.retired AND r.ai_system = c.ai_system AND r.slot = c.slot0
                        AND c.ts >= r.start AND c.ts < r."end"
), prompted AS (
    SELECT c.*, p.prompt_id AS p_id, p.version AS p_version, p.content_sha256 AS p_sha,
           CASE WHEN p.version IS NULL THEN 'id_only' ELSE c.style0 END AS style
    FROM slotted c
    JOIN schedule p ON NOT p.retired AND p.ai_system = c.ai_system AND p.slot = c.slot
                   AND c.ts >= p.start AND c.ts < p."end"
)
SELECT
    'evt_' || substr(md5($seed || '/' || day || '/' || i), 1, 24) AS event_id,
    ts, day, ai_system, provider, project_id, workspace_id, api_key_id,
    request_model, snapshot,
    CASE WHEN u_alias < {ALIAS_ONLY_SHARE} THEN NULL ELSE snapshot END AS response_model,
    CASE provider WHEN 'openai' THEN 'chatcmpl-' WHEN 'anthropic' THEN 'msg_01' ELSE 'br-' END
        || substr(md5('r' || $seed || '/' || day || '/' || i), 1, 24) AS response_id,
    'req_' || substr(md5('q' || $seed || '/' || day || '/' || i), 1, 20) AS request_id,
    CASE WHEN style IN ('explicit', 'id_only', 'unknown_version') THEN p_id END AS prompt_id,
    CASE style WHEN 'explicit' THEN p_version
               WHEN 'unknown_version' THEN substr(sha256('missing' || day || i), 1, 40) END
        AS prompt_version,
    CASE WHEN style IN ('explicit', 'content_hash') THEN p_sha END AS prompt_sha256,
    style,
    CASE WHEN style = 'explicit' THEN 'explicit'
         WHEN style = 'content_hash' THEN 'content_hash'
         WHEN style = 'id_only' AND p_version IS NOT NULL THEN 'time_inferred'
         ELSE 'unresolved' END AS expected_resolution,
    p_version AS true_prompt_version,
    u_error < {ERROR_SHARE} AS failed,
    CASE WHEN u_error < {ERROR_SHARE} THEN 0 ELSE 200 + CAST(h % 3800 AS BIGINT) END AS input_tokens,
    CASE WHEN u_error < {ERROR_SHARE} THEN 0 ELSE 20 + CAST((h // 3800) % 780 AS BIGINT) END AS output_tokens,
    u_cache
FROM prompted
"""



def generate_calls(
    con: duckdb.DuckDBPyConnection, days: list[date], calls_per_day: int, seed: int,
    versions: pa.Table,
) -> None:
    """Create table `calls` in `con`: every call of every sample day, with ground truth."""
    con.sql("SET TimeZone = 'UTC'")
    for name, table in _choice_tables().items():
        con.register(name, table)
    con.register("schedule", prompt_schedule(versions))
    con.register("days", pa.table({"day": pa.array(days, pa.date32())}))
    con.sql(CALLS_SQL, params={"seed": seed, "calls_per_day": calls_per_day})
    con.sql(load_sql(__package__, "finish_calls"))
