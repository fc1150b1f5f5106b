"""Validate a table with its suite, day by day, and record every result in `dq_results`.

A run over days [first, last] validates each UTC day of a partitioned table as its own
batch, so a result names the day that failed; reference tables are validated whole
(partition `all`). Results replace that table's rows for those partitions, so re-running a
check replaces its own results and nothing else.

Each result records the Delta version it checked and a fingerprint of the suite: the
suites' source, the GX version and the versions of the tables its rules take reference
sets from. When a run finds the same version and fingerprint already recorded for all its
partitions, nothing can have changed: the recorded results are reported again without
importing GX at all (a nightly rerun with nothing new stays cheap).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from importlib.metadata import version as package_version
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from audit_pipeline import engine
from audit_pipeline.lake import Lake, date_range_predicate, in_predicate
from audit_pipeline.quality import suites
from audit_pipeline.quality.suites import SUITES, Suite
from audit_pipeline.schemas import DQ_RESULTS

if TYPE_CHECKING:
    from audit_pipeline.quality.gx_runner import GxRunner

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


def check_table(lake: Lake, table: str, days: list[date] | None, run_id: str, checked_at: datetime,
                runner: GxRunner | None = None) -> SuiteRun:
    """Run `table`'s suite over `days` (ignored for reference tables); write `dq_results`."""
    suite = SUITES[table]
    partitions = [d.isoformat() for d in sorted(days)] if suite.partition_column else [WHOLE_TABLE]
    fingerprint = _fingerprint(lake, suite.references)
    version = lake.version(table)
    recorded = _recorded(lake, table, partitions)
    if (version is not None and {p for p, _, _ in recorded} == set(partitions)
            and all(v == version and f == fingerprint for _, v, f in recorded)):
        return SuiteRun(table, lake.read("dq_results", where=_where(table, partitions)), reused=True)
    if runner is None:
        from audit_pipeline.quality.gx_runner import GxRunner  # only when something is validated

        runner = GxRunner()
    expectations = runner.suite(table, suite.expectations(lake))
    batches = _day_batches(lake, suite, days, partitions)
    rows = []
    for partition, batch in batches:
        for outcome in runner.validate(expectations, batch):
            rows.append({
                "table_name": table, "partition": partition, "suite": table,
                "expectation": outcome.expectation, "column_name": outcome.column,
                "critical": outcome.critical, "success": outcome.success, "observed": outcome.observed,
                "element_count": outcome.element_count, "unexpected_count": outcome.unexpected_count,
                "unexpected_examples": outcome.examples, "table_version": version,
                "suite_fingerprint": fingerprint, "run_id": run_id, "checked_at": checked_at,
            })
    results = pa.Table.from_pylist(rows, schema=DQ_RESULTS)
    lake.replace_where("dq_results", results, _where(table, partitions))
    return SuiteRun(table, results)


def _day_batches(lake: Lake, suite: Suite, days: list[date] | None,
                 partitions: list[str]) -> list[tuple[str, pa.Table]]:
    """The suite's projection of the table, one batch per partition."""
    where = None
    if suite.partition_column:
        where = date_range_predicate(suite.partition_column, min(days), max(days))
    con = engine.connect()
    con.register("rows", lake.read(suite.table, where=where, columns=suite.columns))
    projected = con.sql(suite.projection).to_arrow_table()
    con.close()
    if not suite.partition_column or len(partitions) == 1:
        return [(partitions[0], projected)]  # the read already selected exactly that day
    key = projected[suite.partition_column]
    return [(d.isoformat(), projected.filter(pc.equal(key, pa.scalar(d, pa.date32())))) for d in sorted(days)]


def _fingerprint(lake: Lake, references: tuple[str, ...]) -> str:
    """What the results depend on besides the table: the suites' and runner's code, GX, and
    the reference tables."""
    return hashlib.sha256(json.dumps({
        "suites": [hashlib.sha256(Path(suites.__file__).with_name(f).read_bytes()).hexdigest()
                   for f in ("suites.py", "gx_runner.py")],
        "great_expectations": package_version("great-expectations"),
        "references": {t: lake.version(t) for t in references},
    }, sort_keys=True).encode()).hexdigest()


def _where(table: str, partitions: list[str]) -> str:
    return f"{in_predicate('table_name', [table])} AND {in_predicate('partition', partitions)}"


def _recorded(lake: Lake, table: str, partitions: list[str]) -> set[tuple[str, int, str]]:
    """(partition, table version, suite fingerprint) of the results recorded for them."""
    rows = lake.read("dq_results", where=_where(table, partitions),
                     columns=["partition", "table_version", "suite_fingerprint"])
    return {(r["partition"], r["table_version"], r["suite_fingerprint"]) for r in rows.to_pylist()}
