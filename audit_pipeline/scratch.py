"""Scratch folders a process owns, named after its process id, so that what a killed run left
behind (staged Parquet, downloaded exports) is removed by the next run instead of filling
TMPDIR."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_OWNED = re.compile(r"^audit-[a-z]+-(\d+)-")


def alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def scratch(kind: str) -> Iterator[Path]:
    """A private folder for this process's `kind` of work, removed when the block ends."""
    with tempfile.TemporaryDirectory(prefix=f"audit-{kind}-{os.getpid()}-") as folder:
        yield Path(folder)


def remove_orphans(root: str | None = None) -> list[Path]:
    """Remove scratch folders whose process is gone (a killed run); returns what was removed."""
    removed = []
    for folder in Path(root or tempfile.gettempdir()).iterdir():
        owner = _OWNED.match(folder.name)
        if owner and folder.is_dir() and not folder.is_symlink() and not alive(int(owner.group(1))):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed
