"""What the Dagster UI shows of a table asset besides its runs: its columns with their meanings
(from the table declarations in `tables.py`), where its Delta table lives, and links to the
reports it writes."""

from __future__ import annotations

import dagster as dg

from audit_pipeline.schemas import meaning
from audit_pipeline.settings import load_settings
from audit_pipeline.tables import SPECS


def table_metadata(table: str) -> dict:
    """Definition metadata of the asset that writes `table`."""
    spec = SPECS[table]
    columns = [dg.TableColumn(f.name, str(f.type), description=meaning(f)) for f in spec.schema]
    return {
        "dagster/column_schema": dg.TableSchema(columns=columns),
        "dagster/table_name": f"audit_lake.{table}",
        "dagster/storage_kind": "delta",
        "dagster/uri": f"{load_settings().lake}/{table}",
    }


def report_link(root: str, path: str) -> dg.MetadataValue:
    """A report file as the UI links it: a path on this machine, or the object's URL on S3."""
    location = f"{root.rstrip('/')}/{path}"
    return dg.MetadataValue.url(location) if "://" in location else dg.MetadataValue.path(location)
