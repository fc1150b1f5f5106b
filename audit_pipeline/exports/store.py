"""Where exports are delivered, write-once: a local folder, or S3 with Object Lock.

An export is built completely in a local staging folder first (its bytes do not depend on
where it goes), then published: locally by one atomic rename, on S3 object by object in
COMPLIANCE mode with the manifest and its signature last, so a delivery cut short has no
signed manifest and `verify` says so. Neither ever replaces an existing export.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from botocore.exceptions import ClientError

from audit_pipeline import s3
from audit_pipeline.exports.manifest import MANIFEST, SIGNATURE, StoredExport
from audit_pipeline.scratch import scratch
from audit_pipeline.settings import S3Access

LOCK_MODE = "COMPLIANCE"
"""Nobody, root included, can delete a locked version or shorten its retention before
retain-until (docs/reference/eu-ai-act-logging.md §6.3)."""


class ExportExists(FileExistsError):
    pass


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


class LocalExports:
    """Exports as sub-folders of a local folder."""

    def __init__(self, root: str):
        self.root = Path(root)

    def location(self, export_id: str) -> str:
        return str(self.root / export_id)

    def exports(self) -> list[StoredExport]:
        found = []
        if self.root.is_dir():
            for manifest in sorted(self.root.glob(f"*/{MANIFEST}")):
                signature = manifest.parent / SIGNATURE
                found.append(StoredExport.parse(manifest.parent.name, manifest.read_bytes(),
                                                signature.read_bytes() if signature.exists() else b""))
        return found

    @contextmanager
    def staging(self):
        """A staging folder on the same file system, so publishing is one rename (a dot
        folder: never taken for an export)."""
        self.root.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.root))
        try:
            yield folder
        finally:  # gone already when it was published (renamed)
            shutil.rmtree(folder, ignore_errors=True)

    def publish(self, staging: Path, export_id: str, retain_until: date) -> None:
        target = self.root / export_id
        if target.exists():
            raise ExportExists(f"{target} exists: an export is never replaced")
        for path in _files(staging):
            path.chmod(0o444)  # read-only: a reminder, not a lock (a local disk has none)
        staging.chmod(0o755)  # mkdtemp made it private; an export is for others to read
        os.rename(staging, target)


class S3Exports:
    """Exports under `s3://bucket/prefix/<export id>/`, each object locked in COMPLIANCE mode
    until retain-until. The bucket must have Object Lock enabled (it can only be enabled when
    the bucket is created)."""

    def __init__(self, root: str, access: S3Access):
        self.root = root.rstrip("/")
        self._bucket, self._prefix = s3.split_uri(root)
        self._client = s3.client(access)

    def _key(self, *parts: str) -> str:
        return "/".join(p for p in (self._prefix, *parts) if p)

    def location(self, export_id: str) -> str:
        return f"{self.root}/{export_id}"

    def _read(self, key: str) -> bytes:
        return self._client.get_object(Bucket=self._bucket, Key=key)["Body"].read()

    def keys(self, export_id: str = "") -> list[str]:
        """Every object key below the root (or one export), relative to the root."""
        prefix = self._key(export_id) + "/" if (self._prefix or export_id) else ""
        keys = []
        for page in self._client.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=prefix):
            keys += [item["Key"][len(self._key()) + 1 if self._prefix else 0:] for item in page.get("Contents", [])]
        return sorted(keys)

    def exports(self) -> list[StoredExport]:
        found = []
        for key in self.keys():
            export_id, _, name = key.partition("/")
            if name == MANIFEST:
                try:
                    signature = self._read(self._key(export_id, SIGNATURE))
                except ClientError:
                    signature = b""
                found.append(StoredExport.parse(export_id, self._read(self._key(key)), signature))
        return found

    @contextmanager
    def staging(self):
        with scratch("export") as folder:
            yield Path(folder)

    def publish(self, staging: Path, export_id: str, retain_until: date) -> None:
        if self.keys(export_id):
            raise ExportExists(f"{self.location(export_id)} exists: an export is never replaced")
        until = datetime.combine(retain_until + timedelta(days=1), time(), UTC)
        files = _files(staging)
        last = {staging / MANIFEST, staging / SIGNATURE}
        for path in [p for p in files if p not in last] + [staging / MANIFEST, staging / SIGNATURE]:
            key = self._key(export_id, path.relative_to(staging).as_posix())
            with path.open("rb") as body:
                try:
                    self._client.put_object(Bucket=self._bucket, Key=key, Body=body, ChecksumAlgorithm="SHA256",
                                            ObjectLockMode=LOCK_MODE, ObjectLockRetainUntilDate=until)
                except ClientError as exc:
                    if exc.response["Error"]["Code"] == "InvalidRequest":
                        raise ValueError(f"s3://{self._bucket} has no Object Lock: exports need a bucket "
                                         "created with Object Lock enabled") from exc
                    raise

    def read(self, relative: str) -> bytes:
        """One object, named relative to the root."""
        return self._read(self._key(relative))

    def download(self, target: Path, relatives: list[str] | None = None) -> dict[str, tuple[str | None, datetime | None]]:
        """Copy the current objects (every export's, or those named relative to the root) to
        `target`; returns each key's lock mode and retain-until as S3 reports them."""
        locks = {}
        for relative in self.keys() if relatives is None else relatives:
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            got = self._client.get_object(Bucket=self._bucket, Key=self._key(relative))
            destination.write_bytes(got["Body"].read())
            locks[relative] = (got.get("ObjectLockMode"), got.get("ObjectLockRetainUntilDate"))
        return locks


def export_store(root: str, access: S3Access) -> LocalExports | S3Exports:
    return S3Exports(root, access) if root.startswith("s3://") else LocalExports(root)
