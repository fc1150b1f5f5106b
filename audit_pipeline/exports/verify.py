"""`audit-pipeline verify`: check an export offline, the way `aws cloudtrail validate-logs`
checks digests (docs/reference/eu-ai-act-logging.md §6.2), and name every fault.

For each export: the manifest is where it says it is, its signature verifies with the shipped
public key (and, when given, that key is the expected one), every listed file is there with
its bytes, hash, rows and schema, and nothing unlisted is. Then the chain: each export's
`previous` must be the export beside it with exactly that digest, signature, sequence and
key, down to the first.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq

from audit_pipeline.exports import signing
from audit_pipeline.exports.files import schema_fingerprint, sha256_file
from audit_pipeline.exports.manifest import FORMAT, MANIFEST, SIGNATURE, UNLISTED
from audit_pipeline.scratch import scratch


@dataclass
class Verification:
    faults: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    exports: dict[str, dict] = field(default_factory=dict)
    """Export id → its manifest, for every export that had a readable one."""
    files: int = 0
    rows: int = 0

    anchor: str | None = None
    """The manifest digest (sha256) or sequence number of an export the auditor verified
    and recorded earlier: the chain may end there instead of at its first export."""

    @property
    def intact(self) -> bool:
        return not self.faults

    def anchored(self, link: dict) -> bool:
        """Whether the missing previous export `link` names is the recorded anchor."""
        return self.anchor is not None and self.anchor in (link.get("manifest_sha256"), str(link.get("sequence")))

    def fault(self, where: str, problem: str) -> None:
        self.faults.append(f"{where}: {problem}")


def _is_export(folder: Path) -> bool:
    return folder.is_dir() and not folder.name.startswith(".") and (
        (folder / MANIFEST).exists() or (folder / SIGNATURE).exists() or (folder / "tables").is_dir())


def _links(folder: Path) -> list[str]:
    """Every symbolic link at or below the export's folder, the folder itself included."""
    links = ["."] if folder.is_symlink() else []
    for parent, subfolders, names in os.walk(folder, followlinks=False):
        for name in (*subfolders, *names):
            path = Path(parent) / name
            if path.is_symlink():
                links.append(path.relative_to(folder).as_posix())
    return sorted(links)


def _check_file(folder: Path, entry: dict, result: Verification) -> None:
    where = f"{folder.name}/{entry['path']}"
    path = folder / entry["path"]
    if not path.is_file():
        result.fault(where, "listed in the manifest but missing (deleted or moved)")
        return
    result.files += 1
    if path.stat().st_size != entry["bytes"]:
        result.fault(where, f"{path.stat().st_size} bytes, the manifest says {entry['bytes']} (altered)")
    if sha256_file(path) != entry["sha256"]:
        result.fault(where, "sha256 differs from the manifest (altered)")
        return
    if "rows" in entry:
        try:
            parquet = pq.ParquetFile(path)
        except Exception as exc:  # any unreadable file is a fault to report, not a crash
            result.fault(where, f"not a readable Parquet file ({exc})")
            return
        if parquet.metadata.num_rows != entry["rows"]:
            result.fault(where, f"{parquet.metadata.num_rows} rows, the manifest says {entry['rows']}")
        if schema_fingerprint(parquet.schema_arrow) != entry.get("schema_fingerprint"):
            result.fault(where, "schema differs from the manifest's fingerprint")
        result.rows += parquet.metadata.num_rows


