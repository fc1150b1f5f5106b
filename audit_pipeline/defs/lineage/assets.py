"""Lineage: the prompt repository's history and every output tied to its prompt and model."""


import dagster as dg
import pyarrow.compute as pc

from audit_pipeline.defs.lineage.shards import INPUTS
from audit_pipeline.defs.partitions import daily_partitions, run_day_list, run_days, single_run
from audit_pipeline.defs.quality import quality_results, quality_specs
from audit_pipeline.defs.redacted import redacted
from audit_pipeline.defs.resources import AuditPolicy, AuditStorage
from audit_pipeline.defs.sharding import SHARDED, SHARDS
from audit_pipeline.defs.tables import table_metadata
from audit_pipeline.freshness import code_version
from audit_pipeline.lake import date_range_predicate
from audit_pipeline.loads.lineage import (
    RESOLUTIONS,
    build_output_lineage,
    commit_lineage,
)
from audit_pipeline.loads.prompts import store_prompt_history
from audit_pipeline.loads.staging import shard_step
from audit_pipeline.reports.markdown import markdown_table, preview

OWNERS = ["team:llm-platform", "team:compliance"]


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "prompt_commits", group_name="lineage", kinds={"delta", "python"}, owners=OWNERS,
            metadata=table_metadata("prompt_commits"),
            description="Every commit of the prompt repository: author, committer time, message "
            "and the `Approved-by:` trailer (the review evidence).",
        ),
        dg.AssetSpec(
            "prompt_versions", group_name="lineage", kinds={"delta", "python"}, owners=OWNERS,
            metadata=table_metadata("prompt_versions"),
            description="Every (prompt file, commit) where a prompt was added, changed, renamed "
            "or deleted, with its content hash, validity interval and CODEOWNERS owners. Kept "
            "as technical documentation (ten years, AI Act Art. 18).",
        ),
    ],
    check_specs=[*quality_specs("prompt_commits"), *quality_specs("prompt_versions")],
)
@redacted
def prompt_history(context: dg.AssetExecutionContext, storage: AuditStorage, policy: AuditPolicy):
    """Read the full history of the prompt repository (reference data, not partitioned)."""
    lake = storage.lake()
    collections = tuple(c.spec() for c in policy.current().prompt_collections)
    commits, versions, refused = store_prompt_history(lake, storage.prompt_repo, tuple(storage.prompt_globs),
                                                      collections)
    for link in refused:
        context.log.warning(f"prompt repository: {link}")
    unapproved = sum(1 for a in commits.column("approved_by").to_pylist() if not a)
    run_id = context.run.run_id
    yield dg.MaterializeResult(asset_key="prompt_commits", check_results=quality_results(
        lake, "prompt_commits", None, run_id).results, metadata={
        "dagster/row_count": commits.num_rows,
        "commits_without_approval": unapproved,
        "symbolic_links_refused": len(refused),
        "preview": dg.MetadataValue.md(preview(
            commits, ["commit_sha", "author_email", "committed_at", "approved_by"])),
    })
    yield dg.MaterializeResult(asset_key="prompt_versions", check_results=quality_results(
        lake, "prompt_versions", None, run_id).results, metadata={
        "dagster/row_count": versions.num_rows,
        "prompts": len(set(versions.column("prompt_id").to_pylist())),
        "preview": dg.MetadataValue.md(preview(
            versions, ["prompt_id", "version", "change_type", "valid_from", "owners"], limit=10)),
    })


@dg.asset(
    group_name="lineage",
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    kinds={"delta", "python"},
    owners=OWNERS,
    deps=[*INPUTS, *(shard_step("output_lineage", s) for s in SHARDS)] if SHARDED else INPUTS,
    code_version=code_version("audit_pipeline.loads.lineage"),
    check_specs=quality_specs("output_lineage"),
    metadata=table_metadata("output_lineage"),
    description="Every logged output tied to the prompt version (explicit, content hash, "
    "time-inferred or unresolved, with the reason), the prompt's author, approver and owners, "
    "the model snapshot, and its computed cost from the dated price catalog. With AUDIT_SHARDS "
    "above 1 the shards' steps build it and this step commits them together.",
)
@redacted
def output_lineage(context: dg.AssetExecutionContext, storage: AuditStorage):
    first, last = run_days(context)
    lake = storage.lake()
    if SHARDED:
        counts = commit_lineage(lake, storage.staging(), first, last, len(SHARDS), run_id=context.run.run_id)
    else:
        counts = build_output_lineage(lake, first, last, run_id=context.run.run_id)
    total = sum(counts.values())
    coverage = [[kind, counts[kind], f"{100 * counts[kind] / total:.1f}%" if total else "-"]
                for kind in RESOLUTIONS]
    statuses = lake.read("output_lineage", where=date_range_predicate("event_date", first, last),
                         columns=["model_status"]).column("model_status")
    alias_only = pc.sum(pc.equal(statuses, "alias_only")).as_py() or 0
    quality = quality_results(lake, "output_lineage", run_day_list(context), context.run.run_id)
    yield dg.MaterializeResult(check_results=quality.results, metadata={
        "dagster/row_count": total,
        **{f"resolution_{kind}": counts[kind] for kind in RESOLUTIONS},
        "alias_only_models": alias_only,
        "coverage": dg.MetadataValue.md(markdown_table(["resolution", "outputs", "share"], coverage)),
    })
    yield from quality.per_day
