"""Resources: where the landing zone, the lake and the prompts are (`storage`), the policy
file read once per run (`policy`), and the providers' admin APIs."""

from __future__ import annotations

import dagster as dg
from pydantic import PrivateAttr

from audit_pipeline.admin_api import ANTHROPIC, OPENAI, Puller
from audit_pipeline.lake import Lake
from audit_pipeline.landing import Landing
from audit_pipeline.policy import Policy, load_policy
from audit_pipeline.settings import Settings, load_settings
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


class AdminApiResource(dg.ConfigurableResource):
    """A provider's admin API to pull usage and cost pages from; inactive without a key.

    The key is configured as `EnvVar("OPENAI_ADMIN_KEY")` / `EnvVar("ANTHROPIC_ADMIN_KEY")`,
    so Dagster shows the variable's name, never its value.
    """

    provider: str
    admin_key: str | None = None
    base_url: str | None = None

    def puller(self) -> Puller | None:
        if not self.admin_key:
            return None
        api = {"openai": OPENAI, "anthropic": ANTHROPIC}[self.provider]
        return Puller(api, self.admin_key, self.base_url)


def admin_api_resources(settings: Settings | None = None) -> dict[str, AdminApiResource]:
    settings = settings or load_settings()
    return {
        f"{provider}_admin": AdminApiResource(
            provider=provider,
            admin_key=dg.EnvVar(f"{provider.upper()}_ADMIN_KEY") if provider in settings.admin_apis else None,
            base_url=settings.admin_apis.get(provider),
        )
        for provider in ("openai", "anthropic")
    }


defs = dg.Definitions(resources={"storage": storage_from_settings(), "policy": policy_from_settings(),
                                 **admin_api_resources()})
