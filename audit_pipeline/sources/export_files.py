"""Billing export files (CUR, FOCUS): column-pruned batches in, costs and usage rows out.

A format supplies one SQL text, `scoped`: over the registered `batch`, the rows this source
owns with the columns start_ts, end_ts, provider, cost, currency, model_token, token_type,
tokens, is_tokens, api_key_id, project_id, line_item, quantity, quantity_unit and tags.
The cost and usage rows are then derived the same way for every format, for the run's days
($first, $last). The Bedrock usage-type catalog is registered as `bedrock_models`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq


@dataclass(frozen=True)
class ExportFormat:
    columns: tuple[str, ...]
    """The columns the format reads; the others of the file are never loaded."""
    scoped_sql: Callable[[pa.RecordBatch], str]


COSTS_SQL = """
SELECT start_ts AS charge_period_start, end_ts AS charge_period_end, CAST(start_ts AS DATE) AS usage_date,
       provider, cost AS billed_cost, currency AS billing_currency,
       coalesce(m.model_id, s.model_token) AS model, token_type,
       api_key_id, project_id, NULL AS workspace_id, line_item, quantity, quantity_unit, tags,
       $source_file AS source_file, $ingested_at AS ingested_at
FROM scoped s LEFT JOIN bedrock_models m ON m.usage_type_model = s.model_token
WHERE CAST(start_ts AS DATE) BETWEEN $first AND $last
"""

USAGE_SQL = """
SELECT CAST(start_ts AS DATE) AS usage_date, min(start_ts) AS bucket_start, max(end_ts) AS bucket_end,
       provider, api_key_id, project_id, NULL AS workspace_id,
       coalesce(m.model_id, s.model_token) AS model, NULL AS service_tier,
       CAST(sum(tokens) FILTER (token_type = 'uncached_input') AS BIGINT) AS uncached_input_tokens,
       CAST(sum(tokens) FILTER (token_type = 'cache_read') AS BIGINT) AS cache_read_tokens,
       CAST(sum(tokens) FILTER (token_type = 'cache_write') AS BIGINT) AS cache_write_tokens,
       NULL AS cache_write_1h_tokens,
       CAST(sum(tokens) FILTER (token_type = 'output') AS BIGINT) AS output_tokens,
       NULL AS requests, tags, $source_file AS source_file, $ingested_at AS ingested_at
FROM scoped s LEFT JOIN bedrock_models m ON m.usage_type_model = s.model_token
WHERE is_tokens AND token_type <> 'other' AND CAST(start_ts AS DATE) BETWEEN $first AND $last
GROUP BY ALL
"""


def iter_batches(source: Path, name: str, columns: tuple[str, ...]) -> Iterator[pa.RecordBatch]:
    """Stream only `columns` from a Parquet, CSV or csv.gz file (CSV columns as text).

    `name` is the file's landing path, which says its format.
    """
    if ".parquet" in name:
        parquet = pq.ParquetFile(source)
        present = [c for c in columns if c in parquet.schema_arrow.names]
        yield from parquet.iter_batches(batch_size=100_000, columns=present)
        return
    # pyarrow decompresses by the file's extension (.gz)
    yield from pacsv.open_csv(str(source), convert_options=pacsv.ConvertOptions(
        include_columns=list(columns), include_missing_columns=True,
        column_types=dict.fromkeys(columns, pa.string())))


def missing_as_null(batch: pa.RecordBatch, columns: tuple[str, ...]) -> str:
    """`SELECT *` over the batch, with the columns this file lacks added as NULL."""
    nulls = "".join(f", NULL AS {c}" for c in columns if c not in batch.schema.names)
    return f"(SELECT *{nulls} FROM batch)"


def export_rows(
    con: duckdb.DuckDBPyConnection, batch: pa.RecordBatch, export: ExportFormat, params: dict
) -> tuple[pa.Table, pa.Table, dict[date, int]]:
    """(costs, usage, in-scope rows per day) of one batch, for the days in `params`."""
    con.register("batch", batch)
    con.sql(f"CREATE OR REPLACE TEMP TABLE scoped AS {export.scoped_sql(batch)}")
    con.unregister("batch")
    costs = con.sql(COSTS_SQL, params=params).to_arrow_table()
    usage = con.sql(USAGE_SQL, params=params).to_arrow_table()
    per_day = dict(con.sql(
        "SELECT CAST(start_ts AS DATE), count(*) FROM scoped "
        "WHERE CAST(start_ts AS DATE) BETWEEN $first AND $last GROUP BY 1",
        params={"first": params["first"], "last": params["last"]}).fetchall())
    return costs, usage, per_day
