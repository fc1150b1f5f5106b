"""Validate a table with its suite, day by day, and record every result in `dq_results`.

A run over days [first, last] validates each UTC day of a partitioned table as its own
batch, so a result names the day that failed; reference tables are validated whole
(partition `all`). Results replace that table's rows for those partitions, so re-running a
check replaces its own results and nothing else.

Each partition's results are a build in the sense of `freshness`: fingerprinted by the rows
checked (the day's data files), the tables its rules take reference sets from, the code of
the suites and runner and the GX version. A partition whose fingerprint is already recorded
is not validated again: its recorded results are reported (a nightly rerun with nothing new
stays cheap and never imports GX); only stale partitions are validated.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from audit_pipeline import engine
from audit_pipeline.freshness import Recipe, code_version, record, stale
from audit_pipeline.lake import Lake, date_range_predicate, in_predicate
from audit_pipeline.quality.outcomes import combine
from audit_pipeline.quality.suites import SUITES, Suite
from audit_pipeline.schemas import DQ_RESULTS
from audit_pipeline.scratch import scratch

if TYPE_CHECKING:
    from audit_pipeline.quality.gx_runner import GxRunner
    from audit_pipeline.quality.outcomes import Outcome

WHOLE_TABLE = "all"
"""The `partition` of a result over a whole (unpartitioned) table."""


@dataclass(frozen=True)
class SuiteRun:
    """One suite's results over the days of a run (rows of `dq_results`)."""

    table: str
    results: pa.Table
    reused: bool = False
    """True when the results are those recorded for the same table version and suite."""

    def failures(self, critical: bool) -> list[dict]:
        rows = self.results.filter(pc.and_(pc.invert(self.results["success"]),
                                           pc.equal(self.results["critical"], critical)))
        return rows.to_pylist()

    def expectations(self, critical: bool) -> int:
        rows = self.results.filter(pc.equal(self.results["critical"], critical))
        return len(set(rows["expectation"].to_pylist()))


def _fingerprints(lake: Lake, suite: Suite, days: list[date] | None) -> dict[str, str]:
    recipe = Recipe(_asset(suite.table), code_version(__name__, lazy=("audit_pipeline.quality.gx_runner",),
                                                      packages=("great-expectations",)),
                    {table: lake.signatures(table)["all"] for table in suite.references})
    rows = lake.signatures(suite.table, sorted(days)) if suite.partition_column else {
        WHOLE_TABLE: lake.signatures(suite.table)["all"]}
    return {partition: recipe.fingerprint({suite.table: signature}) for partition, signature in rows.items()}


def _asset(table: str) -> str:
    """How a suite's results are named in `build_log`."""
    return f"quality:{table}"


def check_table(lake: Lake, table: str, days: list[date] | None, run_id: str, checked_at: datetime,
                runner: GxRunner | None = None) -> SuiteRun:
    """Run `table`'s suite over the stale partitions of `days` (the whole table for reference
    tables); write their `dq_results` and return the results of every partition asked for."""
    suite = SUITES[table]
    fingerprints = _fingerprints(lake, suite, days)
    partitions = sorted(fingerprints)
    todo = stale(lake, _asset(table), fingerprints) if lake.exists(table) else partitions
    if not todo:
        return SuiteRun(table, lake.read("dq_results", where=_where(table, partitions)), reused=True)
    if runner is None:
        from audit_pipeline.quality.gx_runner import GxRunner  # only when something is validated

        runner = GxRunner()
    expectations = runner.suite(table, suite.expectations(lake))
    todo_days = [date.fromisoformat(p) for p in todo] if suite.partition_column else None
    version = lake.version(table)
    rows = []
    for partition, outcomes in _validated(runner, expectations, lake, suite, todo_days, todo):
        for outcome in outcomes:
            rows.append({
                "table_name": table, "partition": partition, "suite": table,
                "expectation": outcome.expectation, "column_name": outcome.column,
                "critical": outcome.critical, "success": outcome.success, "observed": outcome.observed,
                "element_count": outcome.element_count, "unexpected_count": outcome.unexpected_count,
                "unexpected_examples": outcome.examples, "table_version": version,
                "suite_fingerprint": fingerprints[partition], "run_id": run_id, "checked_at": checked_at,
            })
    lake.replace_where("dq_results", pa.Table.from_pylist(rows, schema=DQ_RESULTS), _where(table, todo))
    record(lake, _asset(table), {p: fingerprints[p] for p in todo}, run_id, checked_at)
    return SuiteRun(table, lake.read("dq_results", where=_where(table, partitions)))


CHUNK_ROWS = 2_000_000
"""Rows GX validates at once: a larger day is validated in slices of its key (event id)
ranges, so memory stays bounded whatever the day's size (GX holds its batch in pandas)."""


def _validated(runner: GxRunner, expectations, lake: Lake, suite: Suite, days: list[date] | None,
               partitions: list[str]) -> Iterator[tuple[str, list[Outcome]]]:
    """Each partition's outcomes: a whole table, a day, or a large day's slices combined."""
    if not suite.partition_column:
        con = engine.connect()
        con.register("rows", lake.read(suite.table, columns=suite.columns))
        yield partitions[0], runner.validate(expectations, con.sql(suite.projection).to_arrow_table())
        return
    for day in sorted(days):
        where = date_range_predicate(suite.partition_column, day, day)
        size = lake.read(suite.table, where=where, columns=[suite.partition_column]).num_rows
        with scratch("quality") as tmp:
            con = engine.connect(str(tmp / "day.duckdb") if size > CHUNK_ROWS else ":memory:")
            con.register("rows", lake.scan(suite.table, where=where, columns=suite.columns))
            if size <= CHUNK_ROWS or suite.slice_key is None:
                yield day.isoformat(), runner.validate(expectations, con.sql(suite.projection).to_arrow_table())
                continue
            con.sql(f"CREATE TABLE projected AS {suite.projection}")  # ordered by the key
            yield day.isoformat(), combine([runner.validate(expectations, part)
                                            for part in _slices(con, suite.slice_key, size)])


def _slices(con, key: str, size: int) -> Iterator[pa.Table]:
    """`projected` in consecutive ranges of `key` of about CHUNK_ROWS rows each; every copy of
    a key value falls in one range, so uniqueness holds or fails exactly as over the whole.
    Rows without a key sort last (DuckDB's default), so they belong to the last range."""
    count = -(-size // CHUNK_ROWS)
    [(bounds,)] = con.sql(f"SELECT quantile_disc({key}, {[n / count for n in range(1, count)]}) FROM projected"
                          ).fetchall()
    edges = [None, *sorted(set(bounds)), None]
    for low, high in itertools.pairwise(edges):
        where = " AND ".join([*([f"{key} >= $low"] if low is not None else []),
                              *([f"{key} < $high"] if high is not None else [])]) or "true"
        if high is None:
            where = f"({where} OR {key} IS NULL)"
        params = {k: v for k, v in (("low", low), ("high", high)) if v is not None}
        yield con.sql(f"SELECT * FROM projected WHERE {where}", params=params).to_arrow_table()


def _where(table: str, partitions: list[str]) -> str:
    return f"{in_predicate('table_name', [table])} AND {in_predicate('partition', partitions)}"
