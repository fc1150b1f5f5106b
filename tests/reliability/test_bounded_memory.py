"""Memory is bounded (issue 15): loading a day of logs, with hostile lines among them, stays
within DuckDB's budget plus a fixed overhead, measured as a child process's peak RSS."""

import json
import os
import subprocess
import sys

import pytest

from audit_pipeline import engine

LOAD = """
from datetime import UTC, date, datetime
import sys
from audit_pipeline.lake import Lake
from audit_pipeline.landing import Landing
from audit_pipeline.loads.calls import load_calls
load_calls(Landing(sys.argv[1]), Lake(sys.argv[2]), date(2026, 11, 20), date(2026, 11, 20), datetime.now(UTC))
"""


@pytest.mark.slow
def test_loading_a_day_with_a_huge_line_and_many_records_stays_under_1_5_gb(tmp_path):
    folder = tmp_path / "landing/logs/app/2026-11-20"
    folder.mkdir(parents=True)
    record = {"timestamp": "2026-11-20T10:00:00Z", "ai_system": "s", "provider": "openai",
              "request_model": "gpt-4o-mini", "route": "/v1/" + "r" * 200, "input_tokens": 10}
    with (folder / "calls.jsonl").open("w") as f:
        for n in range(300_000):
            f.write(json.dumps({"event_id": f"e{n}", **record}) + "\n")
            if n == 150_000:
                f.write(json.dumps({"event_id": "huge", **record, "prompt": "x" * (64 << 20)}) + "\n")
    child = subprocess.Popen([sys.executable, "-c", LOAD, str(tmp_path / "landing"), str(tmp_path / "lake")])
    _, status, usage = os.wait4(child.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    peak_mb = usage.ru_maxrss / 1024
    print(f"peak RSS {peak_mb:.0f} MB for {(folder / 'calls.jsonl').stat().st_size / 1e6:.0f} MB of logs "
          f"(DuckDB budget {engine.MEMORY_LIMIT})")
    assert peak_mb < 1536
