"""Prompt-repository history (the text of `git log --raw`) → commits and prompt versions.

A prompt version is a (path, commit) where a selected file was added, changed, renamed or
deleted. Each version is valid from its commit's committer time (when the change landed)
until the next change of the same file. The prompt id is the path below the glob's fixed
prefix without its extension (`prompts/support/triage.md` → `support/triage`), so a rename
starts a new id and records the path it came from. Owners come from the CODEOWNERS file as
it stood at that commit; approvals from `Approved-by:` trailers.

This module parses text it is handed; running git is the loader's job.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePosixPath

import pyarrow as pa

from audit_pipeline.schemas import PROMPT_COMMITS, PROMPT_VERSIONS
from audit_pipeline.sources.codeowners import CODEOWNERS_PATHS, owners_of, parse_codeowners
from audit_pipeline.sources.globs import glob_body

RECORD = "\x1e"
FIELD = "\x1f"
GIT_LOG_FORMAT = FIELD.join(["%H", "%P", "%an", "%ae", "%aI", "%ce", "%cI", "%B"]) + FIELD
"""Pass as `git log --format=%x1e<this>`; the raw diff lines follow the last separator."""

GIT_LOG_ARGS = (
    "log", "--reverse", "--topo-order", "--first-parent", "--diff-merges=first-parent",
    "--raw", "--no-abbrev", "-M", "--no-color", "--format=" + RECORD + GIT_LOG_FORMAT,
)

_TRAILER = re.compile(r"^Approved-by:\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)
_CHANGE_TYPES = {"A": "added", "M": "modified", "T": "modified", "R": "renamed", "D": "deleted",
                 "C": "added"}


@dataclass(frozen=True)
class FileChange:
    status: str
    old_blob: str
    new_blob: str
    path: str
    old_path: str | None


@dataclass(frozen=True)
class Commit:
    sha: str
    parents: str
    author_name: str
    author_email: str
    authored_at: datetime
    committer_email: str
    committed_at: datetime
    message: str
    changes: tuple[FileChange, ...]

    @property
    def approved_by(self) -> str | None:
        found = _TRAILER.findall(self.message)
        return ", ".join(found) if found else None


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _parse_raw_line(line: str) -> FileChange:
    # ":100644 100644 <old> <new> R087\told/path\tnew/path"
    meta, *paths = line[1:].split("\t")
    _, _, old_blob, new_blob, status = meta.split()
    kind = status[0]
    if kind in "RC":
        return FileChange(kind, old_blob, new_blob, paths[1], paths[0])
    return FileChange(kind, old_blob, new_blob, paths[0], None)


def parse_git_log(text: str) -> list[Commit]:
    """Parse the output of `git <GIT_LOG_ARGS>` into commits, oldest first."""
    commits = []
    for record in text.split(RECORD)[1:]:
        sha, parents, an, ae, ad, ce, cd, message, raw = record.split(FIELD, 8)
        changes = tuple(
            _parse_raw_line(line) for line in raw.splitlines() if line.startswith(":")
        )
        commits.append(
            Commit(sha, parents, an, ae, _utc(ad), ce, _utc(cd), message.strip(), changes)
        )
    return commits


def glob_to_regex(glob: str) -> re.Pattern[str]:
    return re.compile("^" + glob_body(glob) + "$")


class PromptSelector:
    """Decides which repository paths are prompts (AUDIT_PROMPT_GLOBS) and names them."""

    def __init__(self, globs: Iterable[str]):
        self._globs = [(glob_to_regex(g), self._fixed_prefix(g)) for g in globs]

    @staticmethod
    def _fixed_prefix(glob: str) -> str:
        parts = []
        for part in glob.split("/"):
            if any(c in part for c in "*?["):
                break
            parts.append(part)
        return "/".join(parts) + "/" if parts else ""

    def prompt_id(self, path: str) -> str | None:
        """The prompt id of a selected path, or None when no glob selects it."""
        for regex, prefix in self._globs:
            if regex.match(path):
                below = path[len(prefix):] if path.startswith(prefix) else path
                return str(PurePosixPath(below).with_suffix(""))
        return None


def build_history(
    commits: list[Commit],
    selector: PromptSelector,
    content_sha256: Callable[[str], str],
    blob_text: Callable[[str], str],
) -> tuple[pa.Table, pa.Table]:
    """Commits and prompt versions as Arrow tables.

    `content_sha256(blob)` hashes a blob's bytes; `blob_text(blob)` returns its text (used
    for CODEOWNERS only).
    """
    owner_rules: list = []
    open_version: dict[str, dict] = {}  # path → its current version row
    versions: list[dict] = []
    commit_rows: list[dict] = []
    for commit in commits:
        for change in commit.changes:
            if change.path in CODEOWNERS_PATHS:
                owner_rules = [] if change.status == "D" else parse_codeowners(blob_text(change.new_blob))
        prompt_changes = 0
        for change in commit.changes:
            closed_paths = [change.old_path] if change.status == "R" else [change.path]
            new_id = selector.prompt_id(change.path)
            old_id = selector.prompt_id(change.old_path) if change.old_path else None
            if new_id is None and old_id is None:
                continue
            prompt_changes += 1
            for path in closed_paths:
                previous = open_version.pop(path, None) if path else None
                if previous is not None:
                    previous["valid_to"] = commit.committed_at
            deleted = change.status == "D"
            if new_id is None:  # renamed out of the prompt folder: treat as a deletion
                new_id, deleted = old_id, True
            row = {
                "prompt_id": new_id,
                "version": commit.sha,
                "path": change.path,
                "previous_path": change.old_path,
                "content_sha256": None if deleted else content_sha256(change.new_blob),
                "blob_sha": None if deleted else change.new_blob,
                "author_name": commit.author_name,
                "author_email": commit.author_email,
                "approved_by": commit.approved_by,
                "committed_at": commit.committed_at,
                "valid_from": commit.committed_at,
                "valid_to": None,
                "change_type": "deleted" if deleted else _CHANGE_TYPES[change.status],
                "owners": owners_of(change.path, owner_rules),
            }
            versions.append(row)
            if not deleted:
                open_version[change.path] = row
        commit_rows.append(
            {
                "commit_sha": commit.sha,
                "parent_shas": commit.parents or None,
                "author_name": commit.author_name,
                "author_email": commit.author_email,
                "authored_at": commit.authored_at,
                "committer_email": commit.committer_email,
                "committed_at": commit.committed_at,
                "message": commit.message,
                "approved_by": commit.approved_by,
                "files_changed": prompt_changes,
            }
        )
    return (
        pa.Table.from_pylist(commit_rows, schema=PROMPT_COMMITS),
        pa.Table.from_pylist(versions, schema=PROMPT_VERSIONS),
    )
