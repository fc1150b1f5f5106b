"""Make one auditor export: a period's rows of every exported table at pinned Delta versions,
the published retention reports, the documents, a manifest chained to the previous export,
and its signature; then deliver it write-once.

The same period from the same table versions gives byte-identical files and the same digest:
rows are sorted on a total order, Parquet row groups have a fixed size, and nothing in an
export records when it was made (the Dagster run and the storage do).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from datetime import date, timedelta
from importlib.resources import files
from pathlib import Path
from string import Template

from botocore.exceptions import ClientError

from audit_pipeline.exports import signing
from audit_pipeline.exports.contents import EXPORTED_TABLES
from audit_pipeline.exports.dictionary import dictionary_csv
from audit_pipeline.exports.files import ExportedFile, write_table
from audit_pipeline.exports.manifest import (
    MANIFEST,
    PUBLIC_KEY,
    SIGNATURE,
    ChainLink,
    StoredExport,
    manifest_bytes,
)
from audit_pipeline.freshness import Recipe, code_version
from audit_pipeline.lake import Lake, date_range_predicate
from audit_pipeline.landing import Landing, LandingFile
from audit_pipeline.retention.publish import report_path
from audit_pipeline.retention.report import GENERATOR
from audit_pipeline.retention.window import months_back

CHECKSUMS = "SHA256SUMS"
README = "README.md"
DICTIONARY = "data_dictionary.csv"


@dataclass(frozen=True)
class ExportRequest:
    first: date
    last: date
    policy_sha256: str
    floor_months: int
    """The longest log retention floor in the policy: locked objects outlive it."""

    @property
    def keep_until(self) -> date:
        return retain_until(self.last, self.floor_months)


@dataclass(frozen=True)
class ExportResult:
    export_id: str
    location: str
    sequence: int
    digest: str
    """sha256 of manifest.json."""
    key_fingerprint: str
    files: list[ExportedFile]
    created: bool
    """False when an identical export of the period was already there."""
    retain_until: date

    @property
    def rows(self) -> int:
        return sum(f.rows or 0 for f in self.files)

    @property
    def bytes(self) -> int:
        return sum(f.bytes for f in self.files)


def retain_until(last: date, floor_months: int) -> date:
    """The period's last day plus the floor, counted as the floor test counts it (the later
    of N calendar months and N × 184/6 days)."""
    return max(months_back(last, -floor_months), last + timedelta(days=math.ceil(floor_months * 184 / 6)))


def _copy_reports(lake: Lake, reports: Landing, version: int | None, request: ExportRequest,
                  folder: Path) -> list[ExportedFile]:
    """The published HTML of the period's retention reports, where the file still has the
    hash its row recorded (a report rewritten since is not the one the row describes)."""
    if version is None:
        return []
    rows = lake.read("retention_report", version=version,
                     where=date_range_predicate("report_date", request.first, request.last)
                     + " AND html_sha256 IS NOT NULL",
                     columns=["ai_system", "report_date", "as_of", "as_of_requested", "html_sha256"]).to_pylist()
    copied = {}
    for row in rows:
        relative = report_path(row, row["as_of_requested"])
        try:
            data, sha256 = reports.read_bytes(LandingFile(relative, 0))
        except (OSError, ClientError):  # not published, or removed since: the row still names its hash
            continue
        if sha256 == row["html_sha256"]:
            target = folder / "reports" / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            copied[relative] = ExportedFile(f"reports/{relative}", "report", len(data), sha256)
    return [copied[k] for k in sorted(copied)]


def _readme(export_id: str, sequence: int, request: ExportRequest, fingerprint: str,
            previous: ChainLink | None) -> bytes:
    template = Template(files("audit_pipeline.reference").joinpath("auditor_readme.md").read_text(encoding="utf-8"))
    return template.substitute(
        export_id=export_id, first=request.first, last=request.last, generator=GENERATOR, sequence=sequence,
        previous_sentence=f"; it follows export `{previous.export_id}`." if previous else " (the first).",
        fingerprint=fingerprint, tables=", ".join(f"`{t.name}`" for t in EXPORTED_TABLES),
    ).encode()


def _write_document(folder: Path, name: str, data: bytes, kind: str) -> ExportedFile:
    (folder / name).write_bytes(data)
    return ExportedFile(name, kind, len(data), hashlib.sha256(data).hexdigest())


def build(lake: Lake, reports: Landing, key, request: ExportRequest, versions: dict[str, int | None],
          export_id: str, sequence: int, previous: ChainLink | None, folder: Path,
          build_fingerprint: str) -> tuple[str, list[ExportedFile]]:
    """Write a complete export into `folder`; returns its digest and the listed files."""
    fingerprint = signing.fingerprint(key.public_key())
    listed = [write_table(lake, t, versions[t.name], request.first, request.last, folder) for t in EXPORTED_TABLES]
    listed += _copy_reports(lake, reports, versions["retention_report"], request, folder)
    documents = {PUBLIC_KEY: signing.public_pem(key), DICTIONARY: dictionary_csv(),
                 README: _readme(export_id, sequence, request, fingerprint, previous)}
    for name, data in documents.items():
        listed.append(_write_document(folder, name, data, "key" if name == PUBLIC_KEY else "document"))
    sums = "".join(f"{f.sha256}  {f.path}\n" for f in sorted(listed, key=lambda f: f.path))
    listed.append(_write_document(folder, CHECKSUMS, sums.encode(), "document"))
    manifest = manifest_bytes(export_id=export_id, sequence=sequence, first=request.first, last=request.last,
                              keep_until=request.keep_until, generator=GENERATOR, build_fingerprint=build_fingerprint,
                              policy_sha256=request.policy_sha256, key_fingerprint=fingerprint,
                              previous=previous, files=listed)
    (folder / MANIFEST).write_bytes(manifest)
    (folder / SIGNATURE).write_bytes(signing.sign(key, manifest))
    return hashlib.sha256(manifest).hexdigest(), listed


def _build_fingerprint(request: ExportRequest, versions: dict[str, int | None], key_fingerprint: str) -> str:
    """Everything an export's bytes depend on besides its period: the table versions read,
    the policy, the signing key, and the code that builds it (tables, documents, manifest)."""
    return Recipe("auditor_export", code_version(__name__), {
        "table_versions": json.dumps(versions, sort_keys=True), "policy": request.policy_sha256,
        "key": key_fingerprint}).fingerprint()


def _same_build(stored: StoredExport, request: ExportRequest, build_fingerprint: str) -> bool:
    manifest = stored.manifest
    return (manifest.get("period") == {"from": request.first.isoformat(), "to": request.last.isoformat()}
            and manifest.get("build_fingerprint") == build_fingerprint)


def _new_id(request: ExportRequest, taken: set[str]) -> str:
    """`<first>_<last>`; a later export of the same period (the tables changed) `…-r2`, `-r3`."""
    base = f"{request.first.isoformat()}_{request.last.isoformat()}"
    revision = 1
    while (candidate := base if revision == 1 else f"{base}-r{revision}") in taken:
        revision += 1
    return candidate


def export_period(lake: Lake, reports: Landing, store, signing_key: str | None,
                  request: ExportRequest) -> ExportResult:
    """Export the period to `store` as the next link of its chain, or recognise that an
    export of it from the same inputs is there already (then nothing is written)."""
    key = signing.private_key(signing_key)
    versions = {t.name: lake.version(t.name) for t in EXPORTED_TABLES}
    chain = sorted(store.exports(), key=lambda e: e.sequence)
    fingerprint = signing.fingerprint(key.public_key())
    # The same period from the same inputs is already there: by construction (tested) it
    # would be the same bytes, so it is not made again. Its integrity is `verify`'s job.
    build_fingerprint = _build_fingerprint(request, versions, fingerprint)
    same = next((e for e in reversed(chain) if _same_build(e, request, build_fingerprint)), None)
    if same is not None:
        listed = [ExportedFile(**f) for f in same.manifest["files"]]
        return ExportResult(same.export_id, store.location(same.export_id), same.sequence, same.manifest_sha256,
                            fingerprint, listed, False, request.keep_until)
    previous = chain[-1].link() if chain else None
    export_id = _new_id(request, {e.export_id for e in chain})
    sequence = previous.sequence + 1 if previous else 1
    with store.staging() as staging:
        digest, listed = build(lake, reports, key, request, versions, export_id, sequence, previous, staging,
                               build_fingerprint)
        store.publish(staging, export_id, request.keep_until)
    return ExportResult(export_id, store.location(export_id), sequence, digest, fingerprint, listed, True,
                        request.keep_until)


def previous_month(today: date) -> tuple[date, date]:
    """The calendar month before `today`'s: what the monthly export covers."""
    last = today.replace(day=1) - timedelta(days=1)
    return last.replace(day=1), last
