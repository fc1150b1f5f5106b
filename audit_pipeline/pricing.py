"""The dated price catalog: USD per million tokens, per provider, model snapshot, token type,
service tier, prompt-length band and inference geography.

Shipped in `reference/prices.csv` (each row names its source) and extended or corrected by
`prices:` in audit.yaml; the merged catalog is the `price_catalog` table, from which lineage
and the spend reconciliation price calls. The sample generator bills with the shipped file.
Prices are decimals, never floats.

A call is priced by the most specific row that applies to it: the row's tier (empty: every
tier), band (`reference/context_bands.csv`, by the call's input tokens; empty: every band) and
geography (empty: anywhere) must each match, and a row naming more of them wins. A call that
does not log its tier is priced at `standard`. `web_search` is priced per search.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from itertools import pairwise

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv

from audit_pipeline.lake import Lake
from audit_pipeline.policy import Policy
from audit_pipeline.schemas import PRICE_CATALOG

PRICE_SCHEMA = PRICE_CATALOG
"""The `price_catalog` table's schema (schemas.py), also the shipped file's columns."""

BAND_SCHEMA = pa.schema([("provider", pa.string()), ("context_window", pa.string()),
                         ("above_input_tokens", pa.int64()), ("up_to_input_tokens", pa.int64()),
                         ("source", pa.string())])
"""`reference/context_bands.csv`: the prompt-length bands a provider prices by."""

USER_PRICE = "user-"
"""The price_id prefix of prices from audit.yaml."""

PRICE_KEY = ("provider", "model", "token_type", "price_tier", "context_window", "inference_geo")
"""What one price is for; prices with the same key follow each other in time."""

PRICING_MACROS = """
-- the tier a bill line or a logged call is priced at; null when neither says (unknown)
CREATE OR REPLACE MACRO price_tier(service_tier, batch) AS CASE
    WHEN batch OR lower(service_tier) = 'batch' THEN 'batch'
    WHEN lower(service_tier) IN ('flex', 'flex_discount') THEN 'flex'
    WHEN lower(service_tier) IN ('priority', 'priority_on_demand') THEN 'priority'
    WHEN service_tier IS NOT NULL OR batch IS NOT NULL THEN 'standard'  -- default, auto, scale, standard
END;
-- the prompt-length band of a call with this many input tokens (null: the provider has none)
CREATE OR REPLACE MACRO context_band(call_provider, tokens) AS (
    SELECT any_value(b.context_window) FROM bands b
    WHERE b.provider = call_provider AND tokens > b.above_input_tokens AND tokens <= b.up_to_input_tokens
);
-- whether a catalog row (its tier, band, geography) applies to a call's, and how specific it is
CREATE OR REPLACE MACRO price_applies(p_tier, p_band, p_geo, tier, band, geo) AS
    (p_tier IS NULL OR p_tier = coalesce(tier, 'standard'))
    AND (p_band IS NULL OR p_band = band) AND (p_geo IS NULL OR p_geo = geo);
CREATE OR REPLACE MACRO price_specificity(p_tier, p_band, p_geo) AS
    (p_tier IS NOT NULL)::INT + (p_band IS NOT NULL)::INT + (p_geo IS NOT NULL)::INT;
"""
"""The pricing rules as DuckDB macros, shared by lineage and the reconciliation (`register`)."""


def _reference_csv(name: str, schema: pa.Schema) -> pa.Table:
    path = resources.files("audit_pipeline.reference") / name
    with resources.as_file(path) as csv_path:
        return pacsv.read_csv(
            csv_path,
            convert_options=pacsv.ConvertOptions(column_types=schema, strings_can_be_null=True),
        ).select(schema.names)


def load_prices() -> pa.Table:
    """The shipped catalog as an Arrow table (typed as PRICE_SCHEMA)."""
    return _reference_csv("prices.csv", PRICE_SCHEMA)


def load_bands() -> pa.Table:
    """The shipped prompt-length bands (typed as BAND_SCHEMA)."""
    return _reference_csv("context_bands.csv", BAND_SCHEMA)


def bands_fingerprint() -> str:
    """The sha256 of the shipped bands: a result priced with them is stale when they change."""
    return hashlib.sha256((resources.files("audit_pipeline.reference") / "context_bands.csv").read_bytes()).hexdigest()


def register(con: duckdb.DuckDBPyConnection, lake: Lake) -> None:
    """Make the catalog (`prices`), the bands (`bands`) and the pricing macros available to
    the SQL run on `con`."""
    con.register("prices", lake.read("price_catalog") if lake.exists("price_catalog") else load_prices())
    con.register("bands", load_bands())
    con.execute(PRICING_MACROS)


def _user_price_id(entry) -> str:
    """`user-<provider>-<model>-<token type>[-<tier>][-<band>][-<geo>]-<effective_from>`; a
    standard tier is not named."""
    named = {k: getattr(entry, k) for k in PRICE_KEY}
    if named["price_tier"] == "standard":
        named["price_tier"] = None
    return USER_PRICE + "-".join([*(v for v in named.values() if v is not None), str(entry.effective_from)])


def price_catalog(policy: Policy) -> pa.Table:
    """The shipped catalog with the policy's `prices:` applied (typed as PRICE_SCHEMA).

    An entry replaces a shipped price with the same key (PRICE_KEY) and start; then each price
    ends where the next one of its key starts, so a call is never priced twice.
    """
    entries = {(*(getattr(e, k) for k in PRICE_KEY), e.effective_from): e for e in policy.prices}
    rows = [r for r in load_prices().to_pylist() if (*(r[k] for k in PRICE_KEY), r["effective_from"]) not in entries]
    rows += [{"price_id": _user_price_id(e), **{k: getattr(e, k) for k in PRICE_KEY}, "usd_per_million": e.usd_per_million,
              "effective_from": e.effective_from, "effective_to": e.effective_to,
              "source": e.source or "audit.yaml"} for e in entries.values()]
    rows.sort(key=lambda r: (*(r[k] or "" for k in PRICE_KEY), r["effective_from"]))
    for current, following in pairwise(rows):
        same = all(current[k] == following[k] for k in PRICE_KEY)
        if same and (current["effective_to"] is None or current["effective_to"] > following["effective_from"]):
            current["effective_to"] = following["effective_from"]
    return pa.Table.from_pylist(rows, schema=PRICE_SCHEMA)


def store_price_catalog(lake: Lake, policy: Policy) -> tuple[pa.Table, bool]:
    """The `price_catalog` asset's work: the catalog, and whether it changed (and was written)."""
    catalog = price_catalog(policy)
    return catalog, lake.replace_all_if_changed("price_catalog", catalog)
