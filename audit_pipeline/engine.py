"""DuckDB connections for the heavy steps, with a fixed memory budget.

DuckDB would otherwise take up to 80 % of the machine's memory; with a budget it spills
to its temporary directory instead, so peak memory does not grow with a day's input
(docs/contract.md: memory is bounded). Sessions run in UTC so dates are UTC days.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb

MEMORY_LIMIT = "1GB"
SPILL_LIMIT = "64GB"
"""Temporary disk DuckDB may use per connection: a runaway query fails, naming the limit,
instead of filling the disk (a 16M-call day spills a few GB)."""


SPILL_DIRECTORY = Path(tempfile.gettempdir()) / "audit-lineage-duckdb"
"""Where DuckDB writes what does not fit the budget (an in-memory database needs one set)."""


def connect(database: str = ":memory:") -> duckdb.DuckDBPyConnection:
    """A connection with a memory budget; pass a file as `database` for tables larger
    than the budget (an in-memory database cannot evict its tables' data)."""
    SPILL_DIRECTORY.mkdir(exist_ok=True)
    con = duckdb.connect(database, config={"memory_limit": MEMORY_LIMIT, "max_temp_directory_size": SPILL_LIMIT,
                                           "temp_directory": str(SPILL_DIRECTORY)})
    con.sql("SET TimeZone = 'UTC'")
    con.sql("SET enable_progress_bar = false")  # it would draw on the terminal of every run
    return con
