"""A local S3 API server (moto in server mode on 127.0.0.1, reached over HTTP).

Used by the tests and by `make demo-s3`; it needs the `dev` extra (moto[server]). Run as
`python -m audit_pipeline.local_s3 -- COMMAND…` to start it, create the bucket
`audit-demo` (landing zone and lake) and `audit-demo-exports` (Object Lock enabled), run
COMMAND with AUDIT_LANDING/LAKE/EXPORTS on them, and stop it again.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.request import urlopen

import boto3

ACCESS_KEY = "testing-access-key"
SECRET_KEY = "testing-secret-key"  # a local test server's key, not a real secret
REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class S3Server:
    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        server = Path(sys.executable).parent / "moto_server"
        self.process = subprocess.Popen([str(server), "-H", "127.0.0.1", "-p", str(self.port)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                urlopen(f"{self.endpoint}/moto-api/", timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise RuntimeError("the moto S3 server did not start") from None
                time.sleep(0.2)

    def env(self) -> dict[str, str]:
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": ACCESS_KEY,
                "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_REGION": REGION}

    def client(self):
        return boto3.client("s3", endpoint_url=self.endpoint, region_name=REGION,
                            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)

    def create_bucket(self, name: str, object_lock: bool = False) -> None:
        """A bucket; with `object_lock`, one whose objects can be locked (exports need it;
        S3 only allows enabling it when the bucket is created)."""
        self.client().create_bucket(Bucket=name, **({"ObjectLockEnabledForBucket": True} if object_lock else {}))

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def main(argv: list[str]) -> int:
    """Run a command against a fresh local S3 server with every root on it."""
    import os

    server = S3Server()
    try:
        server.create_bucket(DEMO_BUCKET)
        server.create_bucket(EXPORTS_BUCKET, object_lock=True)
        env = {**os.environ, **server.env(),
               **{f"AUDIT_{name}": f"s3://{DEMO_BUCKET}/{name.lower()}" for name in ("LANDING", "LAKE")},
               "AUDIT_EXPORTS": f"s3://{EXPORTS_BUCKET}/exports"}
        print(f"Local S3 server at {server.endpoint}, buckets {DEMO_BUCKET} and {EXPORTS_BUCKET} "
              "(gone when the command ends)")
        return subprocess.run(argv, env=env, check=False).returncode
    finally:
        server.stop()


DEMO_BUCKET = "audit-demo"
EXPORTS_BUCKET = "audit-demo-exports"

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] if sys.argv[1:2] != ["--"] else sys.argv[2:]))
