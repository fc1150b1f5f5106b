"""`make bench`: our stages, the floor and the peers on generated days of 1M and 4M calls.

For each workload (one UTC day of N calls from the sample generator): every pipeline stage
in its own process, the whole pipeline in one process (end to end, no Dagster), the same
again with nothing new landed (the nightly rerun), the floor (the day's logs read by DuckDB
with the explicit schema of every field, and by pyarrow, and written to Parquet), the
equal-work peer (bench/equal_work.py: our ingest's work by hand in DuckDB + delta-rs), and the
DuckDB, Polars and pandas peer scripts (less work: nine columns, no validation). Issue 17's
targets are checked against these ratios and printed met or missed.
Wall time and each process's peak resident memory (`os.wait4`). Dagster's own overhead is
one `dagster asset materialize` of a trivial asset. Writes the tables into
docs/performance.md and a plot into bench/results/performance.png (generated, not committed).

Usage: `python -m bench.run [--records 1000000 --records 4000000] [--fresh]`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from importlib.metadata import version
from pathlib import Path

from bench.floor import NOT_READABLE
from bench.stages import END_TO_END, REFS, STAGES, command

ROOT = Path(__file__).parent.parent
RESULTS = Path(__file__).parent / "results"
DOC = ROOT / "docs" / "performance.md"
PLOT = RESULTS / "performance.png"
DAY = date(2026, 11, 20)
@dataclass
class Measure:
    name: str
    seconds: float
    peak_mb: float


def measure(name: str, argv: list[str], env: dict | None = None) -> Measure | None:
    """Wall seconds and peak RSS of one child process; None when it cannot read the input."""
    started = time.perf_counter()
    child = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code == NOT_READABLE:
        return None
    if code != 0:
        raise SystemExit(f"bench: {name} failed ({' '.join(argv[:4])} …)")
    return Measure(name, time.perf_counter() - started, usage.ru_maxrss / 1024)


def workload(records: int, fresh: bool) -> dict:
    work = RESULTS / f"work-{records}"
    landing, lake = work / "landing", work / "lake"
    results: dict = {"records": records, "stages": [], "others": []}
    truth = landing / "ground_truth.json"
    if fresh or not truth.exists() or json.loads(truth.read_text())["calls_per_day"] != records:
        shutil.rmtree(work, ignore_errors=True)
        results["generate"] = measure("generate", [sys.executable, "-m", "audit_pipeline.cli", "sample-data",
                                                   "--out", str(landing), "--days", "1", "--calls-per-day",
                                                   str(records), "--end", DAY.isoformat()])
    results["log_mb"] = sum(p.stat().st_size for p in (landing / "logs").rglob("*") if p.is_file()) / 1e6
    for folder in (lake, f"{lake}-reports", f"{lake}-exports"):
        shutil.rmtree(folder, ignore_errors=True)
    for name in STAGES:
        results["stages"].append(measure(name, command(name, landing, lake, DAY)))
    for folder in (lake, f"{lake}-reports"):
        shutil.rmtree(folder, ignore_errors=True)
    results["end_to_end"] = measure("end to end", command(END_TO_END, landing, lake, DAY))
    results["rerun"] = measure("nightly rerun, nothing new", command(END_TO_END, landing, lake, DAY))
    refs, out = work / "refs", work / "peer-out"
    shutil.rmtree(out, ignore_errors=True)
    refs.mkdir(exist_ok=True)
    subprocess.run(command(REFS, landing, lake, DAY, str(refs)), check=True)
    results["others"].append(measure("peer: equal-work ingest (DuckDB + delta-rs)", [
        sys.executable, "-m", "bench.equal_work", str(landing), str(out / "equal-work")]))
    for reader in ("duckdb", "pyarrow"):
        results["others"].append(measure(f"floor: {reader}", [sys.executable, "-m", "bench.floor", reader,
                                                               str(landing), str(out / "floor")]))
    for peer in ("duckdb", "polars", "pandas"):
        results["others"].append(measure(f"peer: {peer} script", [sys.executable, "-m", "bench.peers", peer,
                                                                   str(landing), str(refs), str(out)]))
    for peer in ("duckdb", "polars", "pandas"):
        results["others"].append(measure(f"peer: {peer} quality checks", [
            sys.executable, "-m", "bench.quality_peers", peer, str(refs)]))
    for peer in ("duckdb", "polars", "pandas"):
        results["others"].append(measure(f"peer: {peer} reconciliation join", [
            sys.executable, "-m", "bench.spend_peers", peer, str(refs)]))
    results["others"] = [m for m in results["others"] if m is not None]
    return results


def dagster_overhead() -> Measure:
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "DAGSTER_HOME": home}
        dagster = str(Path(sys.executable).parent / "dagster")
        return measure("dagster: one trivial asset", [dagster, "asset", "materialize", "-f",
                                                      str(Path(__file__).parent / "trivial_asset.py"),
                                                      "--select", "trivial"], env)


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}"


def targets(workloads: list[dict]) -> list[str]:
    """Issue 17's targets, each as the ratio measured in this run, met or missed."""
    rows = []
    for w in workloads:
        stage = {m.name: m for m in w["stages"]}
        others = {m.name: m for m in w["others"]}
        ingest = stage["ingest_llm_calls"]
        floor = min((m for m in w["others"] if m.name.startswith("floor")), key=lambda m: m.seconds)
        peer = others["peer: equal-work ingest (DuckDB + delta-rs)"]
        e2e, label = w["end_to_end"], f"{w['records'] // 1_000_000}M"
        rows += [
            (f"{label}: ingest of the logs, MB/s", w["log_mb"] / ingest.seconds, "≥ 200", w["log_mb"] / ingest.seconds >= 200),
            (f"{label}: ingest ÷ equal-work peer", ingest.seconds / peer.seconds, "≤ 1.00", ingest.seconds <= peer.seconds),
            (f"{label}: end to end ÷ floor", e2e.seconds / floor.seconds, "≤ 2.50", e2e.seconds <= 2.5 * floor.seconds),
            (f"{label}: nightly rerun ÷ full run", w["rerun"].seconds / e2e.seconds, "≤ 0.05",
             w["rerun"].seconds <= 0.05 * e2e.seconds),
            (f"{label}: quality checks ÷ ingest", stage["quality (GX, every table)"].seconds / ingest.seconds, "≤ 0.30",
             stage["quality (GX, every table)"].seconds <= 0.3 * ingest.seconds),
        ]
    first = workloads[0]
    rows.append((f"{first['records'] // 1_000_000}M: peak memory end to end, MB", first["end_to_end"].peak_mb,
                 "≤ 1,229", first["end_to_end"].peak_mb <= 1.2 * 1024))
    if len(workloads) > 1:
        growth = workloads[-1]["end_to_end"].peak_mb / first["end_to_end"].peak_mb
        rows.append((f"peak memory {workloads[-1]['records'] // 1_000_000}M ÷ {first['records'] // 1_000_000}M",
                     growth, "≤ 1.30", growth <= 1.3))
    return ["#### Targets (issue 17)", "", "| measure | this run | target | |", "|---|---:|---:|---|",
            *(f"| {name} | {value:,.2f} | {goal} | {'met' if met else '**missed**'} |"
              for name, value, goal, met in rows), ""]


