"""The dated price catalog: USD per million tokens, per provider, model snapshot and token type.

Shipped in `reference/prices.csv` (each row names its source) and extended or corrected by
`prices:` in audit.yaml; the merged catalog is the `price_catalog` table, from which lineage
and the spend reconciliation price calls. The sample generator bills with the shipped file.
Prices are decimals, never floats.
"""

from __future__ import annotations

from importlib import resources
from itertools import pairwise

import pyarrow as pa
import pyarrow.csv as pacsv

from audit_pipeline.lake import Lake
from audit_pipeline.policy import Policy
from audit_pipeline.schemas import PRICE_CATALOG

PRICE_SCHEMA = PRICE_CATALOG
"""The `price_catalog` table's schema (schemas.py), also the shipped file's columns."""


USER_PRICE = "user-"
"""The price_id prefix of prices from audit.yaml."""


def load_prices() -> pa.Table:
    """The shipped catalog as an Arrow table (typed as PRICE_SCHEMA)."""
    path = resources.files("audit_pipeline.reference") / "prices.csv"
    with resources.as_file(path) as csv_path:
        return pacsv.read_csv(
            csv_path,
            convert_options=pacsv.ConvertOptions(column_types=PRICE_SCHEMA),
        ).select(PRICE_SCHEMA.names)


def price_catalog(policy: Policy) -> pa.Table:
    """The shipped catalog with the policy's `prices:` applied (typed as PRICE_SCHEMA).

    An entry replaces a shipped price with the same provider, model, token type and start;
    then each price ends where the next one of its (provider, model, token type) starts, so
    a call is never priced twice.
    """
    entries = {(e.provider, e.model, e.token_type, e.effective_from): e for e in policy.prices}
    rows = [r for r in load_prices().to_pylist()
            if (r["provider"], r["model"], r["token_type"], r["effective_from"]) not in entries]
    rows += [{"price_id": f"{USER_PRICE}{e.provider}-{e.model}-{e.token_type}-{e.effective_from}", "provider": e.provider,
              "model": e.model, "token_type": e.token_type, "usd_per_million": e.usd_per_million,
              "effective_from": e.effective_from, "effective_to": e.effective_to,
              "source": e.source or "audit.yaml"} for e in entries.values()]
    rows.sort(key=lambda r: (r["provider"], r["model"], r["token_type"], r["effective_from"]))
    for current, following in pairwise(rows):
        same = all(current[k] == following[k] for k in ("provider", "model", "token_type"))
        if same and (current["effective_to"] is None or current["effective_to"] > following["effective_from"]):
            current["effective_to"] = following["effective_from"]
    return pa.Table.from_pylist(rows, schema=PRICE_SCHEMA)


def store_price_catalog(lake: Lake, policy: Policy) -> tuple[pa.Table, bool]:
    """The `price_catalog` asset's work: the catalog, and whether it changed (and was written)."""
    catalog = price_catalog(policy)
    return catalog, lake.replace_all_if_changed("price_catalog", catalog)
