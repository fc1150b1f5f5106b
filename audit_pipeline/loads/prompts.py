"""Prompt history: run git on the prompt repository and hand its output to the parser.

Every git command is limited to the prompt globs' folders and the CODEOWNERS files
(pathspecs), so git never reads another path's blobs: a large repository pays only for its
prompt files, and a blobless partial clone, a bare repository or a clone without a checkout
works as well as a full one. Blobs are read one at a time through one `git cat-file --batch`
and hashed as they stream; only CODEOWNERS texts are kept.
"""

from __future__ import annotations

import hashlib
import subprocess
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import NamedTuple

import pyarrow as pa

from audit_pipeline.lake import Lake
from audit_pipeline.sources.codeowners import CODEOWNERS_PATHS
from audit_pipeline.sources.prompt_collections import CollectionError, CollectionSpec, entry_hashes
from audit_pipeline.sources.prompt_history import (
    EVERY_COMMIT_ARGS,
    MAIN_LINE_ARGS,
    PARENTS_ARGS,
    History,
    PromptSelector,
    brought_in_by,
    build_history,
    parse_git_log,
    symbolic_links,
)

_NULL_BLOB = "0" * 40


class PromptRepoError(RuntimeError):
    """The prompt repository is missing or git cannot read it."""


def _git(repo: Path, *args: str) -> bytes:
    try:
        done = subprocess.run(["git", "--literal-pathspecs", "-C", str(repo), *args], capture_output=True, check=True)
    except FileNotFoundError as exc:
        raise PromptRepoError("git is not installed") from exc
    except subprocess.CalledProcessError as exc:
        message = exc.stderr.decode("utf-8", "replace").strip()
        raise PromptRepoError(f"{repo}: git {args[0]} failed: {message}") from exc
    return done.stdout


