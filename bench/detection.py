"""Detection quality of `security_findings`, measured on varied injected anomalies.

`python -m bench.detection [--seeds 7 11 23] [--days 35] [--calls-per-day 300]` writes, per
seed, a sample with `--anomalies varied` (leaked keys on two providers, models nobody
requested, spend spikes of two sizes, a night-time shift, a token-shape shift, a day
without logs, a mispriced token type; random onsets and keys), runs every asset through
Dagster, and scores the findings against ground_truth.json (sample/varied.py `score`).
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import date
from pathlib import Path

from audit_pipeline.runner import materialize_range
from audit_pipeline.sample.generator import SampleSpec, generate_sample
from audit_pipeline.sample.varied import score
from audit_pipeline.settings import load_settings
from audit_pipeline.storage import lake_for

END = date(2026, 11, 26)


def measure(seed: int, days: int, calls_per_day: int, work: Path):
    landing = work / f"landing-{seed}"
    truth = generate_sample(SampleSpec(landing, days, seed, calls_per_day, END, varied=True))
    settings = load_settings({"AUDIT_LANDING": str(landing), "AUDIT_LAKE": str(work / f"lake-{seed}"),
                              "AUDIT_REPORTS": str(work / f"reports-{seed}"),
                              "DAGSTER_HOME": str(work / f"dagster-{seed}")})
    day_list = [date.fromisoformat(d) for d in truth["days"]]
    outcome = materialize_range(settings, day_list[0], day_list[-1])
    if not outcome.success:
        raise SystemExit(f"seed {seed}: the run failed: {outcome.failed_steps}")
    return score(lake_for(settings).read("security_findings").to_pylist(), truth)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 11, 23])
    parser.add_argument("--days", type=int, default=35)
    parser.add_argument("--calls-per-day", type=int, default=300)
    args = parser.parse_args()
    print("| seed | anomalies | findings | recall | precision | missed | unexplained |")
    print("|---:|---:|---:|---:|---:|---|---|")
    with tempfile.TemporaryDirectory(prefix="audit-detection-") as work:
        for seed in args.seeds:
            s = measure(seed, args.days, args.calls_per_day, Path(work))
            missed = "; ".join(f"{m['finding_type']} {m['day']}" for m in s.missed) or "none"
            extra = "; ".join(f"{u['finding_type']} {u['usage_date']} {u['api_key_id']}" for u in s.unexplained)
            print(f"| {seed} | {s.anomalies} | {s.findings} | {s.recall:.3f} | {s.precision:.3f} | {missed} | "
                  f"{extra or 'none'} |", flush=True)


if __name__ == "__main__":
    main()
