"""The model lifecycle catalog: when each provider deprecates and retires a snapshot.

Shipped in `reference/model_catalog.csv` (each row names its source; an empty date means no
date was announced when the catalog was compiled) and corrected or extended by the user in
`audit.yaml` under `model_catalog`, whose rows replace shipped rows for the same provider
and snapshot. The model inventory (Annex IV 1(c), a ten-year documentation record) flags
snapshots in use near or after retirement from it.
"""

from __future__ import annotations

from importlib import resources

import pyarrow as pa
import pyarrow.csv as pacsv

from audit_pipeline.lake import Lake
from audit_pipeline.policy import Policy
from audit_pipeline.schemas import MODEL_CATALOG

SHIPPED, USER = "shipped", "audit.yaml"


def shipped_catalog() -> pa.Table:
    path = resources.files("audit_pipeline.reference") / "model_catalog.csv"
    file_schema = pa.schema([f for f in MODEL_CATALOG if f.name != "origin"])
    options = pacsv.ConvertOptions(column_types=file_schema, strings_can_be_null=True)  # empty cell: no date
    with resources.as_file(path) as csv_path:
        table = pacsv.read_csv(csv_path, convert_options=options)
    return table.select(file_schema.names).append_column("origin", pa.array([SHIPPED] * table.num_rows))


def model_catalog(policy: Policy) -> pa.Table:
    """The shipped catalog with the policy's entries applied, sorted by provider and snapshot."""
    overridden = {(e.provider, e.snapshot) for e in policy.model_catalog}
    shipped = [row for row in shipped_catalog().to_pylist() if (row["provider"], row["snapshot"]) not in overridden]
    user = [{"provider": e.provider, "snapshot": e.snapshot, "deprecated_on": e.deprecated_on,
             "retires_on": e.retires_on, "replacement": e.replacement, "source": e.source, "origin": USER}
            for e in policy.model_catalog]
    rows = sorted(shipped + user, key=lambda r: (r["provider"], r["snapshot"]))
    return pa.Table.from_pylist(rows, schema=MODEL_CATALOG)


def store_model_catalog(lake: Lake, policy: Policy) -> tuple[pa.Table, bool]:
    """The `model_catalog` asset's work: the catalog, and whether it changed (and was written)."""
    catalog = model_catalog(policy)
    return catalog, lake.replace_all_if_changed("model_catalog", catalog)
