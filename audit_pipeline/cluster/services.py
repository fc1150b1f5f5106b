"""Debian's Redis and PostgreSQL servers, started on loopback for one distributed run.

Each server lives in its own temporary folder on a free port and is gone when stopped, so a
test or `make demo-distributed` never touches a system service or another run's data.
PostgreSQL refuses to run as root: as root, its commands run as the `postgres` user that
Debian's package creates.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from audit_pipeline.local_s3 import free_port


class ServiceError(RuntimeError):
    """A server could not be started: the message names it and what to install."""


def _wait_for_port(name: str, port: int, process: subprocess.Popen | None, log: Path, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            exited = process is not None and process.poll() is not None
            if exited or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-800:] if log.exists() else ""
                raise ServiceError(f"{name} did not start on 127.0.0.1:{port}: {tail}") from None
            time.sleep(0.1)


class RedisServer:
    """`redis-server` on 127.0.0.1, nothing persisted: the Celery broker and result backend."""

    def __init__(self, folder: Path):
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServiceError("redis-server is not installed (Debian: apt-get install redis-server)")
        self.port = free_port()
        log = folder / "redis.log"
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(folder), "--logfile", str(log)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for_port("redis-server", self.port, self.process, log)

    def url(self, database: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)


def _postgres_bin() -> Path:
    """The newest PostgreSQL server binaries Debian installed (`/usr/lib/postgresql/<major>/bin`)."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"),
                      key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if not versions:
        raise ServiceError("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    return versions[-1].parent


class PostgresServer:
    """A throwaway PostgreSQL cluster (initdb in a temporary folder of its own, trust auth on
    loopback only) with one database for the Dagster instance's runs, event log and schedules."""

    USER, DATABASE = "audit", "dagster"

    def __init__(self):
        self.bin = _postgres_bin()
        # Its own folder directly under the system's temporary directory: as root the server
        # runs as `postgres`, which cannot enter a folder private to root (pytest's tmp_path).
        self.folder = folder = Path(tempfile.mkdtemp(prefix="audit-postgres-"))
        self.data, self.log = folder / "pgdata", folder / "postgres.log"
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as:
            shutil.chown(folder, "postgres")
        self.port = free_port()
        self._run("initdb", "-D", str(self.data), "-U", self.USER, "--auth=trust", "-E", "UTF8", "--no-sync")
        # fsync off: a throwaway cluster for one run; nothing here outlives it.
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-o",
                  f"-p {self.port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
        _wait_for_port("postgres", self.port, None, self.log)
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.USER, self.DATABASE)

    def _run(self, tool: str, *args: str) -> None:
        done = subprocess.run([*self._as, str(self.bin / tool), *args], capture_output=True, text=True)
        if done.returncode:
            raise ServiceError(f"{tool} failed ({done.returncode}): {(done.stderr or done.stdout)[-800:]}")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://{self.USER}@127.0.0.1:{self.port}/{self.DATABASE}"

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
