"""The scripts a data engineer would write instead, doing our stages' work on the same files.

Each: load the day's application call logs (JSON lines), resolve each call's prompt version
with an as-of join on (prompt_id, timestamp), aggregate per day × key × model, join to
billing, write the lineage and the aggregate as Parquet. No validation, no quarantine, no
Delta: a peer drops or crashes on bad lines where we quarantine them, and it does not read
the OTLP spans. `python -m bench.peers duckdb|polars|pandas LANDING REFS OUT`, where REFS
holds `prompt_versions.parquet` and `billing_usage.parquet`.
"""

from __future__ import annotations

import sys
from pathlib import Path


def app_log_files(landing: Path) -> list[str]:
    return sorted(str(p) for p in (landing / "logs").rglob("*.jsonl*") if "otlp" not in p.parts)


def duckdb_peer(files: list[str], refs: Path, out: Path) -> None:
    import duckdb

    con = duckdb.connect()  # default settings, as a script would use
    con.sql("SET TimeZone = 'UTC'")
    con.sql(f"""CREATE TABLE calls AS SELECT * FROM read_json({files}, format = 'newline_delimited',
                ignore_errors = true, columns = {{event_id: 'VARCHAR', timestamp: 'TIMESTAMPTZ',
                ai_system: 'VARCHAR', provider: 'VARCHAR', api_key_id: 'VARCHAR', response_model: 'VARCHAR',
                prompt_id: 'VARCHAR', input_tokens: 'BIGINT', output_tokens: 'BIGINT'}})""")
    con.sql(f"CREATE TABLE versions AS SELECT * FROM '{refs}/prompt_versions.parquet'")
    con.sql(f"""COPY (SELECT c.*, v.version AS prompt_version FROM calls c
                ASOF LEFT JOIN versions v ON c.prompt_id = v.prompt_id AND c.timestamp >= v.valid_from)
                TO '{out}/duckdb-lineage.parquet' (FORMAT parquet)""")
    con.sql(f"""COPY (
        WITH logged AS (SELECT CAST(timestamp AS DATE) AS day, provider, api_key_id, response_model AS model,
                               sum(input_tokens) AS input, sum(output_tokens) AS output, count(*) AS calls
                        FROM calls GROUP BY ALL)
        SELECT * FROM logged l FULL JOIN (SELECT usage_date AS day, provider, api_key_id, model,
               sum(uncached_input_tokens) AS billed_input, sum(output_tokens) AS billed_output
               FROM '{refs}/billing_usage.parquet' GROUP BY ALL) b USING (day, provider, api_key_id, model)
    ) TO '{out}/duckdb-reconciliation.parquet' (FORMAT parquet)""")


def polars_peer(files: list[str], refs: Path, out: Path) -> None:
    import polars as pl

    fields = ("event_id", "timestamp", "ai_system", "provider", "api_key_id", "response_model",
              "prompt_id", "input_tokens", "output_tokens")
    record = pl.Struct(dict.fromkeys(fields, pl.String))  # numbers as text: a bad value must not stop it
    # Polars' NDJSON reader stops at a malformed line; read lines as text, keep what looks
    # like an object, decode those (what a script author would end up writing).
    calls = pl.concat([
        pl.scan_csv(f, has_header=False, separator="\x1f", quote_char=None, new_columns=["line"],
                    schema_overrides={"line": pl.String})
        .filter(pl.col("line").str.starts_with("{") & pl.col("line").str.ends_with("}"))
        .select(pl.col("line").str.json_decode(dtype=record).alias("r")).unnest("r")
        for f in files
    ]).with_columns(pl.col("timestamp").str.to_datetime(time_zone="UTC", strict=False),
                    pl.col("input_tokens", "output_tokens").cast(pl.Int64, strict=False)).collect()
    versions = pl.read_parquet(refs / "prompt_versions.parquet").select(
        "prompt_id", "version", pl.col("valid_from").dt.convert_time_zone("UTC")).sort("valid_from")
    lineage = calls.drop_nulls("timestamp").sort("timestamp").join_asof(
        versions, left_on="timestamp", right_on="valid_from", by="prompt_id")
    lineage.write_parquet(out / "polars-lineage.parquet")
    logged = calls.group_by(pl.col("timestamp").dt.date().alias("day"), "provider", "api_key_id",
                            pl.col("response_model").alias("model")).agg(
        pl.col("input_tokens").sum().alias("input"), pl.col("output_tokens").sum().alias("output"),
        pl.len().alias("calls"))
    billed = pl.read_parquet(refs / "billing_usage.parquet").group_by(
        pl.col("usage_date").alias("day"), "provider", "api_key_id", "model").agg(
        pl.col("uncached_input_tokens").sum().alias("billed_input"),
        pl.col("output_tokens").sum().alias("billed_output"))
    logged.join(billed, on=["day", "provider", "api_key_id", "model"], how="full").write_parquet(
        out / "polars-reconciliation.parquet")


def pandas_peer(files: list[str], refs: Path, out: Path) -> None:
    import gzip
    import io
    import itertools

    import pandas as pd

    columns = ["event_id", "timestamp", "ai_system", "provider", "api_key_id", "response_model",
               "prompt_id", "input_tokens", "output_tokens"]
    frames = []
    for f in files:  # pandas stops at a malformed line: keep lines that look like objects
        with (gzip.open(f, "rt") if f.endswith(".gz") else open(f)) as lines:
            while chunk := list(itertools.islice(lines, 200_000)):
                good = [line for line in chunk if line.startswith("{") and line.rstrip().endswith("}")]
                frame = pd.read_json(io.StringIO("".join(good)), lines=True, dtype=False)
                frames.append(frame.reindex(columns=columns))
    calls = pd.concat(frames, ignore_index=True)
    for column in ("input_tokens", "output_tokens"):
        calls[column] = pd.to_numeric(calls[column], errors="coerce")
    calls["timestamp"] = pd.to_datetime(calls["timestamp"], utc=True, errors="coerce")
    calls = calls.dropna(subset=["timestamp"])
    versions = pd.read_parquet(refs / "prompt_versions.parquet")[["prompt_id", "version", "valid_from"]]
    versions["valid_from"] = pd.to_datetime(versions["valid_from"], utc=True)
    lineage = pd.merge_asof(calls.sort_values("timestamp"), versions.sort_values("valid_from"),
                            left_on="timestamp", right_on="valid_from", by="prompt_id")
    lineage.to_parquet(out / "pandas-lineage.parquet")
    calls["day"] = calls["timestamp"].dt.date
    logged = calls.groupby(["day", "provider", "api_key_id", "response_model"], dropna=False).agg(
        input=("input_tokens", "sum"), output=("output_tokens", "sum"), calls=("event_id", "count")).reset_index()
    billed = pd.read_parquet(refs / "billing_usage.parquet")
    billed["day"] = pd.to_datetime(billed["usage_date"]).dt.date
    billed = billed.groupby(["day", "provider", "api_key_id", "model"], dropna=False).agg(
        billed_input=("uncached_input_tokens", "sum"), billed_output=("output_tokens", "sum")).reset_index()
    logged.merge(billed, left_on=["day", "provider", "api_key_id", "response_model"],
                 right_on=["day", "provider", "api_key_id", "model"], how="outer").to_parquet(
        out / "pandas-reconciliation.parquet")


if __name__ == "__main__":
    peer, landing, refs, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
    out.mkdir(parents=True, exist_ok=True)
    {"duckdb": duckdb_peer, "polars": polars_peer, "pandas": pandas_peer}[peer](app_log_files(landing), refs, out)
