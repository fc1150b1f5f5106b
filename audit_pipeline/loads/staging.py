"""Work a shard's step leaves on the lake for the step that commits it.

`_staging/<table>/<first>_<last>/<k>-of-<n>/` holds a shard's files and, written last, its
`manifest.json`: a shard without a manifest was never (or not completely) staged. Restaging
a shard replaces it; the commit removes the whole range once the table is written. The lake
is the only state steps share, so a shard may be staged in any process, pod or machine.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from audit_pipeline.landing import Landing

ROOT = "_staging"
MANIFEST = "manifest.json"


class ShardNotReady(RuntimeError):
    """A shard's staging is missing, or was made from inputs that changed since."""


@dataclass(frozen=True)
class Shard:
    """One of `count` disjoint parts of a run's work (1-based `number`), by a stable hash of
    a key: the same key is in the same shard on every run and every machine."""

    number: int
    count: int

    def holds(self, key: str) -> bool:
        if self.count == 1:
            return True
        digest = hashlib.sha256(key.encode()).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.number - 1

    @property
    def name(self) -> str:
        return f"{self.number}-of-{self.count}"


EVERYTHING = Shard(1, 1)


def shard_step(table: str, shard: Shard) -> str:
    """The asset (and step) that stages `shard` of `table`."""
    return f"{table}_shard_{shard.number}"


@dataclass(frozen=True)
class Staging:
    """The staging area of one table for the days [first, last]."""

    store: Landing
    table: str
    first: date
    last: date

    def prefix(self, shard: Shard | None = None) -> str:
        base = f"{ROOT}/{self.table}/{self.first.isoformat()}_{self.last.isoformat()}"
        return f"{base}/{shard.name}" if shard else base

    def put(self, shard: Shard, folder: Path, manifest: dict, staged_at: datetime) -> None:
        """Stage every file below `folder` (relative paths kept) and then the manifest."""
        prefix = self.prefix(shard)
        self.store.remove(prefix)
        files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
        for name in files:
            self.store.upload(f"{prefix}/{name}", folder / name)
        self.store.write_bytes(f"{prefix}/{MANIFEST}", json.dumps(
            {**manifest, "files": files, "staged_at": staged_at.isoformat()}, sort_keys=True, default=str).encode())

    def get(self, shard: Shard, folder: Path) -> dict:
        """Download a shard's files into `folder`; its manifest."""
        prefix = self.prefix(shard)
        found = [f for f in self.store.list(prefix, (MANIFEST,)) if f.path.endswith(f"{shard.name}/{MANIFEST}")]
        if not found:
            raise ShardNotReady(f"shard {shard.name} of {self.table} for {self.first}..{self.last} was not staged: "
                                f"materialize {shard_step(self.table, shard)} for these days first")
        manifest = json.loads(self.store.read_bytes(found[0])[0])
        for name in manifest["files"]:
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            self.store.download(f"{prefix}/{name}", folder / name)
        return manifest

    def remove(self) -> None:
        self.store.remove(self.prefix())


ABANDONED_AFTER = timedelta(days=2)
"""Staging older than this was left by a run that never committed (it failed, or its range
was never run again): it holds call rows outside every retention rule, so it is removed."""


def remove_abandoned(store: Landing, table: str, now: datetime) -> list[str]:
    """Remove every staged range of `table` with a shard staged more than ABANDONED_AFTER
    before `now`; returns the ranges removed. Called by each commit."""
    removed = []
    for found in store.list(f"{ROOT}/{table}", (MANIFEST,)):
        staged_at = json.loads(store.read_bytes(found)[0]).get("staged_at")
        if staged_at and datetime.fromisoformat(staged_at) < now - ABANDONED_AFTER:
            area = found.path.split("/")[2]
            if area not in removed:
                store.remove(f"{ROOT}/{table}/{area}")
                removed.append(area)
    return removed
