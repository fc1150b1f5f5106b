"""The landing zone: list files under a prefix and open them, hashing while they are read.

Local folders today; `s3://` landing zones are added behind the same interface. Every file
is named by its path relative to the landing root (that is `source_file` in every table).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import BinaryIO

_DAY_IN_PATH = re.compile(r"(\d{4})[-/](\d{2})[-/](\d{2})")


@dataclass(frozen=True)
class LandingFile:
    path: str
    size: int

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


@dataclass(frozen=True)
class Landing:
    root: str

    def list(self, prefix: str, suffixes: tuple[str, ...]) -> list[LandingFile]:
        """Files below `prefix` whose names end with one of `suffixes`, sorted by path."""
        base = Path(self.root) / prefix
        if not base.exists():
            return []
        return sorted(
            (
                LandingFile(p.relative_to(self.root).as_posix(), p.stat().st_size)
                for p in base.rglob("*")
                if p.is_file() and p.name.endswith(suffixes)
            ),
            key=lambda f: f.path,
        )

    def open(self, file: LandingFile) -> tuple[BinaryIO, HashingReader]:
        """A decompressed stream of the file and the reader holding its sha256 so far."""
        hashing = HashingReader((Path(self.root) / file.path).open("rb"))
        buffered = io.BufferedReader(hashing, buffer_size=1 << 20)
        stream: BinaryIO = gzip.GzipFile(fileobj=buffered) if file.path.endswith(".gz") else buffered
        return stream, hashing

    @contextmanager
    def local_copy(self, file: LandingFile) -> Iterator[tuple[Path, str]]:
        """A seekable local path of the file (Parquet needs one) and the file's sha256."""
        path = Path(self.root) / file.path
        with path.open("rb") as f:
            yield path, hashlib.file_digest(f, "sha256").hexdigest()

    def read_bytes(self, file: LandingFile) -> tuple[bytes, str]:
        data = (Path(self.root) / file.path).read_bytes()
        raw = gzip.decompress(data) if file.path.endswith(".gz") else data
        return raw, hashlib.sha256(data).hexdigest()
