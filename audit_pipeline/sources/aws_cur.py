"""AWS Data Exports CUR 2.0 → Bedrock rows of `billing_usage` and `billing_costs`.

An export is read through its `Manifest.json`: the `dataFiles` it lists (Parquet or
csv.gz), never a listing of the data prefix, because AWS rewrites a month's files on every
refresh and only the manifest says which set is current. Only `AmazonBedrock` rows of
type `Usage` are this source's records; the cost is `line_item_unblended_cost` in
`line_item_currency_code`; the IAM principal is the key dimension (`api_key_id`) and the
usage account the project; resource tags are kept as JSON for attribution.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pyarrow as pa

from audit_pipeline.sources.bedrock import model_map, model_token_sql, token_type_sql
from audit_pipeline.sources.export_files import ExportFormat, missing_as_null

COLUMNS = (
    "line_item_product_code", "line_item_line_item_type", "line_item_usage_type",
    "line_item_usage_start_date", "line_item_usage_end_date", "line_item_usage_amount",
    "pricing_unit", "line_item_unblended_cost", "line_item_currency_code",
    "line_item_iam_principal", "line_item_usage_account_id", "resource_tags",
)
"""The columns this source reads; any other column of the export is ignored."""


class ManifestError(ValueError):
    pass


@dataclass(frozen=True)
class Manifest:
    billing_period: str
    execution_id: str | None
    data_files: tuple[str, ...]
    """Landing-relative paths of the current data files."""


def parse_manifest(raw: bytes, manifest_path: str) -> Manifest:
    """Read a CUR 2.0 manifest; data file URIs are mapped below the export's landing folder."""
    try:
        document = json.loads(raw)
        uris = document["dataFiles"]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as exc:
        raise ManifestError(f"{manifest_path}: not a CUR 2.0 manifest with dataFiles: {exc}") from exc
    if not isinstance(uris, list) or not all(isinstance(uri, str) for uri in uris):
        raise ManifestError(f"{manifest_path}: field dataFiles: expected a list of S3 URIs")
    export_root, _, rest = manifest_path.partition("/metadata/")
    period = rest.split("/")[0].removeprefix("BILLING_PERIOD=") if rest else ""
    files = []
    for uri in uris:
        if "/data/" not in uri:
            raise ManifestError(f"{manifest_path}: dataFiles entry {uri!r} is not under data/")
        files.append(f"{export_root}/data/{uri.split('/data/', 1)[1]}")
    return Manifest(period, document.get("executionId"), tuple(files))


def _tags_sql(batch: pa.RecordBatch) -> str:
    if "resource_tags" not in batch.schema.names:
        return "NULL"
    if pa.types.is_map(batch.schema.field("resource_tags").type):
        return "CAST(to_json(resource_tags) AS VARCHAR)"
    return "nullif(resource_tags, '')"


def _scoped_sql(batch: pa.RecordBatch) -> str:
    return f"""
        SELECT try_cast(line_item_usage_start_date AS TIMESTAMPTZ) AS start_ts,
               try_cast(line_item_usage_end_date AS TIMESTAMPTZ) AS end_ts,
               'aws_bedrock' AS provider,
               line_item_usage_type AS line_item,
               {model_token_sql("line_item_usage_type")} AS model_token,
               {token_type_sql("line_item_usage_type")} AS token_type,
               try_cast(line_item_usage_amount AS DOUBLE) * CASE lower(coalesce(pricing_unit, ''))
                   WHEN '1k tokens' THEN 1000 WHEN '1000 tokens' THEN 1000
                   WHEN '1m tokens' THEN 1000000 ELSE 1 END AS tokens,
               try_cast(line_item_usage_amount AS DOUBLE) AS quantity, pricing_unit AS quantity_unit,
               true AS is_tokens,
               try_cast(CAST(line_item_unblended_cost AS VARCHAR) AS DECIMAL(38, 12)) AS cost,
               CAST(line_item_usage_start_date AS VARCHAR) AS raw_start,
               CAST(line_item_unblended_cost AS VARCHAR) AS raw_cost, _row_no,
               upper(coalesce(line_item_currency_code, 'USD')) AS currency,
               line_item_iam_principal AS api_key_id, line_item_usage_account_id AS project_id,
               {_tags_sql(batch)} AS tags,
               CASE WHEN coalesce(line_item_product_code, '') <> 'AmazonBedrock' THEN 'not_llm_service'
                    WHEN coalesce(line_item_line_item_type, '') <> 'Usage' THEN 'not_a_usage_line' END AS out_of_scope
        FROM {missing_as_null(batch, COLUMNS)}
    """


CUR_FORMAT = ExportFormat(COLUMNS, _scoped_sql, start_field="line_item_usage_start_date",
                          cost_field="line_item_unblended_cost", model_names=model_map)
