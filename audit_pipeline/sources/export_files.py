"""Billing export files (CUR, FOCUS): column-pruned batches in, costs and usage rows out.

A format supplies three SQL texts: `scoped` (over the registered `batch`, the rows this
source owns, normalised), then `costs` and `usage` over `scoped` for the run's days, with
the parameters $source_file, $ingested_at, $first and $last. The Bedrock usage-type catalog
is registered as `bedrock_models`.
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
    scoped_sql: Callable[[pa.RecordBatch], str]
    costs_sql: str
    usage_sql: str


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
    costs = con.sql(export.costs_sql, params=params).to_arrow_table()
    usage = con.sql(export.usage_sql, params=params).to_arrow_table()
    per_day = dict(con.sql(
        "SELECT CAST(start_ts AS DATE), count(*) FROM scoped "
        "WHERE CAST(start_ts AS DATE) BETWEEN $first AND $last GROUP BY 1",
        params={"first": params["first"], "last": params["last"]}).fetchall())
    return costs, usage, per_day
