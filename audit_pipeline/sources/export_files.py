"""Billing export files (CUR, FOCUS): column-pruned batches in, costs and usage rows out.

A format supplies one SQL text, `scoped`: over the registered `batch`, every row with the
columns start_ts, end_ts, provider, cost, currency, model_token, token_type, tokens,
is_tokens, api_key_id, project_id, line_item, quantity, quantity_unit and tags, plus
`_row_no`, the raw texts `raw_start` and `raw_cost`, and `out_of_scope`: null for an LLM
charge, else why the row is not one (a cloud bill's compute and storage rows), so that it is
counted as skipped rather than dropped unseen. The cost and usage rows are then
derived the same way for every format, for the run's days ($first, $last). A format names
the models of its usage types through its `model_names` table (Bedrock's usage-type catalog
for CUR and AWS FOCUS exports), registered as `model_names`.

A row whose start time or cost cannot be read is rejected (`missing_required`,
`bad_timestamp`, `bad_type`: NaN and Infinity are not amounts), never dropped; `line_no` is
its row number in the file, counting a CSV header as row 1 (the line number unless a quoted
field spans lines).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq


@dataclass(frozen=True)
class ExportFormat:
    columns: tuple[str, ...]
    """The columns the format reads; the others of the file are never loaded."""
    scoped_sql: Callable[[pa.RecordBatch], str]
    start_field: str
    cost_field: str
    """The file's names for the row's start time and cost (named in rejections)."""
    model_names: Callable[[], pa.Table]
    """(usage_type_model, model_id): the model a usage type's model token stands for."""


ROW_NUMBER = "_row_no"
"""The column `iter_batches` adds (and `scoped` must carry): the row's number in its file."""


# Free-text columns an export may carry a pasted secret in (tags, account names, meters).
_ID = "api_key_id, project_id"
_TAGS = "tags"

COSTS_SQL = f"""
SELECT start_ts AS charge_period_start, end_ts AS charge_period_end, CAST(start_ts AS DATE) AS usage_date,
       provider, cost AS billed_cost, currency AS billing_currency,
       coalesce(m.model_id, s.model_token) AS model, token_type,
       {_ID}, NULL AS workspace_id, line_item,
       quantity, quantity_unit, {_TAGS}, $source_file AS source_file, $ingested_at AS ingested_at
FROM scoped s LEFT JOIN model_names m ON m.usage_type_model = s.model_token
WHERE CAST(start_ts AS DATE) BETWEEN $first AND $last AND cost IS NOT NULL AND out_of_scope IS NULL
"""

USAGE_SQL = f"""
SELECT CAST(start_ts AS DATE) AS usage_date, min(start_ts) AS bucket_start, max(end_ts) AS bucket_end,
       provider, {_ID}, NULL AS workspace_id,
       coalesce(m.model_id, s.model_token) AS model, NULL AS service_tier,
       CAST(sum(tokens) FILTER (token_type = 'uncached_input') AS BIGINT) AS uncached_input_tokens,
       CAST(sum(tokens) FILTER (token_type = 'cache_read') AS BIGINT) AS cache_read_tokens,
       CAST(sum(tokens) FILTER (token_type = 'cache_write') AS BIGINT) AS cache_write_tokens,
       NULL AS cache_write_1h_tokens,
       CAST(sum(tokens) FILTER (token_type = 'output') AS BIGINT) AS output_tokens,
       NULL AS requests, {_TAGS}, $source_file AS source_file, $ingested_at AS ingested_at
FROM scoped s LEFT JOIN model_names m ON m.usage_type_model = s.model_token
WHERE is_tokens AND token_type <> 'other' AND CAST(start_ts AS DATE) BETWEEN $first AND $last
  AND cost IS NOT NULL AND out_of_scope IS NULL
GROUP BY ALL
"""


