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
    # OpenInference (llm.system / llm.provider)
    "mistralai": "mistral_ai", "vertexai": "gcp_vertex_ai", "google": "gcp_vertex_ai", "aws": "aws_bedrock",
    "azure": "azure_openai",
    # Vercel AI SDK provider ids without an API suffix
    "amazon-bedrock": "aws_bedrock", "bedrock": "aws_bedrock", "mistral": "mistral_ai",
    "google.generative-ai": "gcp_gemini", "google.vertex": "gcp_vertex_ai",
}
"""OpenTelemetry `gen_ai.provider.name` values (and the deprecated `gen_ai.system` ones),
OpenInference `llm.provider` / `llm.system` values and the Vercel AI SDK's provider ids
→ the provider name used in every table."""

VENDOR_PREFIXES = {
    "openai": "openai", "anthropic": "anthropic", "azure-openai": "azure_openai", "azure": "azure_openai",
    "amazon-bedrock": "aws_bedrock", "bedrock": "aws_bedrock", "google.generative-ai": "gcp_gemini",
    "google.generativeai": "gcp_gemini", "google.vertex": "gcp_vertex_ai", "mistral": "mistral_ai", "groq": "groq",
    "xai": "x_ai", "deepseek": "deepseek", "cohere": "cohere", "perplexity": "perplexity",
}
"""The Vercel AI SDK names a provider `<vendor>.<api>` (`openai.chat`, `openai.responses`,
`anthropic.messages`, `google.generative-ai`, `google.vertex.chat`): the vendor part, longest
first, gives the provider; the API part is how it was called, not who bills it."""

KNOWN_PROVIDERS = frozenset(CANONICAL.values())
"""Every provider name a table may hold."""


def canonical_sql(expression: str) -> str:
    """SQL mapping `expression` to the canonical provider name: an exact name, else a Vercel
    `<vendor>.<api>` id by its vendor; unknown names pass through (and are quarantined)."""
    name = f"lower({expression})"
    exact = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in CANONICAL.items())
    vendors = " ".join(f"WHEN starts_with({name}, '{k}.') THEN '{v}'"
                       for k, v in sorted(VENDOR_PREFIXES.items(), key=lambda kv: -len(kv[0])))
    # The exact names as a simple CASE (one evaluation per row); the vendor rule only for the rest.
    return f"CASE {name} {exact} ELSE CASE {vendors} ELSE {name} END END"


def unknown_provider_sql(canonical: str) -> str:
    """SQL condition: `canonical` (an expression already mapped by `canonical_sql`) is no
    provider this pipeline knows."""
    known = ", ".join(f"'{p}'" for p in sorted(KNOWN_PROVIDERS))
    return f"NOT list_contains([{known}], {canonical})"
