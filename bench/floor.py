"""The floor: the day's log files read by the fastest reader here and written to Parquet,
with no validation or transformation (DuckDB with the explicit schema of every field). `python -m bench.floor duckdb|pyarrow LANDING OUT`."""

from __future__ import annotations

import sys
from pathlib import Path

from bench.equal_work import APP_FIELDS, TOKENS, log_files

NOT_READABLE = 3
"""Exit code: this reader cannot read the day's files as they are."""


_APP_COLUMNS = {**dict.fromkeys(APP_FIELDS, "VARCHAR"), "timestamp": "TIMESTAMPTZ", "latency_ms": "DOUBLE",
                "ttft_ms": "DOUBLE", "batch": "BOOLEAN", **dict.fromkeys(TOKENS, "BIGINT")}
_ATTRS = "STRUCT(key VARCHAR, value STRUCT(stringValue VARCHAR, intValue VARCHAR, doubleValue DOUBLE))[]"
_OTLP_COLUMNS = {"resourceSpans": f"STRUCT(resource STRUCT(attributes {_ATTRS}), scopeSpans STRUCT(spans STRUCT("
                                  f"traceId VARCHAR, spanId VARCHAR, name VARCHAR, startTimeUnixNano VARCHAR, "
                                  f"endTimeUnixNano VARCHAR, attributes {_ATTRS})[])[])[]"}


def duckdb_floor(files: list[str], out: Path) -> None:
    """Every field of the records with an explicit schema (no detection pass), straight to
    Parquet: the least any reader of these bytes must do."""
    import duckdb

    con = duckdb.connect()  # default settings, as a script would use
    for n, path in enumerate(files):  # one file at a time: app logs and OTLP differ in shape
        columns = _OTLP_COLUMNS if "/otlp/" in path else _APP_COLUMNS
        struct = "{" + ", ".join(f"'{k}': '{v}'" for k, v in columns.items()) + "}"
        # ignore_errors: the sample's malformed lines would stop the reader; it skips them
        con.sql(f"COPY (SELECT * FROM read_json('{path}', format = 'newline_delimited', ignore_errors = true, "
                f"columns = {struct}, maximum_object_size = 134217728)) TO '{out}/duckdb-{n}.parquet' "
                "(FORMAT parquet)")


def pyarrow_floor(files: list[str], out: Path) -> None:
    import pyarrow as pa
    import pyarrow.json as pajson
    import pyarrow.parquet as pq

    for n, path in enumerate(files):
        try:
            table = pajson.read_json(path, read_options=pajson.ReadOptions(block_size=64 << 20))
        except pa.ArrowInvalid:
            sys.exit(NOT_READABLE)  # pyarrow cannot skip a malformed line: no floor from it
        pq.write_table(table, out / f"pyarrow-{n}.parquet")


if __name__ == "__main__":
    reader, landing, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    out.mkdir(parents=True, exist_ok=True)
    {"duckdb": duckdb_floor, "pyarrow": pyarrow_floor}[reader](log_files(landing), out)
