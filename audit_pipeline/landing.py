"""The landing zone: list files under a prefix and open them, hashing while they are read.

A local folder (`Landing`) or an `s3://bucket/prefix` (`S3Landing`, through boto3 with
paginated listing and bounded retries). Every file is named by its path relative to the
landing root: that is `source_file` in every table, whichever storage it came from.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import BinaryIO

from audit_pipeline import s3
from audit_pipeline.settings import S3Access

_DAY_IN_PATH = re.compile(r"(\d{4})[-/](\d{2})[-/](\d{2})")


@dataclass(frozen=True)
class LandingFile:
    path: str
    size: int
    version: str | None = None
    """What changes when the content does: S3's ETag, or size and mtime of a local file."""

    @property
    def day(self) -> date | None:
        """The UTC day a file is filed under: the last YYYY-MM-DD or YYYY/MM/DD in its path."""
        found = _DAY_IN_PATH.findall(self.path)
        if not found:
            return None
        try:
            return date(*(int(part) for part in found[-1]))
        except ValueError:
            return None


class HashingReader(io.RawIOBase):
    """Pass bytes through while computing their sha256 (the file as landed, before gunzip)."""

    def __init__(self, raw: BinaryIO):
        self._raw = raw
        self.sha256 = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        chunk = self._raw.read(len(buffer))
        self.sha256.update(chunk)
        buffer[: len(chunk)] = chunk
        return len(chunk)

    def close(self) -> None:
        self._raw.close()
        super().close()


class NotFollowed(OSError):
    """A symbolic link in the landing zone: never read, whatever it points at (it could name
    a file outside the landing zone, /etc/passwd, or another source's file)."""


class Landing:
    """A landing zone in a local folder. Symbolic links are listed, so the load reports them,
    but never followed: reading one raises `NotFollowed`, and linked folders are not entered."""

    def __init__(self, root: str):
        self.root = root

    def _path(self, file: LandingFile) -> Path:
        path = Path(self.root) / file.path
        for part in (path, *path.parents):
            if part == Path(self.root):
                break
            if part.is_symlink():
                raise NotFollowed(f"{file.path}: a symbolic link; links in the landing zone are never followed")
        return path

    def list(self, prefix: str, suffixes: tuple[str, ...]) -> list[LandingFile]:
        """Files below `prefix` whose names end with one of `suffixes`, sorted by path."""
        base = Path(self.root) / prefix
        if not base.exists():
            return []
        files = []
        for folder, subfolders, names in os.walk(base, followlinks=False):
            subfolders[:] = [d for d in subfolders if d != ".git"]
            for name in names:
                p = Path(folder) / name
                if not name.endswith(suffixes) or not (p.is_symlink() or p.is_file()):
                    continue
                stat = p.lstat()  # a link's own size and time: its target is never looked at
                files.append(LandingFile(p.relative_to(self.root).as_posix(), stat.st_size,
                                         f"{stat.st_size}-{stat.st_mtime_ns}"))
        return sorted(files, key=lambda f: f.path)

    def open(self, file: LandingFile) -> tuple[BinaryIO, HashingReader]:
        """A decompressed stream of the file and the reader holding its sha256 so far."""
        hashing = HashingReader(self._path(file).open("rb"))
        buffered = io.BufferedReader(hashing, buffer_size=1 << 20)
        stream: BinaryIO = gzip.GzipFile(fileobj=buffered) if file.path.endswith(".gz") else buffered
        return stream, hashing

    @contextmanager
    def local_copy(self, file: LandingFile) -> Iterator[tuple[Path, str]]:
        """A seekable local path of the file (Parquet needs one) and the file's sha256."""
        path = self._path(file)
        with path.open("rb") as f:
            yield path, hashlib.file_digest(f, "sha256").hexdigest()

    def write_bytes(self, path: str, data: bytes) -> None:
        target = Path(self.root) / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)

    def read_bytes(self, file: LandingFile) -> tuple[bytes, str]:
        data = self._path(file).read_bytes()
        raw = gzip.decompress(data) if file.path.endswith(".gz") else data
        return raw, hashlib.sha256(data).hexdigest()

    def upload(self, path: str, local: Path) -> None:
        """Store a local file at `path` (streamed: a staged shard may be gigabytes)."""
        target = Path(self.root) / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(local, target)

    def download(self, path: str, local: Path) -> None:
        shutil.copyfile(Path(self.root) / path, local)

    def remove(self, prefix: str) -> None:
        """Delete everything below `prefix` (work staged between steps, once committed)."""
        shutil.rmtree(Path(self.root) / prefix, ignore_errors=True)


class S3Landing(Landing):
    """A landing zone under `s3://bucket/prefix`."""

    def __init__(self, root: str, access: S3Access):
        super().__init__(root.rstrip("/"))
        self._bucket, self._prefix = s3.split_uri(root)
        self._client = s3.client(access)

    def _key(self, path: str) -> str:
        return "/".join(p for p in (self._prefix, path.strip("/")) if p)

    def list(self, prefix: str, suffixes: tuple[str, ...]) -> list[LandingFile]:
        files = []
        folder = self._key(prefix)
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self._bucket, Prefix=f"{folder}/" if folder else "")
        for page in pages:
            for item in page.get("Contents", []):
                path = item["Key"][len(self._prefix) + 1:] if self._prefix else item["Key"]
                if path.endswith(suffixes):
                    files.append(LandingFile(path, item["Size"], item["ETag"].strip('"')))
        return sorted(files, key=lambda f: f.path)

    def _body(self, file: LandingFile) -> BinaryIO:
        return self._client.get_object(Bucket=self._bucket, Key=self._key(file.path))["Body"]

    def open(self, file: LandingFile) -> tuple[BinaryIO, HashingReader]:
        hashing = HashingReader(self._body(file))
        buffered = io.BufferedReader(hashing, buffer_size=1 << 20)
        stream: BinaryIO = gzip.GzipFile(fileobj=buffered) if file.path.endswith(".gz") else buffered
        return stream, hashing

    @contextmanager
    def local_copy(self, file: LandingFile) -> Iterator[tuple[Path, str]]:
        suffix = "".join(Path(file.path).suffixes)
        with tempfile.NamedTemporaryFile(suffix=suffix) as copy:
            digest = hashlib.sha256()
            body = self._body(file)
            for chunk in iter(lambda: body.read(1 << 20), b""):
                digest.update(chunk)
                copy.write(chunk)
            copy.flush()
            yield Path(copy.name), digest.hexdigest()

    def read_bytes(self, file: LandingFile) -> tuple[bytes, str]:
        data = self._body(file).read()
        raw = gzip.decompress(data) if file.path.endswith(".gz") else data
        return raw, hashlib.sha256(data).hexdigest()

    def write_bytes(self, path: str, data: bytes) -> None:
        self._client.put_object(Bucket=self._bucket, Key=self._key(path), Body=data)

    def upload(self, path: str, local: Path) -> None:
        self._client.upload_file(str(local), self._bucket, self._key(path))  # multipart when large

    def download(self, path: str, local: Path) -> None:
        self._client.download_file(self._bucket, self._key(path), str(local))

    def remove(self, prefix: str) -> None:
        keys = [{"Key": self._key(f.path)} for f in self.list(prefix, ("",))]
        for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1,000 keys
            self._client.delete_objects(Bucket=self._bucket, Delete={"Objects": keys[start:start + 1000]})


def landing_at(root: str, access: S3Access) -> Landing:
    """The landing zone at `root`: a folder, or `s3://bucket/prefix`."""
    return S3Landing(root, access) if root.startswith("s3://") else Landing(root)
