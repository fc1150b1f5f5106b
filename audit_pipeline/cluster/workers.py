"""Celery worker processes that execute Dagster steps, and the instance they share.

Each worker is its own `celery -A dagster_celery.app worker` process taking one step at a
time from the broker's `dagster` queue, rebuilding the job from the code location and
writing its events to the shared PostgreSQL instance; its settings are its environment.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from audit_pipeline.cluster.services import ServiceError

WORKER_QUEUE = "dagster"
"""The queue dagster-celery routes steps to unless a step is tagged with another."""


def write_postgres_instance(home: Path, postgres_url: str) -> None:
    """A DAGSTER_HOME whose runs, event log and schedules are in PostgreSQL (dagster-postgres):
    every worker and the coordinating process record into the same instance."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(
        "# Written for one distributed run: the instance every process shares.\n"
        f"storage:\n  postgres:\n    postgres_url: {postgres_url}\n"
        "telemetry:\n  enabled: false\n")


class CeleryWorkers:
    """`count` worker processes on `broker`, each with one step slot, logging to `folder`."""

    def __init__(self, count: int, broker: str, backend: str, folder: Path, env: dict[str, str]):
        self.broker, self.count = broker, count
        config = folder / "celery-config"
        config.mkdir(parents=True, exist_ok=True)
        # dagster-celery's app reads its broker from a `dagster_celery_config` module on the path.
        (config / "dagster_celery_config.py").write_text(
            f"broker_url = {broker!r}\nresult_backend = {backend!r}\nworker_prefetch_multiplier = 1\n")
        celery = str(Path(sys.executable).parent / "celery")
        self.names = [f"audit-worker-{n}" for n in range(1, count + 1)]
        self.logs = [folder / f"{name}.log" for name in self.names]
        self.processes = [
            subprocess.Popen(
                [celery, "-A", "dagster_celery.app", "worker", "--concurrency=1", "--prefetch-multiplier=1",
                 "-Q", WORKER_QUEUE, "-n", f"{name}@%h", "--loglevel=WARNING", "--without-mingle",
                 "--without-gossip"],
                env={**env, "PYTHONPATH": str(config)}, stdout=log.open("wb"), stderr=subprocess.STDOUT)
            for name, log in zip(self.names, self.logs, strict=True)
        ]

    def wait_until_ready(self, seconds: float = 120) -> None:
        """Until every worker answers a ping (each has loaded Celery and joined the queue)."""
        from celery import Celery

        app = Celery(broker=self.broker)
        deadline = time.monotonic() + seconds
        while True:
            replies = app.control.ping(timeout=1.0) or []
            if len(replies) >= self.count:
                return
            dead = [name for name, p in zip(self.names, self.processes, strict=True) if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                tails = "; ".join(f"{log.name}: {log.read_text(errors='replace')[-400:]}" for log in self.logs)
                raise ServiceError(f"Celery workers not ready ({len(replies)} of {self.count} answered): {tails}")

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()  # warm shutdown: a step in progress finishes first
        for process in self.processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
