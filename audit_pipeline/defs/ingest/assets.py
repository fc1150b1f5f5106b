"""Ingestion: model-call records and provider billing, per UTC day, from every source."""

from datetime import UTC, datetime

import dagster as dg

from audit_pipeline.admin_api import PullError
from audit_pipeline.defs.ingest.results import (
    conservation_spec,
    fail_on_unreadable_files,
    load_result,
    log_failed_files,
)
from audit_pipeline.defs.partitions import (
    daily_partitions,
    first_partition_day,
    run_day_list,
    run_days,
    single_run,
)
from audit_pipeline.defs.quality import quality_results, quality_specs
from audit_pipeline.defs.redacted import redacted
from audit_pipeline.defs.resources import AdminApis, AuditStorage
from audit_pipeline.defs.sharding import SHARDED, SHARDS
from audit_pipeline.defs.tables import table_metadata
from audit_pipeline.lake import date_range_predicate
from audit_pipeline.loads.billing import load_billing
from audit_pipeline.loads.call_shards import commit_shards
from audit_pipeline.loads.calls import load_calls, stored_versus_logged
from audit_pipeline.loads.staging import shard_step
from audit_pipeline.redaction import redact
from audit_pipeline.reports.markdown import preview
from audit_pipeline.settings import load_settings
from audit_pipeline.sources import registry

OWNERS = ["team:llm-platform"]


@dg.asset(
    group_name="ingest",
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    owners=OWNERS,
    kinds={"delta", "python"},
    deps=[shard_step("llm_calls", s) for s in SHARDS] if SHARDED else [],
    check_specs=[conservation_spec("llm_calls"), *quality_specs("llm_calls")],
    metadata=table_metadata("llm_calls"),
    description="One row per LLM call, from application JSON-lines logs and OpenTelemetry "
    "GenAI spans, validated and de-duplicated on event_id; rejected records go to "
    "`quarantine`, per-file counts to `ingest_log`. With AUDIT_SHARDS above 1 the shards' "
    "steps stage the files and this step de-duplicates and commits them together.",
)
@redacted
def llm_calls(context: dg.AssetExecutionContext, storage: AuditStorage):
    first, last = run_days(context)
    lake, now = storage.lake(), datetime.now(UTC)
    if SHARDED:
        reports = commit_shards(storage.landing(), lake, storage.staging(), first, last, now, len(SHARDS),
                                context.run.run_id)
    else:
        reports = load_calls(storage.landing(), lake, first, last, now, context.run.run_id,
                             start_day=first_partition_day(), max_file_bytes=load_settings().max_file_bytes)
    log_failed_files(context, reports)
    shown = ["event_id", "timestamp", "ai_system", "provider", "response_model", "prompt_id"]
    sample = lake.read("llm_calls", where=date_range_predicate("event_date", last, last), columns=shown, limit=5)
    days = run_day_list(context)
    metadata = {
        "dagster/row_count": sum(r.total("rows_accepted") for r in reports),
        "preview": dg.MetadataValue.md(preview(sample, shown)),
    }
    quality = quality_results(lake, "llm_calls", days, context.run.run_id)
    yield load_result("llm_calls", reports, metadata, quality=quality.results,
                      stored_mismatches=stored_versus_logged(lake, days))
    yield from quality.per_day
    fail_on_unreadable_files(reports, load_settings().skip_unreadable_files)


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "billing_usage", group_name="ingest", owners=OWNERS, kinds={"delta", "python"},
            metadata=table_metadata("billing_usage"),
            description="Billed tokens per day × provider × key × project/workspace × model, "
            "normalised to uncached input / cache read / cache write / output (OpenAI and "
            "Anthropic usage APIs, AWS CUR, FOCUS).",
        ),
        dg.AssetSpec(
            "billing_costs", group_name="ingest", owners=OWNERS, kinds={"delta", "python"},
            metadata=table_metadata("billing_costs"),
            description="Billed cost per day and line item in exact decimal currency units, "
            "FOCUS-aligned (OpenAI costs, Anthropic cost report, AWS CUR, FOCUS); the latest "
            "pull of a restated day wins.",
        ),
    ],
    check_specs=[conservation_spec("billing_usage"), conservation_spec("billing_costs"),
                 *quality_specs("billing_usage"), *quality_specs("billing_costs")],
    partitions_def=daily_partitions,
    backfill_policy=single_run,
)
@redacted
def billing(context: dg.AssetExecutionContext, storage: AuditStorage, admin_apis: AdminApis):
    """Every billing source in one pass: export files are read once for both tables.

    With an admin key configured, the provider's usage and cost pages for the run's days
    are first pulled into the landing zone (saved as returned), then read like any page.
    """
    first, last = run_days(context)
    lake, now = storage.lake(), datetime.now(UTC)
    for puller in admin_apis.pullers():
        try:
            pulled = puller.pull(storage.landing(), first, last, now)
        except PullError as exc:
            raise dg.Failure(description=redact(str(exc))) from exc
        context.log.info(f"{puller.api.provider}: pulled {len(pulled.pages)} pages ({pulled.retries} retries)")
    reports = load_billing(storage.landing(), lake, first, last, now, context.run.run_id)
    log_failed_files(context, reports)
    usage_sources = {s.name for s in registry.page_sources() if s.table == "billing_usage"}
    cost_sources = ({s.name for s in registry.page_sources() if s.table == "billing_costs"}
                    | {s.name for s in registry.export_sources()})
    for asset, names in (("billing_usage", usage_sources), ("billing_costs", cost_sources)):
        mine = [r for r in reports if r.source in names]
        rows = lake.read(asset, where=date_range_predicate("usage_date", first, last), columns=["provider"])
        quality = quality_results(lake, asset, run_day_list(context), context.run.run_id)
        yield load_result(asset, mine, {"dagster/row_count": rows.num_rows}, quality=quality.results)
        yield from quality.per_day
    fail_on_unreadable_files(reports, load_settings().skip_unreadable_files)
