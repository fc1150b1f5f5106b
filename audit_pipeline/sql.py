"""Static SQL kept in `.sql` files beside the module that runs it (`<package>/sql/<name>.sql`),
so a reader sees the query as DuckDB runs it, with syntax highlighting and without Python
around it. Parameters are DuckDB's (`$name`), never string formatting."""

from __future__ import annotations

from functools import cache
from importlib.resources import files


@cache
def load_sql(package: str, name: str) -> str:
    """The text of `<package>/sql/<name>.sql`, e.g. load_sql("audit_pipeline.spend", "reconciliation")."""
    return files(package).joinpath("sql", f"{name}.sql").read_text(encoding="utf-8")