REJECTED_SQL = """
SELECT _row_no AS line_no, CAST(start_ts AS DATE) AS day,
       CASE WHEN trim(coalesce(raw_start, '')) = '' OR trim(coalesce(raw_cost, '')) = '' THEN 'missing_required'
            WHEN start_ts IS NULL THEN 'bad_timestamp' ELSE 'bad_type' END AS error_code,
       CASE WHEN trim(coalesce(raw_start, '')) = '' THEN 'missing required field ' || $start_field
            WHEN trim(coalesce(raw_cost, '')) = '' THEN 'missing required field ' || $cost_field
            WHEN start_ts IS NULL THEN 'field ' || $start_field || ': not a timestamp: ' || left(raw_start, 40)
            ELSE 'field ' || $cost_field || ': not a finite decimal amount: ' || left(raw_cost, 40) END
           AS error_detail,
       $start_field || '=' || coalesce(left(raw_start, 60), '') || ', ' || $cost_field || '=' ||
           coalesce(left(raw_cost, 60), '') AS raw_excerpt
FROM scoped WHERE start_ts IS NULL OR (cost IS NULL AND out_of_scope IS NULL)
"""


def iter_batches(source: Path, name: str, columns: tuple[str, ...]) -> Iterator[pa.RecordBatch]:
    """Stream only `columns` from a Parquet, CSV or csv.gz file (CSV columns as text), with
    each row's number in the file as `_row_no`.

    `name` is the file's landing path, which says its format.
    """
    if ".parquet" in name:
        parquet = pq.ParquetFile(source)
        present = [c for c in columns if c in parquet.schema_arrow.names]
        batches, first_row = parquet.iter_batches(batch_size=100_000, columns=present), 1
    else:
        # pyarrow decompresses by the file's extension (.gz)
        # A literal NULL (as databases write it) is null, never a tag or a model named "NULL".
        batches, first_row = pacsv.open_csv(str(source), convert_options=pacsv.ConvertOptions(
            include_columns=list(columns), include_missing_columns=True, null_values=["", "NULL"],
            strings_can_be_null=True, column_types=dict.fromkeys(columns, pa.string()))), 2
    for batch in batches:
        numbers = pa.array(np.arange(first_row, first_row + batch.num_rows, dtype=np.int64))
        first_row += batch.num_rows
        yield batch.append_column(ROW_NUMBER, numbers)


def missing_as_null(batch: pa.RecordBatch, columns: tuple[str, ...]) -> str:
    """`SELECT *` over the batch, with the columns this file lacks added as NULL."""
    nulls = "".join(f", NULL AS {c}" for c in columns if c not in batch.schema.names)
    return f"(SELECT *{nulls} FROM batch)"


@dataclass
class ExportBatch:
    """What one batch gave for the run's days: cost and usage rows, accepted rows per day,
    and rejected rows (with their day, null when the start time is unreadable)."""

    costs: pa.Table
    usage: pa.Table
    accepted_per_day: dict[date, int]
    rejected: pa.Table
    skipped_per_day: dict[date, dict[str, int]] = field(default_factory=dict)
    """Rows that are no LLM charge, per day and reason."""


def export_rows(
    con: duckdb.DuckDBPyConnection, batch: pa.RecordBatch, export: ExportFormat, params: dict
) -> ExportBatch:
    """The cost and usage rows of one batch, for the days in `params`."""
    con.register("batch", batch)
    con.register("model_names", export.model_names())
    con.sql(f"CREATE OR REPLACE TEMP TABLE scoped AS {export.scoped_sql(batch)}")
    con.unregister("batch")
    costs = con.sql(COSTS_SQL, params=params).to_arrow_table()
    usage = con.sql(USAGE_SQL, params=params).to_arrow_table()
    per_day = dict(con.sql(
        "SELECT CAST(start_ts AS DATE), count(*) FROM scoped "
        "WHERE CAST(start_ts AS DATE) BETWEEN $first AND $last AND cost IS NOT NULL AND out_of_scope IS NULL "
        "GROUP BY 1", params={"first": params["first"], "last": params["last"]}).fetchall())
    skipped: dict[date, dict[str, int]] = {}
    for day, reason, n in con.sql(
            "SELECT CAST(start_ts AS DATE), out_of_scope, count(*) FROM scoped "
            "WHERE out_of_scope IS NOT NULL AND CAST(start_ts AS DATE) BETWEEN $first AND $last GROUP BY ALL",
            params={"first": params["first"], "last": params["last"]}).fetchall():
        skipped.setdefault(day, {})[reason] = n
    rejected = con.sql(REJECTED_SQL, params={"start_field": export.start_field,
                                             "cost_field": export.cost_field}).to_arrow_table()
    return ExportBatch(costs, usage, per_day, rejected, skipped)
