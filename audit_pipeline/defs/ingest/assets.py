"""Bronze-to-silver ingestion: application call logs and provider billing, per UTC day."""


from datetime import UTC, datetime

import dagster as dg

from audit_pipeline.defs.ingest.results import conservation_spec, load_result
from audit_pipeline.defs.partitions import daily_partitions, run_days, single_run
from audit_pipeline.defs.resources import AuditStorage
from audit_pipeline.loads.app_logs import load_app_logs
from audit_pipeline.loads.billing import OPENAI_COSTS, OPENAI_USAGE, PageSource, load_pages
from audit_pipeline.reports.markdown import preview

OWNERS = ["team:llm-platform"]
COMMON = {
    "group_name": "ingest",
    "partitions_def": daily_partitions,
    "backfill_policy": single_run,
    "owners": OWNERS,
}


@dg.asset(
    **COMMON,
    kinds={"delta", "python"},
    check_specs=[conservation_spec("llm_calls")],
    description="One row per application LLM call (JSON-lines logs), validated and de-duplicated "
    "on event_id; rejected lines go to `quarantine`, per-file counts to `ingest_log`.",
)
def llm_calls(context: dg.AssetExecutionContext, storage: AuditStorage) -> dg.MaterializeResult:
    first, last = run_days(context)
    lake, now = storage.lake(), datetime.now(UTC)
    report = load_app_logs(storage.landing(), lake, first, last, context.run.run_id, now)
    report.write(lake, context.run.run_id, now)
    sample = lake.read("llm_calls", where=f"event_date = '{last.isoformat()}'")
    return load_result(report, {
        "dagster/row_count": report.total("rows_accepted"),
        "preview": dg.MetadataValue.md(preview(
            sample, ["event_id", "timestamp", "ai_system", "provider", "response_model", "prompt_id"])),
    })


def _billing_asset(name: str, source: PageSource, description: str) -> dg.AssetsDefinition:
    @dg.asset(
        name=name,
        **COMMON,
        kinds={"delta", "python"},
        check_specs=[conservation_spec(name)],
        description=description,
    )
    def _asset(context: dg.AssetExecutionContext, storage: AuditStorage) -> dg.MaterializeResult:
        first, last = run_days(context)
        lake, now = storage.lake(), datetime.now(UTC)
        report = load_pages(source, storage.landing(), lake, first, last, now)
        report.write(lake, context.run.run_id, now)
        return load_result(report, {"dagster/row_count": report.total("rows_accepted")})

    return _asset


billing_usage = _billing_asset(
    "billing_usage", OPENAI_USAGE,
    "Billed token usage per day × provider × key × project × model, normalised to uncached "
    "input / cache read / cache write / output (provider Usage APIs).",
)
billing_costs = _billing_asset(
    "billing_costs", OPENAI_COSTS,
    "Billed cost per day and line item in decimal currency units, FOCUS-aligned "
    "(provider Costs APIs); the latest pull of a restated day wins.",
)
