"""Build the sample prompt repository: a real git repository with a realistic history.

Several authors, commits spread over the sample days (adds, edits, a rename, a deletion, a
prompt that first appears mid-period), a CODEOWNERS file, and `Approved-by:` trailers on
some commits only. Dates are fixed per seed, so the same seed gives the same commit shas.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

AUTHORS = {
    "alice": ("Alice Martin", "alice@example.com"),
    "bob": ("Bob Okafor", "bob@example.com"),
    "carol": ("Carol Chen", "carol@example.com"),
    "dave": ("Dave Novak", "dave@example.com"),
}

CODEOWNERS = """\
# Prompt owners: reviews are required from these teams.
/prompts/support/   @acme/support-ai
/prompts/hr/        @acme/hr-ai @acme/legal
/prompts/docs/      @acme/platform
/prompts/search/    @acme/search
"""


@dataclass(frozen=True)
class PromptEdit:
    """One commit of the sample history, `day` counted from the first sample day."""

    day: int
    hour: int
    author: str
    message: str
    writes: dict[str, str]
    renames: tuple[tuple[str, str], ...] = ()
    deletes: tuple[str, ...] = ()
    approver: str | None = None


def _prompt_text(name: str, revision: int) -> str:
    return (
        f"# {name}\n\nYou are a careful assistant for the {name.split('/')[0]} team.\n"
        f"Revision {revision}: follow the policy, cite sources, never reveal personal data.\n"
    )


def sample_history(days: int) -> list[PromptEdit]:
    """The scripted history, scaled to the number of sample days (at least 3)."""
    mid, late = max(1, days // 2), max(2, days - 1)
    return [
        PromptEdit(-30, 9, "alice", "Add support, HR and search prompts", {
            "CODEOWNERS": CODEOWNERS,
            "prompts/support/triage.md": _prompt_text("support/triage", 1),
            "prompts/support/answer.md": _prompt_text("support/answer", 1),
            "prompts/hr/cv_screen.md": _prompt_text("hr/cv_screen", 1),
            "prompts/hr/cv_summary.md": _prompt_text("hr/cv_summary", 1),
            "prompts/search/rewrite.md": _prompt_text("search/rewrite", 1),
            "README.md": "Prompt repository. Changes need an approval trailer.\n",
        }, approver="bob"),
        PromptEdit(0, 14, "bob", "Tighten triage categories",
                   {"prompts/support/triage.md": _prompt_text("support/triage", 2)},
                   approver="alice"),
        PromptEdit(1, 12, "carol", "Add document summarizer prompt",
                   {"prompts/docs/summarize.md": _prompt_text("docs/summarize", 1)}),
        PromptEdit(mid, 10, "dave", "Rename support answer prompt to reply",
                   {}, renames=(("prompts/support/answer.md", "prompts/support/reply.md"),),
                   approver="alice"),
        PromptEdit(mid, 16, "alice", "CV screening: remove age-related wording",
                   {"prompts/hr/cv_screen.md": _prompt_text("hr/cv_screen", 2)},
                   approver="alice"),  # author approved her own change: flagged later
        PromptEdit(late, 8, "bob", "Retire the CV summary prompt",
                   {}, deletes=("prompts/hr/cv_summary.md",), approver="carol"),
        PromptEdit(late, 11, "carol", "Search rewrite: prefer recent documents",
                   {"prompts/search/rewrite.md": _prompt_text("search/rewrite", 2),
                    "notes/meeting.txt": "Not a prompt: outside AUDIT_PROMPT_GLOBS.\n"}),
    ]


def _git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env
    ).stdout


def build_prompt_repo(repo: Path, first_day: date, days: int) -> None:
    """Create the repository at `repo` (which must not exist yet)."""
    repo.mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main")
    for edit in sample_history(days):
        for path, text in edit.writes.items():
            target = repo / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        for old, new in edit.renames:
            _git(repo, "mv", old, new)
        for path in edit.deletes:
            _git(repo, "rm", "-q", path)
        _git(repo, "add", "-A")
        when = datetime.combine(first_day + timedelta(days=edit.day), time(edit.hour),
                                tzinfo=UTC).isoformat()
        name, email = AUTHORS[edit.author]
        message = edit.message
        if edit.approver:
            approver_name, approver_email = AUTHORS[edit.approver]
            message += f"\n\nApproved-by: {approver_name} <{approver_email}>"
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_AUTHOR_DATE": when,
            "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email, "GIT_COMMITTER_DATE": when,
            "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
        }
        _git(repo, "commit", "-q", "--no-gpg-sign", "-m", message, env=env)
