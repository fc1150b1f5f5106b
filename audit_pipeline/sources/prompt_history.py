"""Prompt-repository history (the text of `git log --raw`) → commits and prompt versions.

A prompt version is a (path, main-line commit) where a selected file was added, changed,
renamed or deleted on the main line (HEAD's first-parent chain): a direct commit, or the
merge that brought a branch's edits in. Each version is valid from that commit's committer
time (when the change reached the main line) until the next change of the same file. The
commits that made it, on any branch, are its contributors: the version's author is the last
of them to edit the file (not whoever merged), and every one of them is listed. The approver
is an `Approved-by:` trailer of the merge or of a contributing commit, else the merge itself
(the person who merged, `approval_basis` `merge`), as hosts that approve by merging record it.

The prompt id is the path below the glob's fixed prefix without its extension
(`prompts/support/triage.md` → `support/triage`), so a rename starts a new id and records the
path it came from. Globs: `**` crosses folders, `*` and `?` stay within one. Owners come from
the CODEOWNERS file as it stood at that commit.

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

_LOG = ("--raw", "--no-abbrev", "-M", "--no-color", "--format=" + RECORD + GIT_LOG_FORMAT)
MAIN_LINE_ARGS = ("log", "--reverse", "--first-parent", "--diff-merges=first-parent", *_LOG)
"""The main line's commits that changed the given paths, each diffed against its first parent
(a merge shows what its branch brought in)."""
EVERY_COMMIT_ARGS = ("log", "--reverse", "--topo-order", "--full-history", "--diff-merges=off", *_LOG)
"""Every commit on any branch that changed the given paths (merges show no diff of their own)."""
PARENTS_ARGS = ("rev-list", "--parents")
"""`<commit> <parent>…` per line: which main-line commit brought each branch commit in."""

_TRAILER = re.compile(r"^Approved-by:\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)
_CHANGE_TYPES = {"A": "added", "M": "modified", "T": "modified", "R": "renamed", "D": "deleted",
                 "C": "added"}


SYMLINK_MODE = "120000"
"""git's file mode of a symbolic link: its blob is the link's target path, never a prompt."""


@dataclass(frozen=True)
class FileChange:
    status: str
    old_blob: str
    new_blob: str
    path: str
    old_path: str | None
    new_mode: str = "100644"

    @property
    def is_link(self) -> bool:
        return self.new_mode == SYMLINK_MODE


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
    _, new_mode, old_blob, new_blob, status = meta.split()
    kind = status[0]
    if kind in "RC":
        return FileChange(kind, old_blob, new_blob, paths[1], paths[0], new_mode)
    return FileChange(kind, old_blob, new_blob, paths[0], None, new_mode)


def parse_git_log(text: str) -> list[Commit]:
    """Parse the output of `git <MAIN_LINE_ARGS>` or `git <EVERY_COMMIT_ARGS>` into commits, oldest first."""
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
        self._globs = [(glob_to_regex(g), self.fixed_prefix(g)) for g in globs]

    @staticmethod
    def fixed_prefix(glob: str) -> str:
        """The folders before the glob's first wildcard (`prompts/` of `prompts/**/*.md`)."""
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


def symbolic_links(history: History, selector: PromptSelector) -> list[str]:
    """Each selected path that a main-line commit made a symbolic link: the link is refused
    (git's object for it is the target's path, and no file is ever followed), said once."""
    return [f"{change.path} (commit {commit.sha[:12]}): a symbolic link, refused: never followed, not a prompt"
            for commit in history.main_line for change in commit.changes
            if change.is_link and selector.prompt_id(change.path) is not None]


def brought_in_by(parents_text: str, main_line: list[str]) -> dict[str, str]:
    """Commit → the main-line commit that brought it in (itself for a main-line commit).

    `parents_text` is `git rev-list --parents HEAD`; `main_line` the first-parent chain,
    oldest first. Walking the main line from its start, a merge claims every commit reachable
    from its other parents that no earlier main-line commit claimed."""
    parents = {}
    for line in parents_text.splitlines():
        sha, *rest = line.split()
        parents[sha] = rest
    on_main = set(main_line)
    owner: dict[str, str] = {}
    for merge in main_line:
        owner[merge] = merge
        stack = list(parents.get(merge, [])[1:])
        while stack:
            sha = stack.pop()
            if sha in owner or sha in on_main:
                continue
            owner[sha] = merge
            stack.extend(parents.get(sha, []))
    return owner


def _touches(commit: Commit, path: str, previous_path: str | None) -> bool:
    """The commit changed the file at `path`, or at the path it was renamed from."""
    names = {path, previous_path} - {None}
    return any(c.path in names or c.old_path in names for c in commit.changes)


def _authorship(commit: Commit, change: FileChange, brought: list[Commit]) -> dict:
    """Who made a main-line change of one file, and who approved it: for a merge, the branch
    commits that touched the file (the last of them is the author; the merge itself when it
    resolved the file alone); approval from their or the merge's Approved-by trailers, else
    the person who merged."""
    merge = len(commit.parents.split()) > 1
    made_by = [c for c in brought if _touches(c, change.path, change.old_path)]
    if not merge or not made_by:
        made_by.append(commit)  # a direct commit, or a merge that resolved the file itself
    trailers = [t for c in [*made_by, commit] if (t := c.approved_by)]
    return {
        "author_name": made_by[-1].author_name,
        "author_email": made_by[-1].author_email,
        "contributors": _people(made_by),
        "approved_by": ", ".join(dict.fromkeys(trailers)) if trailers else (
            f"{commit.author_name} <{commit.author_email}>" if merge else None),
        "approval_basis": "trailer" if trailers else ("merge" if merge else None),
        "merge_committer": commit.committer_email if merge else None,
    }


