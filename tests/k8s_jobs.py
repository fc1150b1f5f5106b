"""The Kubernetes job the k8s executor would create for every step of the pipeline's job,
printed as JSON (`python -m tests.k8s_jobs`; tests/test_kubernetes.py runs it in a process
of its own, so the code location loads with the environment it is given, as a pod's does).

Built the way dagster-k8s tests its own executor (its unit tests build the executor on an
instance with a `K8sRunLauncher` and launch steps through its step handler): Dagster has no
public API to launch a step without a cluster, so this one module uses Dagster's private
ones. Only the cluster's API is replaced: a recorder keeps each job instead of creating it.
"""

import json
import sys
import tempfile
from pathlib import Path

import dagster as dg
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

from audit_pipeline.deploy.kubernetes import NAMESPACE, executor_config

IMAGE = "registry.example.com/audit-lineage:2026.12.1"


class RecordingBatchApi:
    """Stands in for the cluster: keeps each job the step handler would create."""

    def __init__(self):
        self.jobs = []

    def create_namespaced_job_with_retries(self, body, namespace):
        self.jobs.append((namespace, body))


def _kubeconfig(folder: Path) -> str:
    path = folder / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "test",
        "clusters": [{"name": "test", "cluster": {"server": "https://127.0.0.1:6443"}}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": "test"}}],
        "users": [{"name": "test", "user": {"token": "not-a-real-token"}}]}))
    return str(path)


def launched_jobs(instance, kubeconfig: str) -> dict[str, tuple[str, dict]]:
    """step key → (namespace, the Kubernetes job as a dict) for every step of the job."""
    job = dg.build_reconstructable_job("audit_pipeline.runner", "code_location_job", reconstructable_args=("every_asset",))
    config = process_config(resolve_to_config_type(_K8S_EXECUTOR_CONFIG_SCHEMA),
                            {**executor_config(), "load_incluster_config": False, "kubeconfig_file": kubeconfig})
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


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        kubeconfig = _kubeconfig(Path(folder))
        launcher = {"service_account_name": "dagster", "instance_config_map": "dagster-instance",
                    "postgres_password_secret": "dagster-postgresql-secret", "dagster_home": "/opt/dagster/dagster_home",
                    "job_image": IMAGE, "job_namespace": NAMESPACE, "load_incluster_config": False,
                    "kubeconfig_file": kubeconfig}
        with dg.instance_for_test(overrides={"run_launcher": {"module": "dagster_k8s", "class": "K8sRunLauncher",
                                                              "config": launcher}}) as instance:
            json.dump(launched_jobs(instance, kubeconfig), sys.stdout, default=str)


if __name__ == "__main__":
    main()
