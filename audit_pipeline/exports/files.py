"""The files of an export: deterministic Parquet per table, and what the manifest says of
each file (bytes, SHA-256, rows, schema fingerprint, source Delta version)."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from audit_pipeline import engine
from audit_pipeline.exports.contents import ExportedTable
from audit_pipeline.lake import Lake
from audit_pipeline.schemas import conform_reader

ROW_GROUP_ROWS = 262_144
"""Rows per Parquet row group. Fixed (not left to batch boundaries) so that the same rows
always give the same bytes."""

PARQUET_OPTIONS = {"compression": "zstd", "compression_level": 3, "use_dictionary": True,
                   "write_statistics": True, "version": "2.6"}


@dataclass(frozen=True)
class ExportedFile:
    """One line of the manifest."""

    path: str
    """Relative to the export folder, with forward slashes."""
    kind: str
    """`table` (Parquet), `report` (HTML retention report), `document` (README, data
    dictionary) or `key` (the public key)."""
    bytes: int
    sha256: str
    rows: int | None = None
    schema_fingerprint: str | None = None
    table: str | None = None
    delta_version: int | None = None
    """The source Delta table's version the rows were read at (null: table not created yet)."""

    def to_json(self) -> dict:
        """Its manifest entry; a table file always states its Delta version (null: the table
        was not created yet, so the file is empty by fact, not by omission)."""
        return {k: v for k, v in asdict(self).items() if v is not None or (self.kind == "table" and k == "delta_version")}


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def schema_fingerprint(schema: pa.Schema) -> str:
    """SHA-256 of one `name: type` line per column (the data dictionary's types), so an
    auditor can recompute it from any Parquet reader's schema without Arrow internals."""
    text = "\n".join(f"{f.name}: {f.type}" for f in schema)
    return hashlib.sha256(text.encode()).hexdigest()


def _row_groups(reader: pa.RecordBatchReader, rows: int):
    """Re-cut a stream into tables of exactly `rows` rows (the last may be shorter), so row
    groups do not depend on how the engine happened to chunk its output."""
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in reader:
        pending.append(batch)
        count += batch.num_rows
        while count >= rows:
            table = pa.Table.from_batches(pending, reader.schema)
            yield table.slice(0, rows)
            rest = table.slice(rows)
            pending, count = rest.to_batches(), rest.num_rows
    if count:
        yield pa.Table.from_batches(pending, reader.schema)


def _sorted(lake: Lake, exported: ExportedTable, version: int | None, first: date, last: date,
            order: str) -> pa.RecordBatchReader:
    """The exported columns of the period's rows in file order: each chunk (a day, or the
    whole period) sorted by DuckDB, which spills to disk beyond its memory budget."""
    schema = exported.schema

    def batches():
        for where in exported.chunks(first, last):
            con = engine.connect()
            try:
                # A table not created yet reads as empty with its declared columns.
                con.register("source", lake.scan(exported.name, where=where, version=version))
                ordered = con.sql(f"SELECT {exported.select_sql()} FROM source ORDER BY {order}")
                yield from conform_reader(ordered.to_arrow_reader(batch_size=65_536), schema)
            finally:
                con.close()

    return pa.RecordBatchReader.from_batches(schema, batches())


def write_table(lake: Lake, exported: ExportedTable, version: int | None, first: date, last: date,
                folder: Path) -> ExportedFile:
    """The period's rows of one table at `version`, sorted, as `tables/<name>.parquet`."""
    relative = f"tables/{exported.name}.parquet"
    target = folder / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    schema = exported.schema
    order = ", ".join(c if c == "ALL" else f'"{c}"' for c in exported.order_by)
    rows = 0
    with pq.ParquetWriter(target, schema, **PARQUET_OPTIONS) as writer:
        for table in _row_groups(_sorted(lake, exported, version, first, last, order), ROW_GROUP_ROWS):
            writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
            rows += table.num_rows
    return ExportedFile(relative, "table", target.stat().st_size, sha256_file(target), rows,
                        schema_fingerprint(schema), exported.name, version)