def _hash_blobs(repo: Path, blobs: Iterable[str], keep_text: set[str],
                parse: dict[str, Callable[[bytes], dict[str, str] | None]] | None = None,
                ) -> tuple[dict[str, str | None], dict[str, str], dict[str, dict[str, str] | None]]:
    """(blob → sha256 of its bytes, or None when the clone lacks it; blob → text for the blobs
    in `keep_text`; blob → what `parse[blob]` made of its bytes, for collection files),
    streaming one `git cat-file --batch`: memory holds one blob at a time."""
    parse = parse or {}
    ordered = sorted(set(blobs) | set(parse))
    hashes: dict[str, str | None] = {}
    texts: dict[str, str] = {}
    parsed: dict[str, dict[str, str] | None] = {}
    if not ordered:
        return hashes, texts, parsed
    process = subprocess.Popen(["git", "-C", str(repo), "cat-file", "--batch"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def feed() -> None:  # a separate writer: git answers while we still ask
        with process.stdin:
            for blob in ordered:
                process.stdin.write(f"{blob}\n".encode())

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    out = process.stdout
    for blob in ordered:
        header = out.readline().decode().split()
        if len(header) < 3 or header[1] == "missing":
            hashes[blob] = None  # a partial clone without this blob
            continue
        remaining, digest, chunks = int(header[2]), hashlib.sha256(), []
        whole = blob in keep_text or blob in parse
        while remaining:
            chunk = out.read(min(remaining, 1 << 20))
            if not chunk:
                raise PromptRepoError(f"{repo}: git cat-file ended inside blob {blob}")
            digest.update(chunk)
            if whole:
                chunks.append(chunk)
            remaining -= len(chunk)
        out.read(1)  # the newline after the content
        hashes[blob] = digest.hexdigest()
        if blob in keep_text:
            texts[blob] = b"".join(chunks).decode("utf-8", "replace")
        if blob in parse:
            parsed[blob] = parse[blob](b"".join(chunks))
    writer.join()
    process.wait()
    return hashes, texts, parsed


def pathspecs(globs: Iterable[str]) -> list[str]:
    """The folders the globs can select (their fixed prefixes; the whole tree for a glob that
    starts with a wildcard) and the CODEOWNERS files."""
    prefixes = {PromptSelector.fixed_prefix(g).rstrip("/") or "." for g in globs}
    return sorted(prefixes | set(CODEOWNERS_PATHS))


def _shallow_boundary(repo: Path) -> frozenset[str]:
    shallow = Path(_git(repo, "rev-parse", "--git-path", "shallow").decode().strip())
    shallow = shallow if shallow.is_absolute() else repo / shallow
    return frozenset(shallow.read_text().split()) if shallow.exists() else frozenset()


def _entries_or_none(spec: CollectionSpec, where: str) -> Callable[[bytes], dict[str, str] | None]:
    def parse(raw: bytes) -> dict[str, str] | None:
        try:
            return entry_hashes(spec, raw, where)
        except CollectionError:
            return None  # this version counts as one prompt: its history is kept, not lost
    return parse


class PromptHistory(NamedTuple):
    commits: pa.Table
    versions: pa.Table
    refused: list[str]
    """Selected paths that were symbolic links (refused, never followed), one line each."""


def read_prompt_history(repo_path: str, globs: tuple[str, ...],
                        collections: tuple[CollectionSpec, ...] = ()) -> PromptHistory:
    """(prompt_commits, prompt_versions, refused links) of the repository at `repo_path`;
    files matching a declared collection give one prompt per entry."""
    repo = Path(repo_path)
    if not (repo / ".git").exists() and not (repo / "HEAD").exists():
        raise PromptRepoError(f"{repo}: not a git repository (set AUDIT_PROMPT_REPO)")
    selected = (*globs, *(c.path for c in collections))
    specs = ["HEAD", "--", *pathspecs(selected)]
    history = History(
        main_line=parse_git_log(_git(repo, *MAIN_LINE_ARGS, *specs).decode("utf-8", "replace")),
        every_commit=parse_git_log(_git(repo, *EVERY_COMMIT_ARGS, *specs).decode("utf-8", "replace")),
        brought_in_by=brought_in_by(_git(repo, *PARENTS_ARGS, "HEAD").decode(),
                                    _git(repo, "rev-list", "--first-parent", "--reverse", "HEAD").decode().split()),
        shallow_boundary=_shallow_boundary(repo),
    )
    selector = PromptSelector(selected)
    # Versions are main-line states: only their blobs are hashed, and CODEOWNERS as it stood there.
    changes = [change for commit in history.main_line for change in commit.changes if change.new_blob != _NULL_BLOB]
    owners = {change.new_blob for change in changes if change.path in CODEOWNERS_PATHS}
    prompts = {change.new_blob for change in changes if selector.prompt_id(change.path) is not None}
    parse = {change.new_blob: _entries_or_none(spec, f"{change.path}@{change.new_blob[:12]}")
             for change in changes for spec in collections if spec.matches(change.path)}
    links = {change.new_blob for change in changes if change.is_link}
    hashes, texts, entries = _hash_blobs(repo, (prompts | owners) - links, owners, parse)
    commits, versions = build_history(history, selector, content_sha256=hashes.get,
                                      blob_text=lambda blob: texts.get(blob, ""),
                                      collection_entries=lambda path, blob: entries.get(blob) if blob in parse else None)
    return PromptHistory(commits, versions, symbolic_links(history, selector))


def store_prompt_history(lake: Lake, repo_path: str, globs: tuple[str, ...],
                         collections: tuple[CollectionSpec, ...] = ()) -> PromptHistory:
    """The `prompt_history` asset's work: read the repository's history and replace
    `prompt_commits` and `prompt_versions` only where they changed (an unchanged history keeps
    its files, so nothing downstream looks stale). Returns what it read."""
    history = read_prompt_history(repo_path, globs, collections)
    lake.replace_all_if_changed("prompt_commits", history.commits)
    lake.replace_all_if_changed("prompt_versions", history.versions)
    return history
