"""The Kubernetes deployment without a cluster (issue 17), tested the way dagster-k8s tests
its own executor: the executor is built from this deployment's configuration on an instance
with a K8sRunLauncher, every step of the pipeline's job is launched, and the Kubernetes job
each would create is checked (the cluster's API is the one thing replaced: it records the
job instead of creating it). Also: `dg check defs` loads the definitions so configured."""

import json
import os
import subprocess
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._config import process_config, resolve_to_config_type
from dagster._core.execution.api import create_execution_plan
from dagster._core.execution.context.system import PlanData, PlanOrchestrationContext
from dagster._core.execution.context_creation_job import create_context_free_log_manager
from dagster._core.execution.retries import RetryMode
from dagster._core.executor.init import InitExecutorContext
from dagster._core.executor.step_delegating.step_handler.base import StepHandlerContext
from dagster._core.test_utils import create_run_for_test
from dagster._grpc.types import ExecuteStepArgs
from dagster_k8s.executor import _K8S_EXECUTOR_CONFIG_SCHEMA, k8s_job_executor

from audit_pipeline.deploy.kubernetes import (
    ENV_CONFIG_MAP,
    ENV_SECRET,
    HEAVY,
    LIGHT,
    NAMESPACE,
    executor_config,
)

IMAGE = "registry.example.com/audit-lineage:2026.12.1"
SHARDS = 3
SIGNING_KEY = "f" * 64  # in the pod's environment from the Secret, never in a job spec
DEPLOY = Path(__file__).parent.parent / "deploy" / "kubernetes"


class RecordingBatchApi:
    """Stands in for the cluster: keeps each job the step handler would create."""

    def __init__(self):
        self.jobs = []

    def create_namespaced_job_with_retries(self, body, namespace):
        self.jobs.append((namespace, body))


@pytest.fixture
def kubeconfig(tmp_path):
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "test",
        "clusters": [{"name": "test", "cluster": {"server": "https://127.0.0.1:6443"}}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": "test"}}],
        "users": [{"name": "test", "user": {"token": "not-a-real-token"}}]}))
    return str(path)


@pytest.fixture
def k8s_instance(kubeconfig):
    with dg.instance_for_test(overrides={"run_launcher": {"module": "dagster_k8s", "class": "K8sRunLauncher", "config": {
        "service_account_name": "dagster", "instance_config_map": "dagster-instance", "postgres_password_secret": "dagster-postgresql-secret",
        "dagster_home": "/opt/dagster/dagster_home", "job_image": IMAGE, "job_namespace": NAMESPACE,
        "load_incluster_config": False, "kubeconfig_file": kubeconfig}}}) as instance:
        yield instance


def _launched_jobs(instance, kubeconfig) -> dict[str, tuple[str, dict]]:
    """step key → (namespace, the Kubernetes job as a dict) for every step of the job."""
    job = dg.build_reconstructable_job("audit_pipeline.runner", "code_location_job", reconstructable_args=("every_asset",))
    config = process_config(resolve_to_config_type(_K8S_EXECUTOR_CONFIG_SCHEMA),
                            {**executor_config(shards=SHARDS), "load_incluster_config": False,
                             "kubeconfig_file": kubeconfig})
    assert config.success, config.errors
    executor = k8s_job_executor.executor_creation_fn(InitExecutorContext(
        job=job, executor_def=k8s_job_executor, executor_config=config.value, instance=instance))
    cluster = RecordingBatchApi()
    executor._step_handler._api_client = cluster
    plan = create_execution_plan(job)
    run = create_run_for_test(instance, job_name="every_asset", job_code_origin=job.get_python_origin())
    context = PlanOrchestrationContext(
        plan_data=PlanData(job=job, dagster_run=run, instance=instance, execution_plan=plan, raise_on_error=True,
                           retry_mode=RetryMode.DISABLED),
        log_manager=create_context_free_log_manager(instance, run), executor=executor, output_capture=None)
    launched = {}
    for step in plan.steps:
        args = ExecuteStepArgs(job.get_python_origin(), run.run_id, [step.key])
        list(executor._step_handler.launch_step(StepHandlerContext(
            instance=instance, plan_context=context, steps=[step], execute_step_args=args)))
        namespace, body = cluster.jobs[-1]
        launched[step.key] = (namespace, body.to_dict())
    return launched


def test_every_step_gets_a_job_with_its_resources_settings_and_no_secret(k8s_instance, kubeconfig, monkeypatch):
    monkeypatch.setenv("AUDIT_SHARDS", str(SHARDS))  # the code location the step pods load has the shard steps
    monkeypatch.setenv("AUDIT_SIGNING_KEY", SIGNING_KEY)
    launched = _launched_jobs(k8s_instance, kubeconfig)
    heavy = {"llm_calls", "billing", "output_lineage",
             *(f"{asset}_shard_{n}" for asset in ("llm_calls", "output_lineage") for n in range(1, SHARDS + 1))}
    assert heavy < set(launched) and len(launched) > len(heavy)
    for step, (namespace, job) in launched.items():
        assert namespace == NAMESPACE
        [container] = job["spec"]["template"]["spec"]["containers"]
        assert container["image"] == IMAGE
        assert "execute_step" in container["args"]
        sources = {(s["config_map_ref"] or {}).get("name") or (s["secret_ref"] or {}).get("name")
                   for s in container["env_from"]}
        assert {ENV_CONFIG_MAP, ENV_SECRET} <= sources, step
        resources = {k: v for k, v in container["resources"].items() if k in ("limits", "requests")}
        assert resources == (HEAVY if step in heavy else LIGHT), step
        assert job["metadata"]["labels"]["dagster/op"] == step
        assert SIGNING_KEY not in json.dumps(job, default=str)


def test_the_manifests_name_the_config_map_and_secret_the_executor_reads():
    documents = {d["metadata"]["name"]: d for f in DEPLOY.glob("*.yaml") if f.name != "values.yaml"
                 for d in yaml.safe_load_all(f.read_text()) if d}
    assert documents[ENV_CONFIG_MAP]["kind"] == "ConfigMap"
    assert documents[ENV_CONFIG_MAP]["data"]["AUDIT_EXECUTOR"] == "k8s"
    assert documents[ENV_CONFIG_MAP]["data"]["AUDIT_LAKE"].startswith("s3://")
    assert documents[ENV_SECRET]["kind"] == "Secret"
    contract = (Path(__file__).parent.parent / "docs" / "contract.md").read_text()
    for name in [*documents[ENV_CONFIG_MAP]["data"], *documents[ENV_SECRET]["stringData"]]:
        assert f"`{name}`" in contract, f"{name} is not a documented setting"
    values = yaml.safe_load((DEPLOY / "values.yaml").read_text())
    [deployment] = values["dagster-user-deployments"]["deployments"]
    assert deployment["dagsterApiGrpcArgs"] == ["-m", "audit_pipeline.definitions"]
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["postgresql"]["enabled"] is False  # the instance on a managed PostgreSQL


def test_dg_check_defs_passes_with_the_kubernetes_executor_and_shards():
    env = {**os.environ, "AUDIT_EXECUTOR": "k8s", "AUDIT_SHARDS": str(SHARDS)}
    done = subprocess.run([str(Path(os.sys.executable).parent / "dg"), "check", "defs"], env=env,
                          capture_output=True, text=True, cwd=Path(__file__).parent.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "All definitions loaded successfully" in done.stdout + done.stderr
