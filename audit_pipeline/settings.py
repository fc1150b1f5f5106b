"""The only reader of the environment: typed settings for every other module.

Every variable is optional; defaults are relative to the repository root (the current
working directory), so `make demo` works with nothing configured. docs/contract.md lists the
contract; anything added here must be added there too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

DEFAULT_START_DATE = "2025-01-01"
"""First daily partition unless AUDIT_START_DATE says otherwise. A fixed date (not "today
minus N") keeps the partition set stable between runs."""

DEFAULT_LOOKBACK_DAYS = 3
"""Billing exports are restated for days after the fact, so the nightly run re-processes
yesterday plus this many earlier days."""


@dataclass(frozen=True)
class S3Access:
    """How to reach an S3 API (AWS or any compatible endpoint). The secret is never printed."""

    endpoint_url: str | None
    region: str
    access_key_id: str | None
    secret_access_key: str | None = field(default=None, repr=False)
    connect_timeout: int = 5
    """AUDIT_S3_CONNECT_TIMEOUT seconds to open a connection."""
    read_timeout: int = 20
    """AUDIT_S3_READ_TIMEOUT seconds a request may wait for an answer (a hung server)."""
    max_attempts: int = 4
    """AUDIT_S3_MAX_ATTEMPTS per request, with exponential backoff: by default a server that
    stopped answering is given up on within two minutes, naming the request."""

    @property
    def allow_http(self) -> bool:
        return bool(self.endpoint_url and self.endpoint_url.startswith("http://"))


@dataclass(frozen=True)
class Settings:
    landing: str
    lake: str
    exports: str
    reports: str
    """Where HTML reports are written (a folder or `s3://bucket/prefix`)."""
    prompt_repo: str
    prompt_globs: tuple[str, ...]
    config_path: str
    start_date: date
    lookback_days: int
    dagster_home: str
    s3: S3Access
    admin_apis: dict[str, str | None]
    """Providers whose admin key is set (each API's `key_variable` in the source registry:
    OPENAI_ADMIN_KEY, ANTHROPIC_ADMIN_KEY, …) → API base URL override (None: the provider's own)."""
    admin_keys: dict[str, str] = field(default_factory=dict, repr=False)
    """Provider → admin key, for pull mode only: never printed, stored or put in run config."""
    max_file_bytes: int = 16 << 30
    """AUDIT_MAX_FILE_BYTES: decompressed bytes one log file may expand to (a gzip bomb fails there)."""
    skip_unreadable_files: bool = False
    """AUDIT_SKIP_UNREADABLE_FILES: load what can be read and let the run succeed although a
    file could not be read (it stays in ingest_log as failed). Off: such a run fails."""
    signing_key: str | None = field(default=None, repr=False)
    """AUDIT_SIGNING_KEY: signs export manifests (exports/signing.py says what it may be)."""
    shards: int = 1
    """AUDIT_SHARDS: how many independent steps stage one run's log files (a stable hash of the
    file path picks each file's shard) before one step de-duplicates and commits them."""
    executor: str = ""
    """AUDIT_EXECUTOR: where a run's steps execute: `in_process`, `multiprocess`, `celery`
    (workers reached through AUDIT_CELERY_BROKER) or `k8s` (a pod per step). Empty: the
    command line runs in its own process and the UI uses Dagster's default."""
    celery_broker: str | None = None
    """AUDIT_CELERY_BROKER: the Celery broker URL (`redis://host:6379/0`) with AUDIT_EXECUTOR=celery."""
    celery_backend: str | None = None
    """AUDIT_CELERY_BACKEND: where Celery keeps step results (defaults to the broker)."""


def _absolute(path_or_uri: str) -> str:
    """Local paths become absolute so Dagster subprocesses resolve them identically."""
    if "://" in path_or_uri:
        return path_or_uri.rstrip("/")
    return str(Path(path_or_uri).expanduser().resolve())


def _local_landing(landing: str) -> Path:
    """Where a local copy of the landing zone lives (the prompt repository must be local:
    git reads it); for an S3 landing zone that is the default local folder."""
    return Path("data/landing") if landing.startswith("s3://") else Path(landing)


def _whole_number(env, name: str, default: int) -> int:
    value = env.get(name, str(default))
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, got {value!r}")
    return int(value)


EXECUTORS = ("in_process", "multiprocess", "celery", "k8s")


def _executor(env) -> str:
    value = env.get("AUDIT_EXECUTOR", "").strip()
    if value and value not in EXECUTORS:
        raise ValueError(f"AUDIT_EXECUTOR must be one of {', '.join(EXECUTORS)}, got {value!r}")
    if value == "celery" and not env.get("AUDIT_CELERY_BROKER"):
        raise ValueError("AUDIT_EXECUTOR=celery needs AUDIT_CELERY_BROKER (for example redis://127.0.0.1:6379/0)")
    return value


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read the environment once. Pass `environ` in tests instead of patching os.environ."""
    env = os.environ if environ is None else environ
    landing = env.get("AUDIT_LANDING", "data/landing")
    start = env.get("AUDIT_START_DATE")
    try:
        start_date = date.fromisoformat(start or DEFAULT_START_DATE)
    except ValueError as exc:
        raise ValueError(f"AUDIT_START_DATE must be YYYY-MM-DD, got {start!r}") from exc
    lookback = env.get("AUDIT_LOOKBACK_DAYS", str(DEFAULT_LOOKBACK_DAYS))
    if not lookback.isdigit():
        raise ValueError(f"AUDIT_LOOKBACK_DAYS must be a whole number, got {lookback!r}")
    from audit_pipeline.sources.registry import (
        admin_apis,  # the registry imports the parsers: only when read
    )

    apis = admin_apis()
    globs = tuple(g.strip() for g in env.get("AUDIT_PROMPT_GLOBS", "prompts/**").split(",") if g.strip())
    return Settings(
        landing=_absolute(landing),
        lake=_absolute(env.get("AUDIT_LAKE", "data/lake")),
        exports=_absolute(env.get("AUDIT_EXPORTS", "data/exports")),
        reports=_absolute(env.get("AUDIT_REPORTS", "data/reports")),
        prompt_repo=_absolute(env.get("AUDIT_PROMPT_REPO", str(_local_landing(landing) / "prompt-repo"))),
        prompt_globs=globs,
        config_path=_absolute(env.get("AUDIT_CONFIG", "audit.yaml")),
        start_date=start_date,
        lookback_days=int(lookback),
        dagster_home=_absolute(env.get("DAGSTER_HOME", "dagster_home")),
        admin_apis={api.provider: env.get(api.base_url_variable) or None for api in apis if env.get(api.key_variable)},
        admin_keys={api.provider: env[api.key_variable] for api in apis if env.get(api.key_variable)},
        signing_key=env.get("AUDIT_SIGNING_KEY") or None,
        max_file_bytes=_whole_number(env, "AUDIT_MAX_FILE_BYTES", 16 << 30),
        shards=_whole_number(env, "AUDIT_SHARDS", 1),
        executor=_executor(env),
        celery_broker=env.get("AUDIT_CELERY_BROKER") or None,
        celery_backend=env.get("AUDIT_CELERY_BACKEND") or None,
        skip_unreadable_files=env.get("AUDIT_SKIP_UNREADABLE_FILES", "").strip().lower() in ("1", "true", "yes"),
        s3=S3Access(
            endpoint_url=env.get("AWS_ENDPOINT_URL") or None,
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
            access_key_id=env.get("AWS_ACCESS_KEY_ID") or None,
            secret_access_key=env.get("AWS_SECRET_ACCESS_KEY") or None,
            connect_timeout=_whole_number(env, "AUDIT_S3_CONNECT_TIMEOUT", 5),
            read_timeout=_whole_number(env, "AUDIT_S3_READ_TIMEOUT", 20),
            max_attempts=_whole_number(env, "AUDIT_S3_MAX_ATTEMPTS", 4),
        ),
    )
