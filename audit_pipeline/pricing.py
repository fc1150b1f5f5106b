"""The dated price catalog: USD per million tokens, per provider, model snapshot and token type.

Shipped in `reference/prices.csv` (each row names its source); the sample generator bills
with it and lineage computes each call's cost with it. Prices are decimals, never floats.
"""

from __future__ import annotations

from importlib import resources

import pyarrow as pa
import pyarrow.csv as pacsv

PRICE_SCHEMA = pa.schema(
    [
        ("price_id", pa.string()),
        ("provider", pa.string()),
        ("model", pa.string()),
        ("token_type", pa.string()),
        ("usd_per_million", pa.decimal128(18, 6)),
        ("effective_from", pa.date32()),
        ("effective_to", pa.date32()),
        ("source", pa.string()),
    ]
)


def load_prices() -> pa.Table:
    """The shipped catalog as an Arrow table (typed as PRICE_SCHEMA)."""
    path = resources.files("audit_pipeline.reference") / "prices.csv"
    with resources.as_file(path) as csv_path:
        return pacsv.read_csv(
            csv_path,
            convert_options=pacsv.ConvertOptions(column_types=PRICE_SCHEMA),
        ).select(PRICE_SCHEMA.names)
