"""Load provider billing pages for a range of days into `billing_usage` / `billing_costs`.

Providers restate recent days, so a landing zone holds several pulls covering the same day.
For each day the rows of the latest pull (the greatest pull folder, e.g.
`pull-20261121/`) win; rows of older pulls for that day are counted as duplicates
(superseded), never summed. Pages are small, so they are parsed whole; the sources that can
be large (CUR, FOCUS) stream in their own loaders.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

import pyarrow as pa
import pyarrow.compute as pc

from audit_pipeline import engine
from audit_pipeline.lake import Lake, date_range_predicate
from audit_pipeline.landing import Landing
from audit_pipeline.loads.bookkeeping import FileCount, LoadReport, with_file_columns
from audit_pipeline.schemas import TABLES
from audit_pipeline.sources.openai_billing import parse_costs_page, parse_usage_page
from audit_pipeline.sources.pages import PageError, ParsedPage


@dataclass(frozen=True)
class PageSource:
    name: str
    prefix: str
    table: str
    parse: Callable[[bytes, str, datetime], ParsedPage]


OPENAI_USAGE = PageSource("openai_usage", "billing/openai/usage", "billing_usage", parse_usage_page)
OPENAI_COSTS = PageSource("openai_costs", "billing/openai/costs", "billing_costs", parse_costs_page)


_PULL = "regexp_replace(source_file, '/[^/]*$', '')"
"""The pull a page belongs to: its folder."""


def load_pages(source: PageSource, landing: Landing, lake: Lake, first: date, last: date,
               ingested_at: datetime) -> LoadReport:
    """Parse every page of `source`, keep the latest pull per day, write [first, last]."""
    days = [first.fromordinal(o) for o in range(first.toordinal(), last.toordinal() + 1)]
    report = LoadReport(source.name, days)
    tables, counts = [], {}
    for file in landing.list(source.prefix, (".json",)):
        raw, sha = landing.read_bytes(file)
        try:
            parsed = source.parse(raw, file.path, ingested_at)
        except PageError as exc:
            report.files.append(FileCount(source.name, file.path, first.isoformat(), sha, file.size,
                                          status="failed", error=str(exc)))
            continue
        tables.append(parsed.rows)
        rejected = parsed.rejected_table()
        # A result whose bucket day is unreadable is reported under the run's first day.
        rejected_days = pc.fill_null(rejected["day"], pa.scalar(first, pa.date32()))
        for day in days:
            in_day = rejected.filter(pc.equal(rejected_days, pa.scalar(day, pa.date32())))
            count = FileCount(source.name, file.path, day.isoformat(), sha, file.size,
                              rows_quarantined=in_day.num_rows)
            count.rows_read = count.rows_quarantined
            counts[file.path, day] = count
            if in_day.num_rows:
                report.quarantine.append(with_file_columns(in_day.drop_columns(["day"]), source.name,
                                                           file.path, day.isoformat()))
    rows = pa.concat_tables(tables) if tables else TABLES[source.table].empty_table()
    kept = _latest_pull_per_day(rows, first, last, counts)
    report.files.extend(c for c in counts.values() if c.rows_read)
    lake.replace_where(source.table, kept, date_range_predicate("usage_date", first, last))
    return report


def _latest_pull_per_day(rows: pa.Table, first: date, last: date, counts: dict) -> pa.Table:
    con = engine.connect()
    con.register("rows", rows)
    ranked = con.sql(f"""
        SELECT *, {_PULL} = max({_PULL}) OVER (PARTITION BY usage_date) AS latest
        FROM rows WHERE usage_date BETWEEN $first AND $last
    """, params={"first": first, "last": last}).to_arrow_table()
    for source_file, day, latest, n in con.sql(
        "SELECT source_file, usage_date, latest, count(*) FROM ranked GROUP BY ALL"
    ).fetchall():
        count = counts[source_file, day]
        count.rows_read += n
        if latest:
            count.rows_accepted += n
        else:
            count.rows_duplicate += n
    return ranked.filter(ranked["latest"]).drop_columns(["latest"])
