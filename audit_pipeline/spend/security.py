"""The `security_findings` asset's work: findings for a range of days and the spend page of
its last day, rebuilt only when what they are built from changed (`freshness`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pyarrow as pa

from audit_pipeline.freshness import Recipe, code_version, rebuild_days_if_stale
from audit_pipeline.lake import Lake
from audit_pipeline.landing import Landing
from audit_pipeline.policy import Policy
from audit_pipeline.spend.findings import detect
from audit_pipeline.spend.page import publish_spend_page, spend_page_path


@dataclass(frozen=True)
class Found:
    rows: pa.Table
    """The findings of the run's days, as stored."""
    page: str
    """The spend page of the last day (a path in the report folder)."""
    rebuilt: bool


def _fingerprints(lake: Lake, policy: Policy, days: list[date]) -> dict[str, str]:
    """Findings of a day read the reconciliation of the 28 days before it, every call logged
    up to it (the models each account ever used), the acknowledgements and business hours of
    the policy, and the code of the rules and of the page."""
    recipe = Recipe("security_findings", code_version(__name__), {
        "spend_reconciliation": lake.signatures("spend_reconciliation")["all"],
        "llm_calls": lake.signatures("llm_calls")["all"],
        "policy": policy.model_dump_json(include={"reconciliation", "acknowledged_findings"})})
    return {day.isoformat(): recipe.fingerprint() for day in days}


def find_and_publish(lake: Lake, folder: Landing, policy: Policy, first: date, last: date, run_id: str,
                     built_at: datetime) -> Found:
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    fingerprints = _fingerprints(lake, policy, days)
    page = spend_page_path(last)
    rows, rebuilt = rebuild_days_if_stale(lake, "security_findings", "usage_date", fingerprints,
                                          lambda: detect(lake, policy, first, last, built_at), run_id, built_at)
    if rebuilt or page not in {f.path for f in folder.list("spend", (".html",))}:
        publish_spend_page(lake, folder, last)
    return Found(rows, page, rebuilt)
