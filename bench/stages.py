"""The stages the benchmark times; each runs in its own process so its peak memory is its own."""

from __future__ import annotations

STAGES: dict[str, str] = {
    "prompt_history": """
from audit_pipeline.lake import Lake
from audit_pipeline.loads.prompts import read_prompt_history
commits, versions = read_prompt_history(f"{landing}/prompt-repo", ("prompts/**",))
Lake(lake).replace_all_if_changed("prompt_commits", commits)
Lake(lake).replace_all_if_changed("prompt_versions", versions)
""",
    "price_catalog": """
from audit_pipeline.lake import Lake
from audit_pipeline.policy import load_policy
from audit_pipeline.pricing import price_catalog
Lake(lake).replace_all_if_changed("price_catalog", price_catalog(load_policy("audit.yaml")))
""",
    "ingest_llm_calls": """
from audit_pipeline.lake import Lake
from audit_pipeline.landing import Landing
from audit_pipeline.loads.calls import load_calls
load_calls(Landing(landing), Lake(lake), day, day, now)
""",
    "billing": """
from audit_pipeline.lake import Lake
from audit_pipeline.landing import Landing
from audit_pipeline.loads.billing import load_billing
load_billing(Landing(landing), Lake(lake), day, day, now)
""",
    "output_lineage": """
from audit_pipeline.lake import Lake
from audit_pipeline.loads.lineage import build_output_lineage
build_output_lineage(Lake(lake), day, day)
""",
    "quality (GX, every table)": """
from audit_pipeline.lake import Lake
from audit_pipeline.quality.checks import check_table
from audit_pipeline.quality.suites import SUITES
for table in SUITES:  # as the assets call it: GX is imported only if a suite must run
    check_table(Lake(lake), table, [day], "bench", now)
""",
    "spend reconciliation": """
from datetime import UTC, datetime
from audit_pipeline.lake import Lake, date_range_predicate
from audit_pipeline.policy import load_policy
from audit_pipeline.spend.reconcile import reconcile
policy = load_policy("audit.yaml")
rows = reconcile(Lake(lake), day, day, policy.reconciliation, datetime.now(UTC))
Lake(lake).replace_where("spend_reconciliation", rows, date_range_predicate("usage_date", day, day))
""",
    "security findings": """
from datetime import UTC, datetime
from audit_pipeline.lake import Lake, date_range_predicate
from audit_pipeline.policy import load_policy
from audit_pipeline.spend.findings import detect
rows = detect(Lake(lake), load_policy("audit.yaml"), day, day, datetime.now(UTC))
Lake(lake).replace_where("security_findings", rows, date_range_predicate("usage_date", day, day))
""",
    "retention report": """
from datetime import UTC, datetime
from audit_pipeline.lake import Lake
from audit_pipeline.landing import Landing
from audit_pipeline.policy import load_policy, policy_sha256
from audit_pipeline.retention.catalog import model_catalog
from audit_pipeline.retention.report import ReportContext
from audit_pipeline.retention.stored import build_or_reuse
policy = load_policy("audit.yaml")
Lake(lake).replace_all_if_changed("model_catalog", model_catalog(policy))
as_of = datetime.now(UTC)  # not `now`: end to end, that is taken before the tables are written
context = ReportContext(policy, policy_sha256("audit.yaml"), "bench", as_of)
build_or_reuse(Lake(lake), Landing(lake + "-reports"), context, as_of, [day])  # as the asset calls it
""",
    "auditor export": """
from audit_pipeline.exports.build import ExportRequest, export_period
from audit_pipeline.exports.store import LocalExports
from audit_pipeline.landing import Landing
from audit_pipeline.lake import Lake
from audit_pipeline.policy import policy_sha256
request = ExportRequest(day, day, policy_sha256("audit.yaml"), 6)
export_period(Lake(lake), Landing(lake + "-reports"), LocalExports(lake + "-exports"), "bench signing key", request)
""",
    "verify export": """
from pathlib import Path
from audit_pipeline.exports.verify import verify
assert verify(Path(lake + "-exports")).intact
""",
}
"""Stage name → Python run with `landing`, `lake`, `day` and `now` defined."""

EXPORT_STAGES = ("auditor export", "verify export")
"""Monthly (or on demand), not part of the nightly pipeline: timed alone, not end to end."""

END_TO_END = "\n".join(code for name, code in STAGES.items() if name not in EXPORT_STAGES)
"""Every nightly stage in one process, in order: the pipeline without Dagster."""