def check_export(folder: Path, result: Verification, expected_key: str | None) -> dict | None:
    """Check one export on its own; returns its manifest when it could be read."""
    name = folder.name
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        result.fault(f"{name}/{MANIFEST}", "missing: nothing in this export can be trusted (incomplete delivery?)")
        return None
    data = manifest_path.read_bytes()
    try:
        manifest = json.loads(data)
        entries = {f["path"]: f for f in manifest["files"]}
    except (ValueError, KeyError, TypeError) as exc:
        result.fault(f"{name}/{MANIFEST}", f"not a readable manifest ({exc})")
        return None
    if manifest.get("format") != FORMAT:
        result.fault(f"{name}/{MANIFEST}", f"format {manifest.get('format')!r}, expected {FORMAT!r}")
    if manifest.get("export_id") != name:
        result.fault(f"{name}/{MANIFEST}", f"names export {manifest.get('export_id')!r}: moved from its original location")
    _check_signature(folder, manifest, data, result, expected_key)
    for link in _links(folder):
        result.fault(f"{name}/{link}", "a symbolic link: an export holds its own bytes, never a pointer to "
                                       "bytes elsewhere that can change after verification")
    for entry in entries.values():
        _check_file(folder, entry, result)
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    for extra in sorted(present - set(entries) - UNLISTED):
        result.fault(f"{name}/{extra}", "not listed in the manifest (added)")
    result.exports[name] = manifest
    return manifest


def _check_signature(folder: Path, manifest: dict, data: bytes, result: Verification,
                     expected_key: str | None) -> None:
    name = folder.name
    declared = manifest.get("signature") or {}
    key_path = folder / declared.get("public_key_file", "public_key.pem")
    try:
        public_key = signing.load_public_pem(key_path.read_bytes())
    except (OSError, ValueError) as exc:
        result.fault(f"{name}/{key_path.name}", f"no usable public key ({exc})")
        return
    fingerprint = signing.fingerprint(public_key)
    if fingerprint != declared.get("public_key_fingerprint"):
        result.fault(f"{name}/{key_path.name}", f"key {fingerprint} is not the one the manifest names")
    if expected_key and fingerprint != expected_key:
        result.fault(f"{name}/{key_path.name}", f"signed by key {fingerprint}, not the expected {expected_key}")
    signature_path = folder / SIGNATURE
    if not signature_path.is_file():
        result.fault(f"{name}/{SIGNATURE}", "missing: the manifest is unsigned")
    elif not signing.signature_valid(public_key, signature_path.read_bytes(), data):
        result.fault(f"{name}/{MANIFEST}", "signature does not verify (manifest edited, or signed with another key)")


def _check_link(folder: Path, manifest: dict, result: Verification, expected_key: str | None,
                shallow: bool = False) -> None:
    """The chain from this export down to the first one beside it; `shallow`: only the link
    to the previous export (its manifest and signature), not that export's files."""
    name = folder.name
    link = manifest.get("previous")
    sequence = manifest.get("sequence")
    if link is None:
        if sequence != 1:
            result.fault(f"{name}/{MANIFEST}", f"sequence {sequence} but no previous export: the chain was cut")
        return
    previous = folder.parent / link["export_id"]
    if not previous.is_dir():
        if result.anchored(link):
            result.notes.append(f"{name}: the chain reaches the anchor you recorded ({link['export_id']}, "
                                f"sequence {link['sequence']}); earlier exports were not checked here")
        else:
            result.fault(name, f"previous export {link['export_id']} (sequence {link['sequence']}) is missing "
                               "from the chain: it does not reach its first export, nor an anchor "
                               "(--anchor DIGEST or SEQUENCE you recorded)")
        return
    if shallow:
        try:
            earlier = json.loads((previous / MANIFEST).read_bytes())
        except (OSError, ValueError):
            result.fault(name, f"previous export {previous.name} has no readable manifest")
            return
    else:
        if previous.name not in result.exports:
            checked = check_export(previous, result, expected_key)
            if checked is not None:
                _check_link(previous, checked, result, expected_key)
        earlier = result.exports.get(previous.name)
        if earlier is None:
            return
    if hashlib.sha256((previous / MANIFEST).read_bytes()).hexdigest() != link["manifest_sha256"]:
        result.fault(name, f"previous export {previous.name}'s manifest is not the one this export chained to")
    signature = previous / SIGNATURE
    if not signature.is_file() or signature.read_bytes().hex() != link["signature"]:
        result.fault(name, f"previous export {previous.name}'s signature is not the one this export chained to")
    if earlier.get("sequence") != link.get("sequence") or link.get("sequence") != sequence - 1:
        result.fault(name, f"sequence {sequence} follows {previous.name} with sequence {earlier.get('sequence')}")
    ours = (manifest.get("signature") or {}).get("public_key_fingerprint")
    theirs = (earlier.get("signature") or {}).get("public_key_fingerprint")
    if ours != theirs:
        result.fault(name, f"signed by key {ours}, but previous export {previous.name} by {theirs}")