def render(workloads: list[dict], overhead: Measure) -> str:
    lines = [
        f"Machine: {os.cpu_count()} cores, {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB, "
        f"{platform.platform()}, Python {platform.python_version()}; deltalake {version('deltalake')}, "
        f"duckdb {version('duckdb')}, pyarrow {version('pyarrow')}, dagster {version('dagster')}, "
        f"polars {version('polars')}, pandas {version('pandas')}. Measured {time.strftime('%Y-%m-%d')} "
        f"with `make bench` (`python -m bench.run`).",
        "",
    ]
    for w in workloads:
        floor = min((m for m in w["others"] if m.name.startswith("floor")), key=lambda m: m.seconds)
        peers = {m.name.split()[1]: m for m in w["others"] if m.name.startswith("peer") and m.name.endswith("script")}
        stage = {m.name: m for m in w["stages"]}
        others = {m.name: m for m in w["others"]}
        ingest = stage["ingest_llm_calls"].seconds + stage["billing"].seconds
        e2e = w["end_to_end"]
        lines += [
            f"### {w['records']:,} calls in one day ({w['log_mb']:,.0f} MB of logs)",
            "",
            "| step | wall s | peak RSS MB |",
            "|---|---:|---:|",
            *(f"| {m.name} | {m.seconds:.1f} | {m.peak_mb:,.0f} |"
              for m in [*w["stages"], e2e, w["rerun"], *w["others"]]),
            "",
            f"End to end (Dagster excluded) ÷ floor ({floor.name.split(': ')[1]}): "
            f"**{_ratio(e2e.seconds, floor.seconds)}**; "
            f"÷ DuckDB script: **{_ratio(e2e.seconds, peers['duckdb'].seconds)}**; "
            f"÷ Polars script: **{_ratio(e2e.seconds, peers['polars'].seconds)}**; "
            f"÷ pandas script: **{_ratio(e2e.seconds, peers['pandas'].seconds)}**. "
            f"Nightly rerun with nothing new ÷ full run: **{_ratio(w['rerun'].seconds, e2e.seconds)}**. "
            f"Quality checks ÷ ingest (llm_calls + billing): "
            f"**{_ratio(stage['quality (GX, every table)'].seconds, ingest)}**. "
            f"Retention report (every system, HTML included) ÷ end to end: "
            f"**{_ratio(stage['retention report'].seconds, e2e.seconds)}**. "
            f"Spend reconciliation ÷ the DuckDB peer's bare join: "
            f"**{_ratio(stage['spend reconciliation'].seconds, others['peer: duckdb reconciliation join'].seconds)}**. "
            f"Auditor export of the day (every table, signed; monthly, so not in end to end) ÷ end to end: "
            f"**{_ratio(stage['auditor export'].seconds, e2e.seconds)}**; verify ÷ export: "
            f"**{_ratio(stage['verify export'].seconds, stage['auditor export'].seconds)}**.",
            "",
        ]
    lines += targets(workloads)
    if len(workloads) > 1:
        small, big = workloads[0]["end_to_end"], workloads[-1]["end_to_end"]
        lines.append(f"Peak memory, end to end: {small.peak_mb:,.0f} MB at {workloads[0]['records']:,} → "
                     f"{big.peak_mb:,.0f} MB at {workloads[-1]['records']:,} "
                     f"(× {big.peak_mb / small.peak_mb:.2f}).")
        lines.append("")
    lines.append(f"Dagster's own overhead, {overhead.name}: {overhead.seconds:.1f} s, {overhead.peak_mb:,.0f} MB.")
    return "\n".join(lines) + "\n"


