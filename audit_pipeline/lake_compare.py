"""Two lakes compared table by table, row for row: the proof that a run done another way
(on Celery workers, in shards, after a crash) leaves exactly what a plain run leaves.

What names a run rather than the data is left out: its id, its moments (`*_at`, `as_of`),
the Delta versions a result was built from (and the fingerprints and report hashes that name
them), and the landing file version (a local file's is its modification time).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass

from audit_pipeline.lake import Lake
from audit_pipeline.schemas import TABLES

RUN_COLUMNS = frozenset({"run_id", "ingested_at", "file_version", "as_of", "html_sha256", "fingerprint",
                         "suite_fingerprint", "table_version", "table_versions"})


def _is_run_column(name: str) -> bool:
    return name in RUN_COLUMNS or name.endswith("_at")


def comparable_rows(lake: Lake, table: str, root_names: tuple[str, ...] = ()) -> list[str]:
    """The table's rows as sorted JSON, without run columns; each of `root_names` (a lake's
    own prefix, as it appears in a stored path) replaced by `<root>`."""
    rows = []
    for row in lake.read(table).to_pylist():
        text = json.dumps({k: v for k, v in row.items() if not _is_run_column(k)}, default=str, sort_keys=True)
        for name in root_names:
            text = text.replace(name, "<root>")
        rows.append(text)
    return sorted(rows)


@dataclass(frozen=True)
class TableComparison:
    table: str
    rows: int
    """Rows in the first lake."""
    only_first: list[str]
    only_second: list[str]

    @property
    def equal(self) -> bool:
        return not self.only_first and not self.only_second


def compare_lakes(first: Lake, second: Lake, roots: tuple[str, str] = ("", "")) -> list[TableComparison]:
    """Every declared table either lake holds, compared; `roots` are the two lakes' own
    prefixes where stored values name them (report and export locations)."""
    out = []
    for table in sorted(TABLES):
        if not (first.exists(table) or second.exists(table)):
            continue
        a = comparable_rows(first, table, tuple(r for r in roots[:1] if r))
        b = comparable_rows(second, table, tuple(r for r in roots[1:] if r))
        # Multisets: a row kept twice in one lake and once in the other is a difference.
        extra_a, extra_b = sorted((Counter(a) - Counter(b)).elements()), sorted((Counter(b) - Counter(a)).elements())
        out.append(TableComparison(table, len(a), extra_a, extra_b))
    return out
