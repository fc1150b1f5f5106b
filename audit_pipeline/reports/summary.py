"""What `audit-pipeline demo` prints: tables and rows, lineage coverage, quarantine."""

from __future__ import annotations

import duckdb

from audit_pipeline.lake import Lake
from audit_pipeline.loads.lineage import RESOLUTIONS
from audit_pipeline.reports.markdown import markdown_table
from audit_pipeline.schemas import TABLES


def table_rows(lake: Lake) -> list[list[object]]:
    rows = []
    for name in TABLES:
        version = lake.version(name)
        count = lake.read(name, columns=[TABLES[name].names[0]]).num_rows if version is not None else 0
        rows.append([name, count, "-" if version is None else version])
    return rows


def lineage_coverage(lake: Lake) -> list[list[object]]:
    lineage = lake.read("output_lineage", columns=["resolution"])
    counts = dict(duckdb.sql("SELECT resolution, count(*) FROM lineage GROUP BY 1").fetchall())
    total = sum(counts.values()) or 1
    return [[kind, counts.get(kind, 0), f"{100 * counts.get(kind, 0) / total:.1f}%"]
            for kind in RESOLUTIONS]


def quarantine_codes(lake: Lake) -> list[list[object]]:
    quarantine = lake.read("quarantine", columns=["source", "error_code"])
    return [list(r) for r in duckdb.sql(
        "SELECT source, error_code, count(*) FROM quarantine GROUP BY ALL ORDER BY ALL").fetchall()]


def render_summary(lake: Lake) -> str:
    return "\n\n".join([
        "Tables (Delta, under " + lake.root + "):\n" + markdown_table(["table", "rows", "version"], table_rows(lake)),
        "Lineage coverage (output_lineage.resolution):\n"
        + markdown_table(["resolution", "outputs", "share"], lineage_coverage(lake)),
        "Quarantined rows by reason:\n" + markdown_table(["source", "error_code", "rows"], quarantine_codes(lake)),
    ])
