"""The auditor export: a period's rows, reports and documents, signed and chained, delivered
write-once to AUDIT_EXPORTS; then verified as an auditor would."""

from datetime import UTC, date, datetime

import dagster as dg

from audit_pipeline.defs.ingest.results import refuse_incomplete_days
from audit_pipeline.defs.redacted import redacted
from audit_pipeline.defs.resources import AuditPolicy, AuditStorage
from audit_pipeline.exports.build import ExportRequest, export_period, previous_month
from audit_pipeline.exports.contents import EXPORTED_TABLES
from audit_pipeline.exports.signing import SigningKeyError
from audit_pipeline.exports.store import export_store
from audit_pipeline.exports.verify import verify_location
from audit_pipeline.freshness import code_version
from audit_pipeline.redaction import redact
from audit_pipeline.reports.markdown import markdown_table
from audit_pipeline.settings import load_settings


class ExportConfig(dg.Config):
    first: str | None = None
    """First UTC day (YYYY-MM-DD); empty: the first day of the previous calendar month."""
    last: str | None = None
    """Last UTC day; empty: the last day of the previous calendar month."""
    out: str | None = None
    """Where to deliver (a folder or s3://bucket/prefix); empty: AUDIT_EXPORTS."""


def _period(config: ExportConfig, today: date) -> tuple[date, date]:
    default_first, default_last = previous_month(today)
    try:
        first = date.fromisoformat(config.first) if config.first else default_first
        last = date.fromisoformat(config.last) if config.last else default_last
    except ValueError as exc:
        raise dg.Failure(f"export period: {exc} (expected YYYY-MM-DD)") from exc
    if last < first:
        raise dg.Failure(f"export period: last day {last} is before the first {first}")
    return first, last


@dg.asset(
    group_name="exports", owners=["team:compliance"], kinds={"parquet", "python"},
    # dq_results is written by the asset checks, erasure_log by retention_enforcement.
    deps=sorted({t.name for t in EXPORTED_TABLES} - {"dq_results", "erasure_log"} | {"retention_enforcement"}),
    code_version=code_version("audit_pipeline.exports.build"),
    check_specs=[dg.AssetCheckSpec("export_verifies", asset="auditor_export", blocking=True, description=(
        "The delivered export passes `audit-pipeline verify`: every file present with its hash, nothing "
        "extra, the manifest signature, the chain to the previous export (and, on S3, Object Lock)."))],
    description="A period's records for an external auditor (monthly; any range with `audit-pipeline "
    "export`): one zstd Parquet file per table in a fixed row order, without secrets or free text, the "
    "retention reports, a data dictionary and a README on verifying by hand, and manifest.json (bytes, "
    "sha256, rows, schema fingerprint, Delta version per file) chained to the previous export and signed "
    "with Ed25519 (AUDIT_SIGNING_KEY). Delivered write-once: S3 Object Lock (COMPLIANCE) until the period "
    "end plus the retention floor.",
)
@redacted
def auditor_export(context: dg.AssetExecutionContext, config: ExportConfig, storage: AuditStorage,
                   policy: AuditPolicy):
    first, last = _period(config, datetime.now(UTC).date())
    settings = load_settings()  # the signing key and S3 credentials come from the environment only
    rules = policy.current()
    request = ExportRequest(first, last, rules.sha256,
                            max((s.log_retention.floor_months for s in rules.systems), default=6))
    refuse_incomplete_days(storage.lake(), first, last, "The auditor export")
    store = export_store(config.out or storage.exports_root, settings.s3)
    try:
        result = export_period(storage.lake(), storage.reports(), store, settings.signing_key, request)
    except SigningKeyError as exc:
        raise dg.Failure(redact(str(exc))) from None
    # This export and its link to the previous one; earlier exports were checked on delivery.
    verification = verify_location(result.location, settings.s3, shallow=True)
    context.log.info(f"export {result.export_id} {'written' if result.created else 'unchanged'}: "
                     f"digest {result.digest}")
    yield dg.AssetCheckResult(
        check_name="export_verifies", passed=verification.intact,
        metadata={"faults": dg.MetadataValue.md("\n".join(f"- {f}" for f in verification.faults) or "none"),
                  "files_checked": verification.files, "rows_checked": verification.rows},
    )
    tables = [f for f in result.files if f.kind == "table"]
    yield dg.MaterializeResult(metadata={
        "export_id": result.export_id,
        "location": result.location,
        "created": result.created,
        "sequence": result.sequence,
        "digest_sha256": result.digest,
        "key_fingerprint": result.key_fingerprint,
        "period": f"{first} .. {last}",
        "retain_until": result.retain_until.isoformat(),
        "dagster/row_count": result.rows,
        "bytes": result.bytes,
        "files": len(result.files),
        "tables": dg.MetadataValue.md(markdown_table(
            ["table", "rows", "bytes", "Delta version", "sha256"],
            [[f.table, f.rows, f.bytes, f.delta_version, f.sha256[:16] + "…"] for f in tables])),
    })
