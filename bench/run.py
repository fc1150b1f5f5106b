"""`make bench`: generate one day of N log records, then time every pipeline stage on it.

Each stage runs in a child process; its wall time and peak resident memory (from
`os.wait4`, that child alone) are reported as a Markdown table in
`bench/results/latest.md`. Usage: `python -m bench.run [--records N]`.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from bench.stages import STAGES

RESULTS = Path(__file__).parent / "results"
DAY = date(2026, 11, 20)
PRELUDE = """
from datetime import UTC, date, datetime
landing, lake = {landing!r}, {lake!r}
day, now = date.fromisoformat({day!r}), datetime.now(UTC)
"""


def _measure(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one child process."""
    started = time.perf_counter()
    child = subprocess.Popen(argv)
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"bench: {argv[:3]} failed")
    return elapsed, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    args = parser.parse_args()
    work = RESULTS / f"work-{args.records}"
    shutil.rmtree(work, ignore_errors=True)
    landing, lake = work / "landing", work / "lake"
    rows = [("generate sample day", *_measure([
        sys.executable, "-m", "audit_pipeline.cli", "sample-data", "--out", str(landing), "--days", "1",
        "--calls-per-day", str(args.records), "--end", DAY.isoformat()]))]
    size_mb = sum(p.stat().st_size for p in (landing / "logs").rglob("*") if p.is_file()) / 1e6
    prelude = PRELUDE.format(landing=str(landing), lake=str(lake), day=DAY.isoformat())
    for name, code in STAGES.items():
        rows.append((name, *_measure([sys.executable, "-c", prelude + code])))
    total = sum(r[1] for r in rows[1:])
    table = "\n".join(
        ["| stage | wall s | peak RSS MB |", "|---|---:|---:|"]
        + [f"| {name} | {secs:.1f} | {mb:.0f} |" for name, secs, mb in rows]
        + [f"| **pipeline stages, total** | **{total:.1f}** | |"]
    )
    report = (
        f"Records: {args.records:,} calls in one day ({size_mb:.0f} MB of logs); "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, {platform.machine()}, "
        f"{time.strftime('%Y-%m-%d')}.\nCommand: `make bench` "
        f"(`python -m bench.run --records {args.records}`)\n\n{table}\n"
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.md").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
