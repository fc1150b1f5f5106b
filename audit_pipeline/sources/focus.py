"""FOCUS 1.0–1.2 cost and usage exports (CSV, csv.gz, Parquet) from any provider.

`billing_costs` is FOCUS-aligned, so the mapping is direct: ChargePeriodStart/End,
BilledCost (exact decimal), BillingCurrency, SubAccountId (project), Tags. What FOCUS does
not name is derived: the provider from ServiceName / ProviderName (1.0–1.2) or
ServiceProviderName (1.3); the model and token type from the Bedrock usage type in
SkuMeter (1.2) or x_UsageType (1.0), else from the meter or charge description
(`gpt-4o-mini-2024-07-18 Input Tokens`). Rows whose ConsumedUnit is a token unit also give
`billing_usage` rows. Columns of other versions or providers are ignored.
"""

from __future__ import annotations

import pyarrow as pa

from audit_pipeline.sources.bedrock import model_map, model_token_sql, token_type_sql
from audit_pipeline.sources.export_files import ExportFormat, missing_as_null

COLUMNS = (
    "BilledCost", "BillingCurrency", "ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory",
    "ChargeDescription", "ProviderName", "ServiceProviderName", "PublisherName", "ServiceName",
    "SubAccountId", "SkuMeter", "x_UsageType", "ConsumedQuantity", "ConsumedUnit", "Tags",
    "ResourceId", "ServiceCategory",
)

MODEL_FAMILIES = ("gpt-", "chatgpt-", "o1", "o3", "o4", "claude-", "gemini-", "text-embedding-", "llama", "mistral",
                  "mixtral", "codestral", "command", "titan", "nova", "dall-e", "whisper", "tts-", "deepseek",
                  "phi-", "jamba", "embed-")
"""How the model names in meters and descriptions begin: a first word that begins otherwise
(`usd`, `tables`, `0.0`) is no model."""


_METER = "coalesce(nullif(SkuMeter, ''), nullif(x_UsageType, ''), ChargeDescription)"
_FIRST_WORD = f"lower(regexp_extract({_METER}, '^([A-Za-z0-9][A-Za-z0-9.:-]*[A-Za-z0-9])\\s', 1))"
_FAMILY = "^(" + "|".join(m.replace(".", "\\.") for m in MODEL_FAMILIES) + ")"
_DESCRIBED_MODEL = f"CASE WHEN regexp_matches({_FIRST_WORD}, '{_FAMILY}') THEN {_FIRST_WORD} END"
_IN_SCOPE = """(ServiceCategory = 'AI and Machine Learning'
    OR regexp_matches(coalesce(ServiceName, ''), '(?i)bedrock|openai|vertex ai|gemini|anthropic|claude|ai foundry'))"""
_DESCRIBED_TOKEN_TYPE = f"""CASE
    WHEN {_METER} ILIKE '%cached%' OR {_METER} ILIKE '%cache read%' THEN 'cache_read'
    WHEN {_METER} ILIKE '%cache write%' THEN 'cache_write'
    WHEN {_METER} ILIKE '%output%' OR {_METER} ILIKE '% outp%' THEN 'output'
    WHEN {_METER} ILIKE '%input%' OR {_METER} ILIKE '% inp%' THEN 'uncached_input'
    ELSE 'other' END"""
_PROVIDER = """CASE
    WHEN ServiceName ILIKE '%bedrock%' THEN 'aws_bedrock'
    WHEN ServiceName ILIKE '%openai%' AND coalesce(ServiceProviderName, ProviderName, '') ILIKE '%microsoft%'
        THEN 'azure_openai'
    WHEN ServiceName ILIKE '%vertex%' THEN 'gcp_vertex_ai'
    ELSE lower(coalesce(nullif(ServiceProviderName, ''), nullif(ProviderName, ''), PublisherName)) END"""


def _scoped_sql(batch: pa.RecordBatch) -> str:
    return f"""
        SELECT try_cast(ChargePeriodStart AS TIMESTAMPTZ) AS start_ts,
               try_cast(ChargePeriodEnd AS TIMESTAMPTZ) AS end_ts,
               {_PROVIDER} AS provider,
               try_cast(CAST(BilledCost AS VARCHAR) AS DECIMAL(38, 12)) AS cost,
               CAST(ChargePeriodStart AS VARCHAR) AS raw_start, CAST(BilledCost AS VARCHAR) AS raw_cost,
               _row_no,
               upper(BillingCurrency) AS currency,
               CASE WHEN {model_token_sql(_METER)} IS NOT NULL THEN {model_token_sql(_METER)}
                    ELSE {_DESCRIBED_MODEL} END AS model_token,
               CASE WHEN {model_token_sql(_METER)} IS NOT NULL THEN {token_type_sql(_METER)}
                    ELSE {_DESCRIBED_TOKEN_TYPE} END AS token_type,
               NULL AS api_key_id, SubAccountId AS project_id, {_METER} AS line_item,
               try_cast(ConsumedQuantity AS DOUBLE) AS quantity, ConsumedUnit AS quantity_unit,
               try_cast(ConsumedQuantity AS DOUBLE) * CASE
                   WHEN ConsumedUnit ILIKE '1k tokens' OR ConsumedUnit ILIKE '1000 tokens' THEN 1000
                   WHEN ConsumedUnit ILIKE '1m tokens' THEN 1000000 ELSE 1 END AS tokens,
               ConsumedUnit ILIKE '%token%' AS is_tokens,
               CAST(Tags AS VARCHAR) AS tags,
               CASE WHEN NOT {_IN_SCOPE} THEN 'not_llm_service' END AS out_of_scope
        FROM {missing_as_null(batch, COLUMNS)}
    """


FOCUS_FORMAT = ExportFormat(COLUMNS, _scoped_sql, start_field="ChargePeriodStart", cost_field="BilledCost",
                            model_names=model_map)  # AWS's FOCUS export names Bedrock models by usage type