def _people(commits: list[Commit]) -> str | None:
    """Distinct author e-mails, in order of their first contribution."""
    seen = list(dict.fromkeys(c.author_email for c in commits))
    return ",".join(seen) if seen else None


@dataclass(frozen=True)
class History:
    """What git said, parsed: the main line's commits that changed the selected paths, every
    commit on any branch that did, and which main-line commit brought each in."""

    main_line: list[Commit]
    every_commit: list[Commit]
    brought_in_by: dict[str, str]
    shallow_boundary: frozenset[str] = frozenset()
    """Commits whose parents this clone does not hold (a shallow clone): history starts there."""


def build_history(
    history: History,
    selector: PromptSelector,
    content_sha256: Callable[[str], str | None],
    blob_text: Callable[[str], str],
    collection_entries: Callable[[str, str], dict[str, str] | None] = lambda path, blob: None,
) -> tuple[pa.Table, pa.Table]:
    """Commits and prompt versions as Arrow tables.

    `content_sha256(blob)` hashes a blob's bytes (None when the clone lacks the blob);
    `blob_text(blob)` returns its text (used for CODEOWNERS only); `collection_entries(path,
    blob)` gives a prompt collection's entry hashes at that version (None: not a collection,
    or a version that does not parse, which then counts as one prompt).
    """
    open_entries: dict[str, dict[str, dict]] = {}  # collection path → entry id → its current row
    contributions: dict[str, list[Commit]] = {}
    main_shas = {c.sha for c in history.main_line}
    for commit in history.every_commit:
        if commit.sha not in main_shas and commit.changes:
            contributions.setdefault(history.brought_in_by.get(commit.sha, ""), []).append(commit)
    owner_rules: list = []
    open_version: dict[str, dict] = {}  # path → its current version row
    versions: list[dict] = []
    commit_rows: list[dict] = []
    for commit in history.main_line:
        brought = contributions.get(commit.sha, [])
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
            if change.is_link and not any(p in open_version or p in open_entries for p in closed_paths):
                continue  # a symbolic link where no prompt was: never read, nothing ends, nothing starts
            for path in closed_paths:
                previous = open_version.pop(path, None) if path else None
                if previous is not None:
                    previous["valid_to"] = commit.committed_at
            deleted = change.status == "D" or change.is_link  # a link is never read as a prompt
            if new_id is None:  # renamed out of the prompt folder: treat as a deletion
                new_id, deleted = old_id, True
            row = {
                "prompt_id": new_id,
                "version": commit.sha,
                "path": change.path,
                "previous_path": change.old_path,
                "content_sha256": None if deleted else content_sha256(change.new_blob),
                "blob_sha": None if deleted else change.new_blob,
                **_authorship(commit, change, brought),
                "committed_at": commit.committed_at,
                "valid_from": commit.committed_at,
                "valid_to": None,
                "change_type": "deleted" if deleted else _CHANGE_TYPES[change.status],
                "owners": owners_of(change.path, owner_rules),
            }
            entries = None if deleted else collection_entries(change.path, change.new_blob)
            previous_entries = open_entries.pop(closed_paths[0], None) if closed_paths[0] else None
            if entries is not None or (deleted and previous_entries is not None):
                rows, current = _entry_versions(row, previous_entries or {}, entries or {}, commit.committed_at,
                                                renamed=change.status == "R")
                versions += rows
                if entries is not None:
                    open_entries[change.path] = current
                continue
            if previous_entries is not None:
                open_entries[closed_paths[0]] = previous_entries  # an unparseable version: entries stand
            versions.append(row)
            if not deleted:
                open_version[change.path] = row
        commit_rows.append(_commit_row(commit, prompt_changes, commit.sha, history.shallow_boundary))
    for main_sha, brought in contributions.items():
        for commit in brought:
            changed = sum(1 for c in commit.changes
                          if selector.prompt_id(c.path) is not None
                          or (c.old_path is not None and selector.prompt_id(c.old_path) is not None))
            commit_rows.append(_commit_row(commit, changed, main_sha or None, history.shallow_boundary))
    return (
        pa.Table.from_pylist(commit_rows, schema=PROMPT_COMMITS),
        pa.Table.from_pylist(versions, schema=PROMPT_VERSIONS),
    )


def _entry_versions(file_row: dict, previous: dict[str, dict], entries: dict[str, str], moment: datetime,
                    renamed: bool) -> tuple[list[dict], dict[str, dict]]:
    """The versions one change of a collection file makes, and each entry's current row.

    An entry added, changed or removed (every entry, when the file was renamed) gets a row of
    its own, `<file id>/<entry id>`; an unchanged entry keeps its open version."""
    rows, current = [], {}
    for entry in sorted(set(previous) | set(entries)):
        before, digest = previous.get(entry), entries.get(entry)
        if before is not None and digest == before["content_sha256"] and not renamed:
            current[entry] = before
            continue
        if before is not None:
            before["valid_to"] = moment
        change_type = ("deleted" if digest is None else "added" if before is None
                       else "renamed" if renamed else "modified")
        row = {**file_row, "prompt_id": f"{file_row['prompt_id']}/{entry}", "content_sha256": digest,
               "change_type": change_type, "valid_to": None}
        rows.append(row)
        if digest is not None:
            current[entry] = row
    return rows, current


def _commit_row(commit: Commit, prompt_changes: int, main_line_commit: str | None,
                shallow_boundary: frozenset[str]) -> dict:
    return {
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
        "on_main_line": main_line_commit == commit.sha,
        "main_line_commit": main_line_commit,
        "shallow_boundary": commit.sha in shallow_boundary,
    }
