"""`python -m bench.scaling`: throughput per worker of the sharded steps (docs/scaling.md).

On one generated day (by default the 1M-call day `make bench` generated), with its log files
rotated into parts of about 32 MB as an application's hourly or size-based rotation leaves
them: for each shard count, every ingest shard and every lineage shard is staged in a
process of its own, at most `--workers` at a time, and each table's commit runs alone after
them. Wall time and peak memory per process (`os.wait4`); bytes per shard from the files the
shard's hash picks. Prints a Markdown table, writes it to bench/results/scaling.md and into
docs/scaling.md between the workload's markers.

Usage: `python -m bench.scaling [--records 1000000] [--shards 1 2 4] [--workers 2]`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.run import DAY, RESULTS, ROOT
from bench.stages import command

PART_BYTES = 32 << 20
DOC = ROOT / "docs" / "scaling.md"


def rotate(landing: Path, target: Path) -> None:
    """A copy of `landing` whose log files are cut at line ends into parts of ~PART_BYTES."""
    if (target / "ground_truth.json").exists():
        return
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(landing, target, ignore=shutil.ignore_patterns("logs"))
    for source in sorted((landing / "logs").rglob("*.jsonl")):
        folder = target / source.parent.relative_to(landing)
        folder.mkdir(parents=True, exist_ok=True)
        with source.open("rb") as lines:
            part, out, written = 0, None, PART_BYTES
            for line in lines:
                if written >= PART_BYTES:
                    if out:
                        out.close()
                    part, written = part + 1, 0
                    out = (folder / f"{source.stem}-part{part:03d}.jsonl").open("wb")
                out.write(line)
                written += len(line)
            if out:
                out.close()


@dataclass
class Step:
    name: str
    seconds: float
    peak_mb: float


def run_all(steps: dict[str, list[str]], workers: int) -> tuple[list[Step], float]:
    """Run the commands, at most `workers` at once; each one's time and peak memory, and the
    wall time of all of them (the makespan a run's parallel steps take)."""
    pending, running, done = list(steps.items()), {}, []
    started = time.perf_counter()
    while pending or running:
        while pending and len(running) < workers:
            name, argv = pending.pop(0)
            running[subprocess.Popen(argv, stdout=subprocess.DEVNULL).pid] = (name, time.perf_counter())
        pid, status, usage = os.wait4(-1, 0)
        name, began = running.pop(pid)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"bench.scaling: {name} failed")
        done.append(Step(name, time.perf_counter() - began, usage.ru_maxrss / 1024))
    return done, time.perf_counter() - started


def _stage(action: str, landing: Path, lake: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "bench.scaling", action, str(landing), str(lake), *extra]


def measure_shards(landing: Path, base_lake: Path, count: int, workers: int) -> dict:
    from audit_pipeline.landing import Landing
    from audit_pipeline.loads.staging import Shard

    lake = base_lake.parent / f"lake-{count}"
    shutil.rmtree(lake, ignore_errors=True)
    shutil.copytree(base_lake, lake)
    files = Landing(str(landing)).list("logs", (".jsonl",))
    shard_bytes = {n: sum(f.size for f in files if Shard(n, count).holds(f.path)) for n in range(1, count + 1)}
    ingest, ingest_wall = run_all({f"ingest shard {n}": _stage("stage-calls", landing, lake, str(n), str(count))
                                   for n in range(1, count + 1)}, workers)
    [calls_commit], _ = run_all({"llm_calls commit": _stage("commit-calls", landing, lake, str(count))}, 1)
    lineage, lineage_wall = run_all({f"lineage shard {n}": _stage("stage-lineage", landing, lake, str(n), str(count))
                                     for n in range(1, count + 1)}, workers)
    [lineage_commit], _ = run_all({"output_lineage commit": _stage("commit-lineage", landing, lake, str(count))}, 1)
    shutil.rmtree(lake, ignore_errors=True)
    return {"count": count, "shard_bytes": shard_bytes, "ingest": ingest, "ingest_wall": ingest_wall,
            "calls_commit": calls_commit, "lineage": lineage, "lineage_wall": lineage_wall,
            "lineage_commit": lineage_commit}


