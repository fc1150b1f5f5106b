"""Read an export's tables back (what `trace --export` uses): the same `read(table, where)`
as the lake, answered by DuckDB from the export's Parquet files alone."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from audit_pipeline import engine


class ExportTables:
    def __init__(self, folder: Path):
        self.folder = folder

    def read(self, table: str, where: str | None = None) -> pa.Table:
        path = self.folder / "tables" / f"{table}.parquet"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: not in this export")
        con = engine.connect()
        try:
            return con.sql(f"SELECT * FROM read_parquet(?) {'WHERE ' + where if where else ''}",
                           params=[str(path)]).to_arrow_table()
        finally:
            con.close()
