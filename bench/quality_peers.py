"""The checks a data engineer would script instead of GX: the llm_calls suite's rules.

Each peer reads the day's `llm_calls` (exported as Parquet) and evaluates the same rules as
`quality/suites.py`'s llm_calls suite (ids present and unique, row inside its day, counts
not negative, known provider, non-empty models, non-negative latency), printing the number
of rows failing each. No results table, no examples, no Dagster: the bare computation.
`python -m bench.quality_peers duckdb|polars|pandas REFS`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from audit_pipeline.providers import KNOWN_PROVIDERS

TOKENS = ("input_tokens", "output_tokens", "cached_input_tokens", "cache_write_tokens", "reasoning_tokens")


def duckdb_checks(calls: Path) -> dict:
    import duckdb

    con = duckdb.connect()
    con.sql("SET TimeZone = 'UTC'")
    known = ", ".join(f"'{p}'" for p in sorted(KNOWN_PROVIDERS))
    rules = {
        "event_id null": "count(*) FILTER (event_id IS NULL)",
        "event_id repeated": "count(*) - count(DISTINCT event_id)",
        "outside day": 'count(*) FILTER (CAST("timestamp" AS DATE) <> event_date)',
        **{f"{t} < 0": f"count(*) FILTER ({t} < 0)" for t in TOKENS},
        "unknown provider": f"count(*) FILTER (provider NOT IN ({known}))",
        "empty request_model": "count(*) FILTER (coalesce(request_model, '') = '')",
        "empty response_model": "count(*) FILTER (response_model = '')",
        "latency < 0": "count(*) FILTER (latency_ms < 0)",
    }
    row = con.sql(f"SELECT {', '.join(rules.values())} FROM '{calls}'").fetchall()[0]
    return dict(zip(rules, row, strict=True))


def polars_checks(calls: Path) -> dict:
    import polars as pl

    c = pl.col
    frame = pl.read_parquet(calls)
    row = frame.select(
        c("event_id").is_null().sum().alias("event_id null"),
        (c("event_id").len() - c("event_id").n_unique()).alias("event_id repeated"),
        (c("timestamp").dt.date() != c("event_date")).sum().alias("outside day"),
        *[(c(t) < 0).sum().alias(f"{t} < 0") for t in TOKENS],
        (~c("provider").is_in(sorted(KNOWN_PROVIDERS))).sum().alias("unknown provider"),
        (c("request_model").fill_null("") == "").sum().alias("empty request_model"),
        (c("response_model") == "").sum().alias("empty response_model"),
        (c("latency_ms") < 0).sum().alias("latency < 0"),
    ).row(0, named=True)
    return row


def pandas_checks(calls: Path) -> dict:
    import pandas as pd

    frame = pd.read_parquet(calls)
    return {
        "event_id null": int(frame["event_id"].isna().sum()),
        "event_id repeated": int(frame["event_id"].duplicated().sum()),
        "outside day": int((frame["timestamp"].dt.date != frame["event_date"]).sum()),
        **{f"{t} < 0": int((frame[t] < 0).sum()) for t in TOKENS},
        "unknown provider": int((~frame["provider"].isin(KNOWN_PROVIDERS)).sum()),
        "empty request_model": int((frame["request_model"].fillna("") == "").sum()),
        "empty response_model": int((frame["response_model"] == "").sum()),
        "latency < 0": int((frame["latency_ms"] < 0).sum()),
    }


if __name__ == "__main__":
    peer, refs = sys.argv[1], Path(sys.argv[2])
    checks = {"duckdb": duckdb_checks, "polars": polars_checks, "pandas": pandas_checks}[peer]
    print(checks(refs / "llm_calls.parquet"))
