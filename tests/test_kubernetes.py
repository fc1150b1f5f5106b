"""The Kubernetes deployment without a cluster (issue 17), tested the way dagster-k8s tests
its own executor: the executor is built from this deployment's configuration on an instance
with a K8sRunLauncher, every step of the pipeline's job is launched, and the Kubernetes job
each would create is checked (the cluster's API is the one thing replaced: it records the
job instead of creating it). Also: `dg check defs` loads the definitions so configured."""

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from audit_pipeline.deploy.kubernetes import ENV_CONFIG_MAP, ENV_SECRET, HEAVY, LIGHT, NAMESPACE
from tests.k8s_jobs import IMAGE

SHARDS = 3
SIGNING_KEY = "f" * 64  # in the pod's environment from the Secret, never in a job spec
DEPLOY = Path(__file__).parent.parent / "deploy" / "kubernetes"


def test_every_step_gets_a_job_with_its_resources_settings_and_no_secret():
    # In a process of its own: the code location is loaded with AUDIT_SHARDS set, as a pod
    # loads it, and the signing key is in its environment as the Secret puts it there.
    done = subprocess.run([sys.executable, "-m", "tests.k8s_jobs"], capture_output=True, text=True,
                          cwd=Path(__file__).parent.parent,
                          env={**os.environ, "AUDIT_SHARDS": str(SHARDS), "AUDIT_SIGNING_KEY": SIGNING_KEY})
    assert done.returncode == 0, done.stderr[-3000:]
    launched = json.loads(done.stdout)
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
    done = subprocess.run([str(Path(sys.executable).parent / "dg"), "check", "defs"], env=env,
                          capture_output=True, text=True, cwd=Path(__file__).parent.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "All definitions loaded successfully" in done.stdout + done.stderr
