"""The sample organisation: its AI systems, keys, models and prompts.

Identifiers follow each provider's documented formats (docs/reference/billing-formats.md §1.8,
§2.4) so the sample exercises the same parsing paths as real exports.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Model:
    request: str
    """The name the application asked for (often an alias)."""
    snapshot: str
    """The dated snapshot the provider served and billed."""
    share: float


@dataclass(frozen=True)
class AISystem:
    name: str
    provider: str
    share: float
    """Fraction of all calls."""
    prompt_slots: tuple[tuple[str, ...], ...]
    """Each slot is one logical prompt: its ids in rename order."""
    models: tuple[Model, ...]
    api_keys: tuple[str, ...]
    project_id: str | None
    workspace_id: str | None
    log_format: str
    """`jsonl`, `jsonl.gz` or `otlp`."""


OPENAI_PROJECT = "proj_4BhNtYH0z7dWbBtzhibxa65W"
SEARCH_PROJECT = "proj_Q2hGk7VbLw9sTe3RmXyZa1Cd"
BEDROCK_PRINCIPAL = "arn:aws:iam::123456789012:role/DocSummarizerRole"
AWS_ACCOUNT = "123456789012"
AZURE_SUBSCRIPTION = "6f1c2a7e-3b4d-4e5f-8a9b-0c1d2e3f4a5b"
"""Azure bills per subscription (FOCUS SubAccountId); there is no key dimension."""

SYSTEMS: tuple[AISystem, ...] = (
    AISystem(
        name="support-assistant", provider="openai", share=0.40,
        prompt_slots=(("support/triage",), ("support/answer", "support/reply")),
        models=(Model("gpt-4o-mini", "gpt-4o-mini-2024-07-18", 0.8),
                Model("gpt-4o", "gpt-4o-2024-08-06", 0.2)),
        api_keys=("key_OYRZfEkH5R9CNgtY", "key_Hs8dPq2LmN4vX7aB"),
        project_id=OPENAI_PROJECT, workspace_id=None, log_format="jsonl",
    ),
    AISystem(
        name="cv-screener", provider="anthropic", share=0.2,
        prompt_slots=(("hr/cv_screen",), ("hr/cv_summary",)),
        models=(Model("claude-sonnet-4-5", "claude-sonnet-4-5-20250929", 0.7),
                Model("claude-haiku-4-5", "claude-haiku-4-5-20251001", 0.3)),
        api_keys=("apikey_01Rj2N8SVvo6BePZj99NhmiT",),
        project_id=None, workspace_id=None, log_format="jsonl.gz",  # default workspace: null id
    ),
    AISystem(
        name="doc-summarizer", provider="aws_bedrock", share=0.2,
        prompt_slots=(("docs/summarize",),),
        models=(Model("us.anthropic.claude-sonnet-4-20250514-v1:0",
                      "anthropic.claude-sonnet-4-20250514-v1:0", 1.0),),
        api_keys=(BEDROCK_PRINCIPAL,),
        project_id=AWS_ACCOUNT, workspace_id=None, log_format="jsonl",
    ),
    AISystem(
        name="search-api", provider="openai", share=0.15,
        prompt_slots=(("search/rewrite",),),
        models=(Model("gpt-4o-mini", "gpt-4o-mini-2024-07-18", 1.0),),
        api_keys=("key_Tq3WvB6nYc8dKe1F",),
        project_id=SEARCH_PROJECT, workspace_id=None, log_format="otlp",
    ),
    AISystem(
        name="policy-chat", provider="azure_openai", share=0.05,
        prompt_slots=(("support/triage",),),
        models=(Model("gpt-4o-mini", "gpt-4o-mini-2024-07-18", 1.0),),
        api_keys=("aoai-policy-chat",),
        project_id=AZURE_SUBSCRIPTION, workspace_id=None, log_format="jsonl",
    ),
)

LEAKED_OPENAI_KEY = "key_ZxLk9QwErTy5UiOp"
"""Spends on the sample's OpenAI project but no application logs it (injected anomaly)."""
UNREQUESTED_MODEL = "o3-2025-04-16"
"""Billed on a known key although no application requested it (injected anomaly)."""

RETIRED_MODEL = Model("gpt-3.5-turbo", "gpt-3.5-turbo-0125", 0.0)
"""Shut down by OpenAI on 2026-10-23 (reference/model_catalog.csv), still called by a fallback
path of the first system on the sample's last days (injected anomaly)."""

BEDROCK_USAGE_TYPES = {
    "anthropic.claude-sonnet-4-20250514-v1:0": "USE1-Claude4Sonnet",
}
"""Bedrock billing names a model by a usage-type token, not by its model id."""
