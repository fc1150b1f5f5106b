"""A stopped S3 server fails the request within the configured bounds instead of hanging the
run (issue 15): moto's server is frozen with SIGSTOP, as a hung endpoint would be."""

import signal
import time

import pyarrow as pa
import pytest

from audit_pipeline.lake import Lake
from audit_pipeline.local_s3 import S3Server
from audit_pipeline.settings import load_settings
from audit_pipeline.storage import lake_for, landing_for


@pytest.fixture
def frozen_s3():
    server = S3Server()
    server.create_bucket("frozen")
    environment = {**server.env(), "AUDIT_LANDING": "s3://frozen/landing", "AUDIT_LAKE": "s3://frozen/lake",
                   "AUDIT_S3_CONNECT_TIMEOUT": "1", "AUDIT_S3_READ_TIMEOUT": "2", "AUDIT_S3_MAX_ATTEMPTS": "2"}
    settings = load_settings(environment)
    lake_for(settings).replace_all("erasure_log", pa.table({"table_name": ["x"]}))
    server.process.send_signal(signal.SIGSTOP)
    yield settings
    server.process.send_signal(signal.SIGCONT)
    server.stop()


def _seconds(action) -> tuple[float, Exception | None]:
    started = time.monotonic()
    try:
        action()
    except Exception as exc:  # the failure itself is what is measured
        return time.monotonic() - started, exc
    return time.monotonic() - started, None


@pytest.mark.slow
def test_a_hung_s3_server_fails_listing_reading_and_writing_within_the_bounds(frozen_s3):
    landing: object = landing_for(frozen_s3)
    lake: Lake = lake_for(frozen_s3)
    for name, action in (("list the landing zone", lambda: landing.list("logs", (".jsonl",))),
                         ("read a table", lambda: lake.read("erasure_log")),
                         ("write a table", lambda: lake.replace_all("erasure_log", pa.table({"table_name": ["y"]})))):
        seconds, error = _seconds(action)
        assert error is not None, f"{name}: a frozen server answered"
        assert seconds < 60, f"{name}: {seconds:.0f} s"  # 2 attempts of 1 s connect + 2 s read, plus backoff
