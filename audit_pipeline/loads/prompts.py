"""Prompt history: run git on the prompt repository and hand its output to the parser."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pyarrow as pa

from audit_pipeline.lake import Lake
from audit_pipeline.sources.codeowners import CODEOWNERS_PATHS
from audit_pipeline.sources.prompt_history import (
    GIT_LOG_ARGS,
    PromptSelector,
    build_history,
    parse_git_log,
)

_NULL_BLOB = "0" * 40


class PromptRepoError(RuntimeError):
    """The prompt repository is missing or git cannot read it."""


def _git(repo: Path, *args: str, stdin: bytes | None = None) -> bytes:
    try:
        done = subprocess.run(
            ["git", "-C", str(repo), *args], input=stdin, capture_output=True, check=True
        )
    except FileNotFoundError as exc:
        raise PromptRepoError("git is not installed") from exc
    except subprocess.CalledProcessError as exc:
        message = exc.stderr.decode("utf-8", "replace").strip()
        raise PromptRepoError(f"{repo}: git {args[0]} failed: {message}") from exc
    return done.stdout


def _read_blobs(repo: Path, blobs: set[str]) -> dict[str, bytes]:
    """Fetch many blobs in one `git cat-file --batch` call."""
    if not blobs:
        return {}
    ordered = sorted(blobs)
    out = _git(repo, "cat-file", "--batch", stdin=("\n".join(ordered) + "\n").encode())
    contents, pos = {}, 0
    for blob in ordered:
        header_end = out.index(b"\n", pos)
        size = int(out[pos:header_end].split()[2])
        contents[blob] = out[header_end + 1 : header_end + 1 + size]
        pos = header_end + 1 + size + 1  # content is followed by a newline
    return contents


def read_prompt_history(repo_path: str, globs: tuple[str, ...]) -> tuple[pa.Table, pa.Table]:
    """(prompt_commits, prompt_versions) of the repository at `repo_path`."""
    repo = Path(repo_path)
    if not (repo / ".git").exists() and not (repo / "HEAD").exists():
        raise PromptRepoError(f"{repo}: not a git repository (set AUDIT_PROMPT_REPO)")
    commits = parse_git_log(_git(repo, *GIT_LOG_ARGS).decode("utf-8", "replace"))
    selector = PromptSelector(globs)
    wanted = {
        change.new_blob
        for commit in commits
        for change in commit.changes
        if change.new_blob != _NULL_BLOB
        and (change.path in CODEOWNERS_PATHS or selector.prompt_id(change.path) is not None)
    }
    contents = _read_blobs(repo, wanted)
    return build_history(
        commits,
        selector,
        content_sha256=lambda blob: hashlib.sha256(contents[blob]).hexdigest(),
        blob_text=lambda blob: contents[blob].decode("utf-8", "replace"),
    )


def store_prompt_history(lake: Lake, repo_path: str, globs: tuple[str, ...]) -> tuple[pa.Table, pa.Table]:
    """The `prompt_history` asset's work: read the repository's history and replace
    `prompt_commits` and `prompt_versions` only where they changed (an unchanged history keeps
    its files, so nothing downstream looks stale). Returns (commits, versions)."""
    commits, versions = read_prompt_history(repo_path, globs)
    lake.replace_all_if_changed("prompt_commits", commits)
    lake.replace_all_if_changed("prompt_versions", versions)
    return commits, versions
