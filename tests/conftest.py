"""Shared fixtures: a real git repository builder, a small sample landing zone, and that
sample materialized once per storage kind (local folders, S3) for the tests that only read it."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from audit_pipeline.lake import Lake
from audit_pipeline.local_s3 import S3Server
from audit_pipeline.runner import RunOutcome, materialize_range
from audit_pipeline.sample.generator import SampleSpec, generate_sample
from audit_pipeline.settings import Settings, load_settings
from audit_pipeline.storage import lake_for, landing_for

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
        self._git("commit", "-q", "--no-gpg-sign", "-m", message, env=self._env(when, author))
        return self._git("rev-parse", "HEAD")

    @staticmethod
    def _env(when: str, author: str) -> dict:
        return {**os.environ, "GIT_AUTHOR_NAME": author, "GIT_AUTHOR_EMAIL": f"{author}@example.com",
                "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_NAME": author,
                "GIT_COMMITTER_EMAIL": f"{author}@example.com", "GIT_COMMITTER_DATE": when,
                "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}

    def branch(self, name: str, start: str = "main") -> None:
        self._git("checkout", "-q", "-b", name, start)

    def checkout(self, name: str) -> None:
        self._git("checkout", "-q", name)

    def merge(self, when: str, merger: str, branch: str, message: str) -> str:
        """A merge commit (never a fast-forward), as a host's merge button makes it."""
        self._git("merge", "-q", "--no-ff", "--no-gpg-sign", "-m", message, branch, env=self._env(when, merger))
        return self._git("rev-parse", "HEAD")

    def git(self, *args: str) -> str:
        return self._git(*args)


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


@dataclass(frozen=True)
class Pipeline:
    """Every asset materialized for the sample's days in one recorded Dagster run."""

    settings: Settings
    environment: dict[str, str]
    """The variables the settings came from: a test runs the CLI against this lake with them."""
    truth: dict
    outcome: RunOutcome

    @property
    def lake(self) -> Lake:
        return lake_for(self.settings)

    @property
    def days(self) -> list[date]:
        return [date.fromisoformat(d) for d in self.truth["days"]]


def _materialize(environment: dict[str, str], truth: dict) -> Pipeline:
    settings = load_settings(environment)
    days = [date.fromisoformat(d) for d in truth["days"]]
    outcome = materialize_range(settings, days[0], days[-1])
    assert outcome.success, outcome.failed_steps
    return Pipeline(settings, environment, truth, outcome)


def _pipeline_environment(root: Path, landing: str) -> dict[str, str]:
    return {"AUDIT_LANDING": landing, "AUDIT_LAKE": str(root / "lake"), "AUDIT_REPORTS": str(root / "reports"),
            "AUDIT_EXPORTS": str(root / "exports"), "DAGSTER_HOME": str(root / "dagster_home")}


@pytest.fixture(scope="session")
def local_pipeline(sample_landing, tmp_path_factory) -> Pipeline:
    """The sample through every asset on local folders, once per session. Tests that only read
    the lake share it; a test that changes the lake copies it (`local_pipeline_copy`)."""
    landing, truth = sample_landing
    return _materialize(_pipeline_environment(tmp_path_factory.mktemp("local-pipeline"), str(landing)), truth)


def s3_pipeline_in(bucket: str, sample_landing, root: Path, s3_server: S3Server) -> Pipeline:
    """The sample uploaded to `bucket` on the S3 server and run with the lake on S3 too."""
    from audit_pipeline.cli import publish_tree

    landing, truth = sample_landing
    s3_server.create_bucket(bucket)
    environment = {**_pipeline_environment(root, f"s3://{bucket}/landing"), "AUDIT_LAKE": f"s3://{bucket}/lake",
                   "AUDIT_PROMPT_REPO": str(landing / "prompt-repo"), **s3_server.env()}
    publish_tree(landing, landing_for(load_settings(environment)))
    return _materialize(environment, truth)


@pytest.fixture(scope="session")
def s3_pipeline(sample_landing, tmp_path_factory, s3_server) -> Pipeline:
    """The same sample uploaded to the S3 server, with the lake on S3 too (reports local)."""
    return s3_pipeline_in("session-pipeline", sample_landing, tmp_path_factory.mktemp("s3-pipeline"), s3_server)


def copy_of(pipeline: Pipeline, root: Path) -> Pipeline:
    """A private copy of a local pipeline's lake, reports and Dagster home under `root`."""
    import shutil

    shutil.copytree(Path(pipeline.settings.lake).parent, root, dirs_exist_ok=True)
    environment = {**pipeline.environment, **_pipeline_environment(root, pipeline.environment["AUDIT_LANDING"])}
    return Pipeline(load_settings(environment), environment, pipeline.truth, pipeline.outcome)


@pytest.fixture(params=["local", "s3"])
def materialized(request):
    """Every asset for the sample's days, on local folders and fully on S3 (one session-wide
    run each: the tests that take it only read)."""
    pipeline = request.getfixturevalue(f"{request.param}_pipeline")
    return pipeline.settings, pipeline.lake, pipeline.truth, pipeline.outcome


@pytest.fixture
def local_pipeline_copy(local_pipeline, tmp_path) -> Pipeline:
    """A private copy of the local lake, reports and Dagster home, for a test that changes them."""
    return copy_of(local_pipeline, tmp_path / "pipeline")


@pytest.fixture(autouse=True)
def no_environment_leaks():
    """No test leaves a variable behind (the demo's signing key, S3 credentials, DAGSTER_HOME)
    for the next: whatever a test sets must be undone by the end of it."""
    before = dict(os.environ)
    yield
    after = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    assert after == {k: v for k, v in before.items() if k != "PYTEST_CURRENT_TEST"}, "environment changed"
