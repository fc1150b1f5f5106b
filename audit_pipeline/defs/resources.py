"""Resources: where the landing zone, the lake and the prompts are (`storage`), the policy
file read once per run (`policy`), and the providers' admin APIs."""

from __future__ import annotations

import dagster as dg
from pydantic import PrivateAttr

from audit_pipeline.admin_api import Puller
from audit_pipeline.lake import Lake
from audit_pipeline.landing import Landing
from audit_pipeline.policy import Policy, load_policy
from audit_pipeline.settings import Settings, load_settings
from audit_pipeline.sources import registry
from audit_pipeline.storage import lake_for, landing_for


class AuditStorage(dg.ConfigurableResource):
    """Landing zone, Delta lake root, prompt repository, report and export folders (from
    AUDIT_* settings)."""

    landing_root: str
    lake_root: str
    prompt_repo: str
    prompt_globs: list[str]
    reports_root: str
    exports_root: str

    def lake(self) -> Lake:
        # Credentials come from the environment through settings, never from run config,
        # so they are not shown in the Dagster UI or stored with a run.
        return lake_for(load_settings(), self.lake_root)

    def landing(self) -> Landing:
        return landing_for(load_settings(), self.landing_root)

    def staging(self) -> Landing:
        """The lake's root as files: where one step leaves work for the next (shards)."""
        return landing_for(load_settings(), self.lake_root)

    def reports(self) -> Landing:
        """The report folder (written like a landing zone: a folder or S3)."""
        return landing_for(load_settings(), self.reports_root)


def storage_from_settings(settings: Settings | None = None) -> AuditStorage:
    settings = settings or load_settings()
    return AuditStorage(
        landing_root=settings.landing,
        lake_root=settings.lake,
        prompt_repo=settings.prompt_repo,
        prompt_globs=list(settings.prompt_globs),
        reports_root=settings.reports,
        exports_root=settings.exports,
    )


class AuditPolicy(dg.ConfigurableResource):
    """The policy file (AUDIT_CONFIG): AI systems, retention, legal holds, thresholds, prices,
    tolerances. Read and validated once when a run (or, with a multiprocess executor, a step)
    starts, so every asset of the run applies the same policy and a broken file fails the run
    before anything is written, naming the file and each wrong key."""

    config_path: str
    _policy: Policy | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._policy = load_policy(self.config_path)

    def current(self) -> Policy:
        """The policy as read at the start of the run (read now outside a run, e.g. in tests)."""
        if self._policy is None:
            self._policy = load_policy(self.config_path)
        return self._policy


def policy_from_settings(settings: Settings | None = None) -> AuditPolicy:
    return AuditPolicy(config_path=(settings or load_settings()).config_path)


class AdminApis(dg.ConfigurableResource):
    """The providers' admin APIs that usage and cost pages are pulled from: every API a source
    in the registry declares, active when its key variable is set. The keys are read from the
    environment when the run starts, never configured here, so the UI and the run's stored
    config never hold one."""

    max_attempts: int = 5
    """Attempts per page before a pull fails (429 and 5xx answers are retried with backoff)."""
    timeout_seconds: float = 60.0
    """How long one request may take."""

    def pullers(self) -> list[Puller]:
        settings = load_settings()
        return [Puller(api, settings.admin_keys[api.provider], settings.admin_apis[api.provider],
                       max_attempts=self.max_attempts, timeout_seconds=self.timeout_seconds)
                for api in registry.admin_apis() if api.provider in settings.admin_keys]


defs = dg.Definitions(resources={"storage": storage_from_settings(), "policy": policy_from_settings(),
                                 "admin_apis": AdminApis()})