def verify(path: Path, expected_key: str | None = None, shallow: bool = False,
           anchor: str | None = None) -> Verification:
    """Verify one export (and the chain below it) or every export in a folder. `shallow`
    checks the link to the previous export but not its files (what the asset does after each
    delivery: the earlier exports were checked when they were delivered). The chain must
    reach its first export, or `anchor` (a digest or sequence the auditor recorded)."""
    result = Verification(anchor=anchor)
    if _is_export(path):
        targets = [path]
    else:
        targets = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")) if path.is_dir() else []
        if not targets:
            result.fault(str(path), "no export here")
    for folder in targets:
        if folder.name not in result.exports:
            manifest = check_export(folder, result, expected_key)
            if manifest is not None:
                _check_link(folder, manifest, result, expected_key, shallow)
    sequences: dict[int, list[str]] = {}
    for name, manifest in result.exports.items():
        sequences.setdefault(manifest.get("sequence"), []).append(name)
    for sequence, names in sorted(sequences.items(), key=lambda kv: str(kv[0])):
        if len(names) > 1:
            result.fault(", ".join(sorted(names)), f"all claim sequence {sequence}: the chain forks")
    return result


def verify_s3(location: str, access, expected_key: str | None = None, shallow: bool = False,
              anchor: str | None = None) -> Verification:
    """Verify exports delivered to S3: download the current objects beside the export (or
    under the prefix), verify them as a folder, and require each object to be under Object
    Lock in COMPLIANCE mode: an object overwritten or added after delivery is not. `shallow`
    (one export): download only it and its predecessor's manifest and signature."""
    from audit_pipeline.exports.store import LOCK_MODE, S3Exports

    location = location.rstrip("/")
    parent, _, last = location.rpartition("/")
    own = S3Exports(parent, access).keys(last) if parent != "s3:/" else []
    is_export = f"{last}/{MANIFEST}" in own
    root = S3Exports(parent if is_export else location, access)
    with scratch("verify") as folder:
        if is_export and shallow:
            locks = root.download(Path(folder), own)
            previous = json.loads((Path(folder) / last / MANIFEST).read_bytes()).get("previous")
            if previous:
                locks |= root.download(Path(folder), [f"{previous['export_id']}/{name}" for name in (MANIFEST, SIGNATURE)])
        else:
            locks = root.download(Path(folder))
        result = verify(Path(folder) / last if is_export else Path(folder), expected_key, shallow, anchor)
    for key, (mode, until) in sorted(locks.items()):
        keep_until = (result.exports.get(key.partition("/")[0]) or {}).get("keep_until")
        if mode != LOCK_MODE:
            result.fault(f"{root.root}/{key}", f"not under Object Lock in {LOCK_MODE} mode (overwritten or added "
                                               "after delivery)")
        elif until is None or (keep_until and until.date() <= date.fromisoformat(keep_until)):
            result.fault(f"{root.root}/{key}", f"locked only until {until}, the manifest says the end of {keep_until}")
    return result


def verify_location(location: str, access, expected_key: str | None = None, shallow: bool = False,
                    anchor: str | None = None) -> Verification:
    """Verify a folder or an `s3://` prefix (an export, or a root holding several)."""
    if location.startswith("s3://"):
        return verify_s3(location, access, expected_key, shallow, anchor)
    return verify(Path(location), expected_key, shallow, anchor)
