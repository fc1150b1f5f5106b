"""What an auditor export holds from each table: which rows belong to a period, the order
that makes the file deterministic, and which columns are free text (exported only as their
SHA-256, so nothing typed by a person leaves the lake, yet a copy can still be matched)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pyarrow as pa

from audit_pipeline.schemas import TABLES
from audit_pipeline.tables import TABLE_SPECS, TableSpec


@dataclass(frozen=True)
class ExportedTable:
    name: str
    period_filter: str | None
    """SQL selecting the period's rows, with `{first}` / `{last}` for its first and last day;
    None: the whole table (reference tables: the prompt history as it stood)."""
    order_by: tuple[str, ...]
    """A total order for the rows (key columns; ALL where the table has no key)."""
    hashed: tuple[str, ...] = ()
    """Free-text columns replaced by `<column>_sha256`."""
    day_column: str | None = None
    """The table's day partition: rows are read and sorted one day at a time, so memory is
    bounded by the largest day, not by the period (a month at 1M calls a day is 30M rows)."""

    def where(self, first: date, last: date) -> str | None:
        if self.period_filter is None:
            return None
        return self.period_filter.format(first=first.isoformat(), last=last.isoformat())

    def chunks(self, first: date, last: date) -> list[str | None]:
        """The filters to read the period with, in the file's row order: day by day for a
        day-partitioned table, else the whole period at once."""
        if self.day_column is None:
            return [self.where(first, last)]
        days = (first + timedelta(days=n) for n in range((last - first).days + 1))
        return [f"{self.day_column} = '{day.isoformat()}'" for day in days]

    @property
    def schema(self) -> pa.Schema:
        """The exported columns: the table's, each hashed column swapped for its hash in place."""
        fields = [pa.field(f"{f.name}_sha256", pa.string()) if f.name in self.hashed
                  else pa.field(f.name, _parquet_list_names(f.type)) for f in TABLES[self.name]]
        return pa.schema(fields)

    def select_sql(self) -> str:
        """The SELECT list turning the table's columns into the exported ones."""
        return ", ".join(f'sha256("{f.name}") AS "{f.name}_sha256"' if f.name in self.hashed else f'"{f.name}"'
                         for f in TABLES[self.name])


def _parquet_list_names(dtype: pa.DataType) -> pa.DataType:
    """List items named `element`, as Parquet's list type names them, so the schema a reader
    gets back from the file is exactly the one written (and fingerprinted)."""
    if pa.types.is_list(dtype):
        return pa.list_(pa.field("element", _parquet_list_names(dtype.value_type)))
    if pa.types.is_struct(dtype):
        return pa.struct([f.with_type(_parquet_list_names(f.type)) for f in dtype])
    return dtype


def _exported(spec: TableSpec) -> ExportedTable:
    rule = spec.export
    period = None
    if rule.period_column is not None:
        period = f"{rule.period_column} >= '{{first}}' AND {rule.period_column} <= '{{last}}'"
        if rule.whole_table_rows:
            period = f"({period}) OR {rule.whole_table_rows}"
    return ExportedTable(spec.name, period, rule.order_by, spec.free_text,
                         rule.period_column if rule.by_day else None)


EXPORTED_TABLES = tuple(_exported(spec) for spec in TABLE_SPECS if spec.export is not None)
"""Every table an export holds, in the manifest's order (the declarations' order)."""