def plot(workloads: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (time_ax, memory_ax) = plt.subplots(1, 2, figsize=(12, 5))
    width = 0.8 / len(workloads)
    for i, w in enumerate(workloads):
        steps = [*w["stages"], w["end_to_end"], *w["others"]]
        xs = [x + i * width for x in range(len(steps))]
        label = f"{w['records'] // 1_000_000}M calls"
        time_ax.bar(xs, [m.seconds for m in steps], width, label=label)
        memory_ax.bar(xs, [m.peak_mb for m in steps], width, label=label)
    names = [m.name for m in [*workloads[0]["stages"], workloads[0]["end_to_end"], *workloads[0]["others"]]]
    for ax, title in ((time_ax, "wall time (s)"), (memory_ax, "peak memory (MB)")):
        ax.set_xticks([x + width * (len(workloads) - 1) / 2 for x in range(len(names))], names,
                      rotation=45, ha="right")
        ax.set_title(title)
        ax.legend()
    fig.tight_layout()
    fig.savefig(PLOT, dpi=100)


def write_doc(report: str) -> None:
    start, end = "<!-- bench:start -->", "<!-- bench:end -->"
    text = DOC.read_text() if DOC.exists() else f"# Performance\n\n{start}\n{end}\n"
    head, _, rest = text.partition(start)
    _, _, tail = rest.partition(end)
    DOC.write_text(f"{head}{start}\n{report}{end}{tail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, action="append")
    parser.add_argument("--fresh", action="store_true", help="regenerate the sample days")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    workloads = [workload(n, args.fresh) for n in (args.records or [1_000_000, 4_000_000])]
    report = render(workloads, dagster_overhead())
    (RESULTS / "latest.md").write_text(report)
    plot(workloads)
    write_doc(report)
    print(report)


if __name__ == "__main__":
    main()
