"""DuckDB connections for the heavy steps, with a fixed memory budget.

DuckDB would otherwise take up to 80 % of the machine's memory; with a budget it spills
to its temporary directory instead, so peak memory does not grow with a day's input
(DESIGN.md: memory is bounded). Sessions run in UTC so dates are UTC days.
"""

from __future__ import annotations

import duckdb

MEMORY_LIMIT = "1GB"


def connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(config={"memory_limit": MEMORY_LIMIT})
    con.sql("SET TimeZone = 'UTC'")
    return con
