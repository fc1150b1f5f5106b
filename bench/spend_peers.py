"""The reconciliation join a data engineer would script instead: billed versus logged tokens
per day × provider × account × model × token type.

Each peer reads the day's `billing_usage` and `llm_calls` (exported as Parquet), normalises
the logged tokens to the bill's token types (uncached input = input − cached − cache write),
resolves alias-only logs to the alias's usual snapshot, outer-joins billed with logged and
counts the rows that differ. No costs, no prices, no Delta, no Dagster: the bare join.
`python -m bench.spend_peers duckdb|polars|pandas REFS`.
"""

from __future__ import annotations

import sys
from pathlib import Path

TYPES = ("uncached_input", "cache_read", "cache_write", "output")


def duckdb_join(refs: Path) -> int:
    import duckdb

    con = duckdb.connect()
    return con.sql(f"""
        WITH calls AS (
            SELECT event_date AS day, provider,
                   CASE provider WHEN 'azure_openai' THEN project_id ELSE api_key_id END AS account,
                   request_model, response_model,
                   greatest(input_tokens - coalesce(cached_input_tokens, 0) - coalesce(cache_write_tokens, 0), 0)
                       AS uncached_input, coalesce(cached_input_tokens, 0) AS cache_read,
                   coalesce(cache_write_tokens, 0) AS cache_write, output_tokens AS output
            FROM '{refs}/llm_calls.parquet'),
        usual AS (SELECT provider, request_model, mode(response_model) AS snapshot FROM calls
                  WHERE response_model IS NOT NULL GROUP BY ALL),
        logged AS (UNPIVOT (SELECT c.day, c.provider, c.account, coalesce(c.response_model, u.snapshot) AS model,
                                   sum(uncached_input) AS uncached_input, sum(cache_read) AS cache_read,
                                   sum(cache_write) AS cache_write, sum(output) AS output
                            FROM calls c LEFT JOIN usual u USING (provider, request_model) GROUP BY ALL)
                   ON {", ".join(TYPES)} INTO NAME token_type VALUE tokens),
        billed AS (UNPIVOT (SELECT usage_date AS day, provider,
                                   CASE provider WHEN 'azure_openai' THEN project_id ELSE api_key_id END AS account,
                                   model, sum(uncached_input_tokens) AS uncached_input,
                                   sum(cache_read_tokens) AS cache_read,
                                   sum(coalesce(cache_write_tokens, 0) + coalesce(cache_write_1h_tokens, 0))
                                       AS cache_write, sum(output_tokens) AS output
                            FROM '{refs}/billing_usage.parquet' GROUP BY ALL)
                   ON {", ".join(TYPES)} INTO NAME token_type VALUE tokens)
        SELECT count(*) FILTER (b.tokens IS DISTINCT FROM l.tokens)
        FROM billed b FULL JOIN logged l USING (day, provider, account, model, token_type)
    """).fetchall()[0][0]


def polars_join(refs: Path) -> int:
    import polars as pl

    calls = pl.scan_parquet(refs / "llm_calls.parquet").with_columns(
        account=pl.when(pl.col("provider") == "azure_openai").then(pl.col("project_id")).otherwise(pl.col("api_key_id")),
        uncached_input=(pl.col("input_tokens") - pl.col("cached_input_tokens").fill_null(0)
                        - pl.col("cache_write_tokens").fill_null(0)).clip(lower_bound=0),
        cache_read=pl.col("cached_input_tokens").fill_null(0), cache_write=pl.col("cache_write_tokens").fill_null(0),
        output=pl.col("output_tokens")).rename({"event_date": "day"})
    usual = (calls.filter(pl.col("response_model").is_not_null()).group_by("provider", "request_model")
             .agg(snapshot=pl.col("response_model").mode().first()))
    logged = (calls.join(usual, on=["provider", "request_model"], how="left")
              .with_columns(model=pl.coalesce("response_model", "snapshot"))
              .group_by("day", "provider", "account", "model").agg([pl.col(t).sum() for t in TYPES])
              .unpivot(TYPES, index=["day", "provider", "account", "model"], variable_name="token_type",
                       value_name="logged"))
    billed = (pl.scan_parquet(refs / "billing_usage.parquet").rename({"usage_date": "day"}).with_columns(
        account=pl.when(pl.col("provider") == "azure_openai").then(pl.col("project_id")).otherwise(pl.col("api_key_id")),
        uncached_input=pl.col("uncached_input_tokens"), cache_read=pl.col("cache_read_tokens"),
        cache_write=pl.col("cache_write_tokens").fill_null(0) + pl.col("cache_write_1h_tokens").fill_null(0),
        output=pl.col("output_tokens"))
        .group_by("day", "provider", "account", "model").agg([pl.col(t).sum() for t in TYPES])
        .unpivot(TYPES, index=["day", "provider", "account", "model"], variable_name="token_type", value_name="billed"))
    joined = billed.join(logged, on=["day", "provider", "account", "model", "token_type"], how="full", coalesce=True)
    return joined.filter(pl.col("billed").ne_missing(pl.col("logged"))).select(pl.len()).collect().item()


def pandas_join(refs: Path) -> int:
    import pandas as pd

    calls = pd.read_parquet(refs / "llm_calls.parquet", columns=[
        "event_date", "provider", "api_key_id", "project_id", "request_model", "response_model", "input_tokens",
        "cached_input_tokens", "cache_write_tokens", "output_tokens"]).rename(columns={"event_date": "day"})
    calls["account"] = calls["api_key_id"].where(calls["provider"] != "azure_openai", calls["project_id"])
    calls["cache_read"] = calls["cached_input_tokens"].fillna(0)
    calls["cache_write"] = calls["cache_write_tokens"].fillna(0)
    calls["uncached_input"] = (calls["input_tokens"] - calls["cache_read"] - calls["cache_write"]).clip(lower=0)
    calls["output"] = calls["output_tokens"]
    usual = (calls.dropna(subset=["response_model"]).groupby(["provider", "request_model"])["response_model"]
             .agg(lambda s: s.mode().iloc[0]).rename("snapshot").reset_index())
    calls = calls.merge(usual, on=["provider", "request_model"], how="left")
    calls["model"] = calls["response_model"].fillna(calls["snapshot"])
    keys = ["day", "provider", "account", "model"]
    logged = calls.groupby(keys, dropna=False)[list(TYPES)].sum().reset_index().melt(
        id_vars=keys, var_name="token_type", value_name="logged")
    usage = pd.read_parquet(refs / "billing_usage.parquet").rename(columns={"usage_date": "day"})
    usage["account"] = usage["api_key_id"].where(usage["provider"] != "azure_openai", usage["project_id"])
    usage["uncached_input"], usage["cache_read"] = usage["uncached_input_tokens"], usage["cache_read_tokens"]
    usage["cache_write"] = usage["cache_write_tokens"].fillna(0) + usage["cache_write_1h_tokens"].fillna(0)
    usage["output"] = usage["output_tokens"]
    billed = usage.groupby(keys, dropna=False)[list(TYPES)].sum().reset_index().melt(
        id_vars=keys, var_name="token_type", value_name="billed")
    joined = billed.merge(logged, on=[*keys, "token_type"], how="outer")
    return int((joined["billed"].fillna(-1) != joined["logged"].fillna(-1)).sum())


if __name__ == "__main__":
    peer, refs = sys.argv[1], Path(sys.argv[2])
    print({"duckdb": duckdb_join, "polars": polars_join, "pandas": pandas_join}[peer](refs), "rows differ")
