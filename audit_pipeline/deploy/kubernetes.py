"""A Kubernetes job per step (dagster-k8s `k8s_job_executor`), sized by what the step does.

The run itself is a pod started by the instance's `K8sRunLauncher` (deploy/kubernetes/
values.yaml); it only coordinates. Each step gets a pod of its own, with the settings from
the `audit-lineage-env` ConfigMap and the secrets (S3 credentials, signing key, admin-API
keys) from the `audit-lineage-secrets` Secret, referenced by name so no value is written into
a job spec, the run's config or the event log. Steps share nothing but the lake on S3.
"""

from __future__ import annotations

import dagster as dg

from audit_pipeline.loads.staging import Shard, shard_step
from audit_pipeline.settings import load_settings

NAMESPACE = "audit-lineage"
ENV_CONFIG_MAP = "audit-lineage-env"
ENV_SECRET = "audit-lineage-secrets"

HEAVY = {"requests": {"cpu": "2", "memory": "2560Mi"}, "limits": {"cpu": "2", "memory": "3Gi"}}
"""Steps that scan a day of calls in DuckDB: its 1 GB budget (engine.MEMORY_LIMIT), Arrow
batches and the interpreter; measured peak of the whole pipeline at 1M calls: 2.0 GB."""
LIGHT = {"requests": {"cpu": "500m", "memory": "768Mi"}, "limits": {"cpu": "1", "memory": "1536Mi"}}
"""Day-level steps over small tables (billing, reconciliation, findings, reports)."""

HEAVY_STEPS = ("llm_calls", "output_lineage", "billing")
"""The heavy steps by step key (an asset's op name); each ingest and lineage shard is one too."""


def step_kinds(shards: int) -> dict[str, dict]:
    """Step key → resources for every step sized apart from the default (LIGHT)."""
    sharded = ("llm_calls", "output_lineage") if shards > 1 else ()
    steps = [*HEAVY_STEPS, *(shard_step(table, Shard(n, shards)) for table in sharded for n in range(1, shards + 1))]
    return {step: HEAVY for step in steps}


def executor_config(shards: int | None = None) -> dict:
    """The `k8s_job_executor` configuration this deployment runs with."""
    shards = load_settings().shards if shards is None else shards
    per_step = {step: {"container_config": {"resources": resources}} for step, resources in step_kinds(shards).items()}
    return {
        "job_namespace": NAMESPACE,
        "env_config_maps": [ENV_CONFIG_MAP],
        "env_secrets": [ENV_SECRET],
        "labels": {"app.kubernetes.io/part-of": "audit-lineage"},
        "step_k8s_config": {"container_config": {"resources": LIGHT}},
        "per_step_k8s_config": per_step,
        # A step is retried by Dagster (a new pod), not by the Kubernetes job: a pod killed
        # for memory comes back as a failed step that names it.
        "max_concurrent": 16,
    }


def k8s_executor() -> dg.ExecutorDefinition:
    from dagster_k8s import k8s_job_executor

    return k8s_job_executor.configured(executor_config(), name="k8s")
