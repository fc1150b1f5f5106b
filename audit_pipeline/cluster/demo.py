"""`make demo-distributed`: the demo on Celery workers, checked against a one-process run.

Starts a local S3 server (landing zone, lakes, reports, exports), Redis (the Celery broker and
result backend), PostgreSQL (the Dagster instance) and N Celery workers; runs `audit-pipeline
demo` with AUDIT_EXECUTOR=celery and the log files in shards (AUDIT_SHARDS), so this process
only coordinates and every step runs in a worker; then runs the same demo in one process into a second lake on the same landing zone,
and prints, table by table, that both lakes hold the same rows. Exit 0 only when every table
is equal and the steps ran on more than one worker.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from audit_pipeline.cli import DEMO_DAYS
from audit_pipeline.cluster.services import PostgresServer, RedisServer
from audit_pipeline.cluster.workers import CeleryWorkers, write_postgres_instance
from audit_pipeline.lake_compare import compare_lakes
from audit_pipeline.local_s3 import DEMO_BUCKET, EXPORTS_BUCKET, S3Server
from audit_pipeline.settings import load_settings
from audit_pipeline.storage import lake_for

CELERY_WORKER_KEY = "Celery worker"
"""The engine-event metadata dagster-celery records with the worker that ran a step."""


def _roots(name: str) -> dict[str, str]:
    return {"AUDIT_LAKE": f"s3://{DEMO_BUCKET}/{name}/lake", "AUDIT_REPORTS": f"s3://{DEMO_BUCKET}/{name}/reports",
            "AUDIT_EXPORTS": f"s3://{EXPORTS_BUCKET}/{name}"}


def steps_per_worker(dagster_home: Path) -> Counter:
    """How many steps each Celery worker executed, over every run of the instance."""
    import dagster as dg

    from audit_pipeline.runner import environment

    with environment({"DAGSTER_HOME": str(dagster_home)}):
        instance = dg.DagsterInstance.get()
        workers: Counter = Counter()
        for run in instance.get_runs():
            for record in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
                data = record.dagster_event.engine_event_data
                worker = data.metadata.get(CELERY_WORKER_KEY) if data else None
                if worker is not None:
                    workers[worker.value] += 1
        instance.dispose()
    return workers


def _demo(env: dict[str, str], days: int, log: Path | None) -> int:
    command = [str(Path(sys.executable).parent / "audit-pipeline"), "demo", "--days", str(days)]
    if log is None:
        return subprocess.run(command, env=env, check=False).returncode
    with log.open("wb") as out:
        return subprocess.run(command, env=env, stdout=out, stderr=subprocess.STDOUT, check=False).returncode


def run(workers: int, days: int, folder: Path, shards: int = 2) -> int:
    started = time.monotonic()
    s3 = S3Server()
    services: list = [s3]
    try:
        s3.create_bucket(DEMO_BUCKET)
        s3.create_bucket(EXPORTS_BUCKET, object_lock=True)
        redis = RedisServer(_folder(folder, "redis"))
        services.append(redis)
        postgres = PostgresServer()
        services.append(postgres)
        common = {**os.environ, **s3.env(), "AUDIT_LANDING": f"s3://{DEMO_BUCKET}/landing",
                  # The sample is written here, then uploaded to the landing zone (the prompt
                  # repository stays local: git reads it).
                  "AUDIT_PROMPT_REPO": str(folder / "sample" / "prompt-repo"),
                  # One signing key for both runs, so their export manifests compare equal.
                  "AUDIT_SIGNING_KEY": secrets.token_hex(32)}
        home = folder / "dagster-home-distributed"
        write_postgres_instance(home, postgres.url)
        distributed = {**common, **_roots("distributed"), "DAGSTER_HOME": str(home), "AUDIT_EXECUTOR": "celery",
                       "AUDIT_SHARDS": str(shards),
                       "AUDIT_CELERY_BROKER": redis.url(0), "AUDIT_CELERY_BACKEND": redis.url(1)}
        pool = CeleryWorkers(workers, redis.url(0), redis.url(1), _folder(folder, "workers"), distributed)
        services.append(pool)
        pool.wait_until_ready()
        print(f"Local cluster: S3 {s3.endpoint}, Redis {redis.url(0)}, PostgreSQL 127.0.0.1:{postgres.port}, "
              f"{workers} Celery workers ({time.monotonic() - started:.0f} s to start); the log files in {shards} shards\n")
        status = _demo(distributed, days, None)
        print("\n== The same demo in one process (the baseline; its output is kept with --keep DIR)")
        single = {**common, **_roots("single"), "DAGSTER_HOME": str(folder / "dagster-home-single")}
        for name in ("AUDIT_EXECUTOR", "AUDIT_SHARDS"):
            single.pop(name, None)
        baseline = _demo(single, days, folder / "single-process.log")
        if baseline:
            print((folder / "single-process.log").read_text(errors="replace")[-4000:])
        return _report(s3, home, status, baseline, started)
    finally:
        for service in reversed(services):
            service.stop()


def _folder(root: Path, name: str) -> Path:
    path = root / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def _report(s3: S3Server, home: Path, status: int, baseline: int, started: float) -> int:
    settings = load_settings(s3.env())
    lakes = [lake_for(settings, _roots(name)["AUDIT_LAKE"]) for name in ("distributed", "single")]
    comparisons = compare_lakes(*lakes, roots=("/distributed/", "/single/"))
    print(f"\nEvery table, distributed run against the one-process run (demo exit codes {status} and {baseline}):")
    for c in comparisons:
        verdict = "equal" if c.equal else f"DIFFERENT: {len(c.only_first)} rows only distributed, " \
                                          f"{len(c.only_second)} only one-process"
        print(f"  {c.table:<24} {c.rows:>8,} rows  {verdict}")
        for row in (c.only_first[:2] + c.only_second[:2]) if not c.equal else []:
            print(f"      {row[:300]}")
    per_worker = steps_per_worker(home)
    print("\nSteps per Celery worker: " + (", ".join(f"{w}: {n}" for w, n in sorted(per_worker.items())) or "none"))
    equal = all(c.equal for c in comparisons) and bool(comparisons)
    spread = len(per_worker) >= 2
    print(f"\n{'Every table equals the one-process run, row for row' if equal else 'Tables DIFFER'}; "
          f"steps ran on {len(per_worker)} workers; {time.monotonic() - started:.0f} s in all.")
    return 0 if status == 0 and baseline == 0 and equal and spread else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m audit_pipeline.cluster", description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--days", type=int, default=DEMO_DAYS)
    parser.add_argument("--shards", type=int, default=2, help="AUDIT_SHARDS of the distributed run")
    parser.add_argument("--keep", type=Path, help="keep the servers' folders and logs here")
    args = parser.parse_args(argv)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        return run(args.workers, args.days, args.keep.resolve(), args.shards)
    with tempfile.TemporaryDirectory(prefix="audit-cluster-") as folder:
        return run(args.workers, args.days, Path(folder), args.shards)
