"""Shared fixtures: a real git repository builder and a small sample landing zone."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from audit_pipeline.local_s3 import S3Server
from audit_pipeline.sample.generator import SampleSpec, generate_sample
from audit_pipeline.settings import load_settings

FIXTURES = Path(__file__).parent / "fixtures"
PARSED_AT = datetime(2026, 11, 27, tzinfo=UTC)
"""The ingestion time parser tests hand in."""


def fixture_bytes(*parts: str) -> bytes:
    """A fixture file's bytes, e.g. fixture_bytes("openai", "usage_page.json")."""
    return FIXTURES.joinpath(*parts).read_bytes()
SAMPLE_END = date(2026, 11, 20)


class GitRepo:
    """A real git repository whose commits carry chosen authors and times."""

    def __init__(self, path: Path):
        self.path = path
        path.mkdir(parents=True)
        self._git("init", "-q", "-b", "main")

    def _git(self, *args: str, env: dict | None = None) -> str:
        return subprocess.run(["git", "-C", str(self.path), *args], check=True,
                              capture_output=True, text=True, env=env).stdout.strip()

    def commit(self, when: str, author: str, message: str, *, write: dict | None = None,
               move: tuple[str, str] | None = None, delete: str | None = None) -> str:
        for rel, text in (write or {}).items():
            target = self.path / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        if move:
            self._git("mv", *move)
        if delete:
            self._git("rm", "-q", delete)
        self._git("add", "-A")
        env = {**os.environ, "GIT_AUTHOR_NAME": author, "GIT_AUTHOR_EMAIL": f"{author}@example.com",
               "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_NAME": author,
               "GIT_COMMITTER_EMAIL": f"{author}@example.com", "GIT_COMMITTER_DATE": when,
               "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
        self._git("commit", "-q", "--no-gpg-sign", "-m", message, env=env)
        return self._git("rev-parse", "HEAD")


@pytest.fixture
def git_repo(tmp_path: Path) -> GitRepo:
    return GitRepo(tmp_path / "prompt-repo")


@pytest.fixture(scope="session")
def sample_landing(tmp_path_factory) -> tuple[Path, dict]:
    """Three days of sample data (generated once per test session; treat as read-only)."""
    landing = tmp_path_factory.mktemp("sample") / "landing"
    truth = generate_sample(SampleSpec(landing, days=3, seed=11, calls_per_day=400, end=SAMPLE_END))
    return landing, truth


@pytest.fixture(scope="session")
def s3_server():
    """A moto S3 server on 127.0.0.1 for the whole session."""
    server = S3Server()
    yield server
    server.stop()


@pytest.fixture
def settings_for(tmp_path: Path):
    """Settings pointing at a landing zone, with a fresh lake and Dagster home per test.

    `landing` may be an `s3://` URI; then `s3` (an S3Server) gives the endpoint and the
    lake goes to S3 as well.
    """

    def make(landing: Path | str, s3: S3Server | None = None, lake: str | None = None,
             config: Path | None = None):
        env = {
            "AUDIT_LANDING": str(landing),
            "AUDIT_LAKE": lake or str(tmp_path / "lake"),
            "AUDIT_EXPORTS": str(tmp_path / "exports"),
            "AUDIT_REPORTS": str(tmp_path / "reports"),
            "DAGSTER_HOME": str(tmp_path / "dagster_home"),
            **({"AUDIT_CONFIG": str(config)} if config else {}),
        }
        return load_settings({**env, **(s3.env() if s3 else {})})

    return make
