"""Every Delta read and write goes through here (docs/contract.md: one lake module).

Writes are idempotent by construction: a partitioned load replaces exactly the rows its
predicate selects (`write_deltalake(mode="overwrite", predicate=...)`), which delta-rs commits
atomically, so a run killed halfway leaves the previous version readable. Reference tables
(prompt history) are replaced whole.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import pyarrow as pa
from deltalake import DeltaTable, QueryBuilder, write_deltalake
from deltalake import Schema as DeltaSchema
from deltalake.exceptions import CommitFailedError, TableNotFoundError

from audit_pipeline.redaction import mask_batch, mask_reader
from audit_pipeline.schemas import PARTITION_COLUMNS, TABLES, conform, conform_reader, plain


def sql_quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def date_range_predicate(column: str, first: date, last: date) -> str:
    """A delta-rs predicate selecting the days [first, last] of a date32 column."""
    return f"{column} >= '{first.isoformat()}' AND {column} <= '{last.isoformat()}'"


def in_predicate(column: str, values: Iterable[str]) -> str:
    quoted = ", ".join(sql_quote(v) for v in sorted(set(values)))
    return f"{column} IN ({quoted})" if quoted else "false"


def _same_rows(current: pa.Table, new: pa.Table) -> bool:
    """The same rows in any order (and the same columns: a table declared anew differs)."""
    if current.column_names != new.column_names:
        return False
    order = [(c, "ascending") for c in new.column_names]
    return current.num_rows == new.num_rows and current.sort_by(order).equals(new.sort_by(order))


COMMIT_HOOKS: list[Callable[[str, str], None]] = []
"""Called as hook(table, "before" | "after") around every commit: the fault-injection point
where a test kills the process to prove that every interrupted run is redone correctly."""


COMMIT_ATTEMPTS = 6
"""A commit that lost a race with a concurrent writer of the same rows (another run of the
same days) is retried this many times in all, with exponential backoff and jitter."""


class CommitConflict(RuntimeError):
    """Concurrent writers kept winning: the message says which table and what to do."""


def _commit(table: str, write: Callable[[], None], replayable: bool = True) -> None:
    """Run one Delta commit between the fault-injection hooks; retry it when a concurrent
    commit won (a replace is idempotent: done again, it gives the same table)."""
    for hook in COMMIT_HOOKS:
        hook(table, "before")
    for attempt in range(1, COMMIT_ATTEMPTS + 1):
        try:
            write()
            break
        except CommitFailedError as exc:
            if not replayable or attempt == COMMIT_ATTEMPTS:
                raise CommitConflict(
                    f"{table}: another run kept committing the same rows ({attempt} attempts); run again "
                    "when it has finished") from exc
            time.sleep(min(8.0, 0.1 * 2 ** attempt) * (0.5 + random.random()))
    for hook in COMMIT_HOOKS:
        hook(table, "after")


def _stored(table: str, data: pa.Table) -> pa.Table:
    """`data` as it may be stored: the table's declared columns and types, every secret
    replaced (the lake is the redaction boundary: whatever a parser or a report computed,
    no secret reaches a table, hence none a report or an export)."""
    return mask_batch(conform(data, TABLES[table]))


@dataclass(frozen=True)
class Lake:
    """The Delta tables under one root: a folder or an `s3://bucket/prefix`."""

    root: str
    storage_options: dict[str, str] = field(default_factory=dict)

    def uri(self, table: str) -> str:
        return f"{self.root.rstrip('/')}/{table}"

    def _open(self, table: str) -> DeltaTable | None:
        try:
            return DeltaTable(self.uri(table), storage_options=self.storage_options or None)
        except TableNotFoundError:
            return None

    def exists(self, table: str) -> bool:
        return self._open(table) is not None

    def replace_all_if_changed(self, table: str, data: pa.Table) -> bool:
        """Replace a reference table only when its content differs (no new version, so
        nothing downstream looks stale); returns whether it wrote."""
        if self.exists(table) and _same_rows(self.read(table), _stored(table, data)):
            return False
        self.replace_all(table, data)
        return True

    def signatures(self, table: str, days: Iterable[date] | None = None) -> dict[str, str]:
        """A content signature per day partition (`{"2026-11-20": …}`), or of the whole table
        (`{"all": …}`) without `days`: the sha256 of the names of the data files that hold it.
        Delta data files are immutable and every rewrite names new ones, so a signature
        changes exactly when those rows were rewritten, whatever else happened in the table.
        Read from the Delta log alone (no data file is opened)."""
        dt = self._open(table)
        files = pa.table(dt.get_add_actions(flatten=True)) if dt is not None else None
        if days is None:
            paths = sorted(files["path"].to_pylist()) if files is not None else []
            return {"all": hashlib.sha256("\n".join(paths).encode()).hexdigest()}
        column = f"partition.{PARTITION_COLUMNS[table][0]}"
        by_day: dict[str, list[str]] = {}
        if files is not None:
            for path, day in zip(files["path"].to_pylist(), files[column].to_pylist(), strict=True):
                by_day.setdefault(day.isoformat(), []).append(path)
        keys = [day.isoformat() for day in days]
        return {key: hashlib.sha256("\n".join(sorted(by_day.get(key, []))).encode()).hexdigest() for key in keys}

    def version(self, table: str) -> int | None:
        dt = self._open(table)
        return None if dt is None else dt.version()

    def version_at(self, table: str, moment: datetime) -> int | None:
        """The table's version as it stood at `moment` (Delta time travel), or None when the
        table did not exist yet. Reads pinned to it reproduce what a report saw then, as long
        as vacuum has not removed that version's files."""
        dt = self._open(table)
        if dt is None:
            return None
        for entry in dt.history():  # newest first; small: one entry per commit
            if datetime.fromtimestamp(entry["timestamp"] / 1000, tz=UTC) <= moment:
                return int(entry["version"])
        return None

    def delete(self, table: str, predicate: str) -> int:
        """Delete the rows `predicate` selects (a new version; the files stay until vacuum).
        Only `retention.enforcement` calls this: deletions follow the retention policy."""
        dt = self._open(table)
        if dt is None:
            return 0
        return int(dt.delete(predicate).get("num_deleted_rows", 0))

    def vacuum(self, table: str, safety_hours: int) -> int:
        """Remove files no version younger than `safety_hours` needs, so deleted rows are
        physically gone; returns how many files were removed."""
        dt = self._open(table)
        if dt is None:
            return 0
        return len(dt.vacuum(retention_hours=safety_hours, dry_run=False, enforce_retention_duration=False))

    def append(self, table: str, data: pa.Table) -> None:
        """Add rows to an append-only ledger (erasure_log): history is never rewritten."""
        self._ensure(table)
        _commit(table, lambda: write_deltalake(self.uri(table), _stored(table, data), mode="append",
                                               storage_options=self.storage_options or None))

    def _ensure(self, table: str) -> None:
        """Create the table from its declared schema and partitioning on first use; a table
        written before a column was added to its declaration gains that column (null in the
        rows already there), so a lake made by an earlier release keeps working."""
        existing = self._open(table)
        declared = plain(TABLES[table])
        if existing is None:
            DeltaTable.create(self.uri(table), declared, partition_by=PARTITION_COLUMNS.get(table),
                              storage_options=self.storage_options or None)
            return
        have = set(existing.schema().to_arrow().names)
        missing = [f for f in declared if f.name not in have]
        if missing:
            existing.alter.add_columns(list(DeltaSchema.from_arrow(pa.schema(missing)).fields))

    def replace_where(
        self, table: str, data: pa.Table | pa.RecordBatchReader, predicate: str
    ) -> None:
        """Atomically replace the rows matching `predicate` with `data` (which must match it).

        A reader is streamed to the table batch by batch; it must already have the
        table's schema.
        """
        data = _stored(table, data) if isinstance(data, pa.Table) else mask_reader(data)
        self._ensure(table)
        _commit(table, lambda: write_deltalake(self.uri(table), data, mode="overwrite", predicate=predicate,
                                               storage_options=self.storage_options or None),
                replayable=isinstance(data, pa.Table))  # a stream cannot be read twice

    def replace_where_if_changed(self, table: str, data: pa.Table, predicate: str,
                                 ignore: tuple[str, ...] = ("ingested_at",)) -> bool:
        """`replace_where` for small tables, skipped when the rows the predicate selects are
        already exactly `data` (columns in `ignore` aside): an unchanged restatement adds no
        version, so nothing downstream looks changed. Returns whether it wrote."""
        if self.exists(table) and _same_rows(self.read(table, where=predicate).drop_columns(list(ignore)),
                                             _stored(table, data).drop_columns(list(ignore))):
            return False
        self.replace_where(table, data, predicate)
        return True

    def replace_all(self, table: str, data: pa.Table) -> None:
        """Replace a whole reference table (prompt history): a new version, history kept. The
        table takes the declared schema, so a column added to a reference table's declaration
        reaches a lake written before it."""
        self._ensure(table)
        _commit(table, lambda: write_deltalake(self.uri(table), _stored(table, data), mode="overwrite",
                                               schema_mode="overwrite", storage_options=self.storage_options or None))

    def scan(
        self,
        table: str,
        where: str | None = None,
        columns: Iterable[str] | None = None,
        version: int | None = None,
        limit: int | None = None,
    ) -> pa.RecordBatchReader:
        """Stream a table's rows as Arrow record batches, optionally filtered (SQL `where`).

        Reads go through delta-rs's own engine (QueryBuilder), not `to_pyarrow_dataset()`:
        the latter leaves Arrow scanner threads alive that abort the interpreter at exit
        (delta-rs #2184, apache/arrow #34314; reproduced here in 5 of 8 runs). A table never
        written yet reads as empty with its declared schema.
        """
        dt = self._open(table)
        if dt is None:
            empty = plain(TABLES[table]).empty_table()
            if columns is not None:
                empty = empty.select(list(columns))
            return pa.RecordBatchReader.from_batches(empty.schema, empty.to_batches())
        if version is not None:
            dt.load_as_version(version)
        select = ", ".join(f'"{c}"' for c in columns) if columns is not None else "*"
        sql = f"SELECT {select} FROM t" + (f" WHERE {where}" if where else "") + (f" LIMIT {int(limit)}" if limit else "")
        result = pa.RecordBatchReader.from_stream(QueryBuilder().register("t", dt).execute(sql))
        # The engine hands back its own string and timestamp flavours (string_view, …):
        # cast to the declared schema so every reader sees the same types.
        declared = TABLES[table]
        wanted = [declared.field(c) for c in columns] if columns is not None else list(declared)
        return conform_reader(result, pa.schema(wanted))

    def read(
        self,
        table: str,
        where: str | None = None,
        columns: Iterable[str] | None = None,
        version: int | None = None,
        limit: int | None = None,
    ) -> pa.Table:
        return self.scan(table, where, columns, version, limit).read_all()
