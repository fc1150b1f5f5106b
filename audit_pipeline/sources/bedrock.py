"""Amazon Bedrock billing names: usage types → model and token type.

A CUR usage type is `<REGION>-<ModelToken>-<token kind>` (docs/reference/billing-formats.md
§3.3), e.g. `USE1-Claude4.6Sonnet-input-tokens`; FOCUS exports carry the same string in
`SkuMeter` (1.2) or `x_UsageType` (1.0). The model token is mapped to the Bedrock model id
that applications log by the shipped `reference/bedrock_models.csv` (user-extendable);
an unmapped token is kept as it is, so nothing is dropped.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import pyarrow as pa
import pyarrow.csv as pacsv

USAGE_TYPE_PATTERN = (
    r"^(?:[A-Z]{2,4}[0-9]*-)?(.+?)-(?:mantle-)?"
    r"(input-tokens|output-tokens|cache-read-input-token-count|cache-write-input-token-count)"
)
TOKEN_KINDS = {
    "input-tokens": "uncached_input",
    "output-tokens": "output",
    "cache-read-input-token-count": "cache_read",
    "cache-write-input-token-count": "cache_write",
}


@cache
def model_map() -> pa.Table:
    """(usage_type_model, model_id) from the shipped catalog."""
    path = resources.files("audit_pipeline.reference") / "bedrock_models.csv"
    with resources.as_file(path) as csv_path:
        return pacsv.read_csv(csv_path).select(["usage_type_model", "model_id"])


def token_type_sql(usage_type: str) -> str:
    kind = f"regexp_extract({usage_type}, '{USAGE_TYPE_PATTERN}', 2)"
    cases = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in TOKEN_KINDS.items())
    return f"CASE {kind} {cases} ELSE 'other' END"


def model_token_sql(usage_type: str) -> str:
    return f"nullif(regexp_extract({usage_type}, '{USAGE_TYPE_PATTERN}', 1), '')"
