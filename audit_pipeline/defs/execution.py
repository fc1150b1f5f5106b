"""Where a run's steps execute: the executor every asset job uses, chosen by AUDIT_EXECUTOR.

One code location serves every deployment: a laptop (`make demo`: the command line runs the
steps in its own process), one machine's cores (`multiprocess`), Celery workers on several
machines (`celery`, `make demo-distributed`) and a Kubernetes pod per step (`k8s`,
docs/scaling.md). Steps share nothing but the lake, so any of them may run anywhere.
"""

from __future__ import annotations

import dagster as dg

from audit_pipeline.settings import Settings, load_settings


def _celery_executor(settings: Settings) -> dg.ExecutorDefinition:
    from dagster_celery import celery_executor

    # Environment references, not values: a broker URL may carry a password, and a value
    # configured here would be shown with the job's config in the UI.
    backend = "AUDIT_CELERY_BACKEND" if settings.celery_backend else "AUDIT_CELERY_BROKER"
    return celery_executor.configured({"broker": {"env": "AUDIT_CELERY_BROKER"}, "backend": {"env": backend}},
                                      name="celery")


def executor_for(settings: Settings) -> dg.ExecutorDefinition | None:
    """The executor AUDIT_EXECUTOR names; None leaves Dagster's default (multiprocess in the UI)."""
    if settings.executor == "in_process":
        return dg.in_process_executor
    if settings.executor == "multiprocess":
        return dg.multiprocess_executor
    if settings.executor == "celery":
        return _celery_executor(settings)
    if settings.executor == "k8s":
        from audit_pipeline.deploy.kubernetes import k8s_executor

        return k8s_executor()
    return None


_executor = executor_for(load_settings())
defs = dg.Definitions(executor=_executor) if _executor else dg.Definitions()
