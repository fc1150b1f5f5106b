"""The manifest: every file of an export with its hash, and the link to the previous export.

The manifest's own SHA-256 is the export's digest. Because the manifest holds the previous
export's digest and signature, each digest commits to the whole chain before it (the model is
AWS CloudTrail's digest files, docs/reference/eu-ai-act-logging.md §6). The manifest is signed
as it is stored (its exact bytes), so there is no canonicalisation for a verifier to redo.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date

from audit_pipeline.exports.files import ExportedFile

FORMAT = "audit-lineage export 1"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
"""The raw 64-byte Ed25519 signature over manifest.json's bytes."""
PUBLIC_KEY = "public_key.pem"
UNLISTED = frozenset({MANIFEST, SIGNATURE})
"""The only files of an export the manifest cannot list (they are made from it)."""


@dataclass(frozen=True)
class ChainLink:
    """What an export records of its predecessor."""

    export_id: str
    sequence: int
    manifest_sha256: str
    signature: str
    """Hex of the predecessor's signature."""

    def to_json(self) -> dict:
        return {"export_id": self.export_id, "sequence": self.sequence,
                "manifest_sha256": self.manifest_sha256, "signature": self.signature}


@dataclass(frozen=True)
class StoredExport:
    """An export already in the store, as far as the chain needs it."""

    export_id: str
    manifest: dict
    manifest_sha256: str
    signature: bytes

    @property
    def sequence(self) -> int:
        return int(self.manifest["sequence"])

    def link(self) -> ChainLink:
        return ChainLink(self.export_id, self.sequence, self.manifest_sha256, self.signature.hex())

    @classmethod
    def parse(cls, export_id: str, manifest: bytes, signature: bytes) -> StoredExport:
        return cls(export_id, json.loads(manifest), hashlib.sha256(manifest).hexdigest(), signature)


def manifest_bytes(*, export_id: str, sequence: int, first: date, last: date, keep_until: date, generator: str,
                   build_fingerprint: str, policy_sha256: str, key_fingerprint: str, previous: ChainLink | None,
                   files: list[ExportedFile]) -> bytes:
    """The manifest as stored: sorted keys, two-space indent, ASCII, one final newline. Nothing
    in it depends on when it was made, so the same inputs give the same bytes."""
    document = {
        "format": FORMAT,
        "export_id": export_id,
        "sequence": sequence,
        "period": {"from": first.isoformat(), "to": last.isoformat()},
        # The period's end plus the longest log retention floor: on S3, each object's Object
        # Lock (COMPLIANCE) lasts at least until the end of this day.
        "keep_until": keep_until.isoformat(),
        "generator": generator,
        # What the export was built from (table versions, policy, key) and the code that built
        # it: an export of the same period is made again only when this changes.
        "build_fingerprint": build_fingerprint,
        "policy_sha256": policy_sha256,
        "signature": {"algorithm": "Ed25519", "public_key_file": PUBLIC_KEY,
                      "public_key_fingerprint": key_fingerprint, "signature_file": SIGNATURE,
                      "signed_bytes": MANIFEST},
        "previous": previous.to_json() if previous else None,
        "files": [f.to_json() for f in sorted(files, key=lambda f: f.path)],
    }
    return (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=True) + "\n").encode()
