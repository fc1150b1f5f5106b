"""One spelling per provider across sources (OTel, FOCUS, logs, billing APIs)."""

from __future__ import annotations

CANONICAL = {
    "openai": "openai",
    "anthropic": "anthropic",
    "aws.bedrock": "aws_bedrock",
    "aws_bedrock": "aws_bedrock",
    "azure.ai.openai": "azure_openai",
    "az.ai.openai": "azure_openai",
    "azure_openai": "azure_openai",
    "azure.ai.inference": "azure_ai_inference",
    "gcp.vertex_ai": "gcp_vertex_ai",
    "vertex_ai": "gcp_vertex_ai",
    "gcp.gemini": "gcp_gemini",
    "gemini": "gcp_gemini",
    "gcp.gen_ai": "gcp_gen_ai",
    "x_ai": "x_ai",
    "xai": "x_ai",
    "mistral_ai": "mistral_ai",
    "cohere": "cohere",
    "deepseek": "deepseek",
    "groq": "groq",
    "perplexity": "perplexity",
    "ibm.watsonx.ai": "ibm_watsonx_ai",
}
"""OpenTelemetry `gen_ai.provider.name` values (and the deprecated `gen_ai.system` ones)
→ the provider name used in every table."""

KNOWN_PROVIDERS = frozenset(CANONICAL.values())
"""Every provider name a table may hold."""


def canonical_sql(expression: str) -> str:
    """SQL mapping `expression` to the canonical provider name (unknown names pass through)."""
    cases = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in CANONICAL.items())
    return f"CASE lower({expression}) {cases} ELSE lower({expression}) END"


def unknown_provider_sql(canonical: str) -> str:
    """SQL condition: `canonical` (an expression already mapped by `canonical_sql`) is no
    provider this pipeline knows."""
    known = ", ".join(f"'{p}'" for p in sorted(KNOWN_PROVIDERS))
    return f"NOT list_contains([{known}], {canonical})"