def render(results: list[dict], records: int, log_mb: float, workers: int) -> str:
    lines = [f"{records:,} calls in one day, {log_mb:,.0f} MB of logs in parts of ~{PART_BYTES >> 20} MB; "
             f"at most {workers} shard processes at once on this {os.cpu_count()}-core machine; "
             f"measured {datetime.now(UTC):%Y-%m-%d} with `python -m bench.scaling`.", "",
             "| shards | ingest shard s (slowest) | MB/s per shard process | ingest shards wall s | llm_calls commit s "
             "| lineage shard s (slowest) | lineage shards wall s | output_lineage commit s "
             "| peak MB: a shard, llm_calls commit, output_lineage commit |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        per_shard = [r["shard_bytes"][int(s.name.split()[-1])] / 1e6 / s.seconds for s in r["ingest"]]
        peak_shard = max(s.peak_mb for s in r["ingest"] + r["lineage"])
        lines.append(
            f"| {r['count']} | {max(s.seconds for s in r['ingest']):.1f} | {min(per_shard):.0f}–{max(per_shard):.0f} "
            f"| {r['ingest_wall']:.1f} | {r['calls_commit'].seconds:.1f} | {max(s.seconds for s in r['lineage']):.1f} "
            f"| {r['lineage_wall']:.1f} | {r['lineage_commit'].seconds:.1f} "
            f"| {peak_shard:,.0f}, {r['calls_commit'].peak_mb:,.0f}, {r['lineage_commit'].peak_mb:,.0f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> None:
    if argv and argv[0] in ACTIONS:
        ACTIONS[argv[0]](*argv[1:])
        return
    parser = argparse.ArgumentParser(prog="python -m bench.scaling")
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--shards", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    work = RESULTS / f"work-{args.records}"
    if not (work / "landing" / "ground_truth.json").exists():
        raise SystemExit(f"bench.scaling: no generated day in {work}: run `python -m bench.run --records "
                         f"{args.records}` first (or `audit-pipeline sample-data`)")
    landing = work / "landing-rotated"
    rotate(work / "landing", landing)
    log_mb = sum(p.stat().st_size for p in (landing / "logs").rglob("*") if p.is_file()) / 1e6
    base = work / "scaling" / "lake-base"
    shutil.rmtree(base.parent, ignore_errors=True)
    for stage in ("prompt_history", "price_catalog"):
        subprocess.run(command(stage, landing, base, DAY), check=True, stdout=subprocess.DEVNULL)
    results = [measure_shards(landing, base, count, args.workers) for count in args.shards]
    table = render(results, args.records, log_mb, args.workers)
    (RESULTS / "scaling.md").write_text(table)
    _write_into_doc(args.records, table)
    print(table)


def _write_into_doc(records: int, table: str) -> None:
    """Replace this workload's table in docs/scaling.md (between its markers, if present)."""
    start, end = f"<!-- scaling:{records}:start -->", f"<!-- scaling:{records}:end -->"
    text = DOC.read_text()
    if start in text and end in text:
        head, rest = text.split(start, 1)
        DOC.write_text(f"{head}{start}\n{table.strip()}\n{end}{rest.split(end, 1)[1]}")


def _limits():
    from audit_pipeline.loads.calls import record_limits

    now = datetime.now(UTC)
    return now, record_limits(now, None, 16 << 30)


def _stage_calls(landing: str, lake: str, number: str, count: str) -> None:
    from audit_pipeline.lake import Lake
    from audit_pipeline.landing import Landing
    from audit_pipeline.loads.call_shards import stage_shard
    from audit_pipeline.loads.staging import Shard

    now, limits = _limits()
    stage_shard(Landing(landing), Lake(lake), Landing(lake), DAY, DAY, now, Shard(int(number), int(count)), limits)


def _commit_calls(landing: str, lake: str, count: str) -> None:
    from audit_pipeline.lake import Lake
    from audit_pipeline.landing import Landing
    from audit_pipeline.loads.call_shards import commit_shards

    commit_shards(Landing(landing), Lake(lake), Landing(lake), DAY, DAY, datetime.now(UTC), int(count), "bench")


def _stage_lineage(landing: str, lake: str, number: str, count: str) -> None:
    from audit_pipeline.lake import Lake
    from audit_pipeline.landing import Landing
    from audit_pipeline.loads.lineage import stage_lineage
    from audit_pipeline.loads.staging import Shard

    stage_lineage(Lake(lake), Landing(lake), DAY, DAY, Shard(int(number), int(count)))


def _commit_lineage(landing: str, lake: str, count: str) -> None:
    from audit_pipeline.lake import Lake
    from audit_pipeline.landing import Landing
    from audit_pipeline.loads.lineage import commit_lineage

    commit_lineage(Lake(lake), Landing(lake), DAY, DAY, int(count), "bench")


ACTIONS = {"stage-calls": _stage_calls, "commit-calls": _commit_calls, "stage-lineage": _stage_lineage,
           "commit-lineage": _commit_lineage}


if __name__ == "__main__":
    main(sys.argv[1:])
