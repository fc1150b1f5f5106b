"""The `audit-pipeline` command (DESIGN.md "Command line").

Exit codes: 0 success, 1 a check failed, 2 bad usage or bad input that stopped the command.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path

from audit_pipeline.settings import Settings, load_settings

EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_INPUT = 0, 1, 2
DEMO_DAYS = 14
DEMO_CALLS_PER_DAY = 2000


class UsageError(Exception):
    """Bad input that stops the command (exit 2)."""


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from exc


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="audit-pipeline", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="sample data (if absent) + every asset through Dagster")
    demo.add_argument("--days", type=_positive, default=DEMO_DAYS)

    sample = commands.add_parser("sample-data", help="write a sample landing zone with ground truth")
    sample.add_argument("--out", type=Path, required=True)
    sample.add_argument("--days", type=_positive, required=True)
    sample.add_argument("--seed", type=int, default=7)
    sample.add_argument("--calls-per-day", type=_positive, default=DEMO_CALLS_PER_DAY)
    sample.add_argument("--end", type=_date, help="last sample day (default: yesterday, UTC)")

    run = commands.add_parser("run", help="materialize every asset for a range of days")
    run.add_argument("--from", dest="first", type=_date, required=True)
    run.add_argument("--to", dest="last", type=_date)

    trace = commands.add_parser("trace", help="the lineage of one output (event_id or response_id)")
    trace.add_argument("id")
    return parser


def _run(settings: Settings, first: date, last: date) -> int:
    from audit_pipeline.runner import materialize_range

    if last < first:
        raise UsageError(f"--to {last} is before --from {first}")
    if first < settings.start_date:
        raise UsageError(f"--from {first} is before AUDIT_START_DATE {settings.start_date}")
    started = time.monotonic()
    outcome = materialize_range(settings, first, last)
    print(f"Dagster run {outcome.run_id}: {'succeeded' if outcome.success else 'FAILED'} "
          f"for {first} .. {last} in {time.monotonic() - started:.1f} s")
    if not outcome.success:
        print("Failed steps: " + ", ".join(outcome.failed_steps), file=sys.stderr)
        return EXIT_CHECK_FAILED
    return EXIT_OK


def _demo(settings: Settings, days: int) -> int:
    from audit_pipeline.lake import Lake
    from audit_pipeline.reports.summary import render_summary
    from audit_pipeline.sample.generator import GROUND_TRUTH, SampleSpec, generate_sample

    started = time.monotonic()
    landing = Path(settings.landing)
    truth_file = landing / GROUND_TRUTH
    if truth_file.exists():
        print(f"Sample landing zone already in {landing}: reusing it.")
    else:
        print(f"Writing {days} days of sample data to {landing} ...")
        generate_sample(SampleSpec(landing, days, calls_per_day=DEMO_CALLS_PER_DAY))
    sample_days = [date.fromisoformat(d) for d in json.loads(truth_file.read_text())["days"]]
    status = _run(settings, sample_days[0], sample_days[-1])
    print()
    print(render_summary(Lake(settings.lake)))
    example = _example_output(settings)
    print(f"""
Demo finished in {time.monotonic() - started:.0f} s. Next:
  make ui                                  # Dagster UI on http://127.0.0.1:3000: assets, runs, metadata
  .venv/bin/audit-pipeline trace {example}  # lineage of one output
  .venv/bin/audit-pipeline run --from {sample_days[-1]}  # re-run a day: changes nothing
Landing zone: {settings.landing}   ground truth: {truth_file}
Delta tables: {settings.lake}""")
    return status


def _example_output(settings: Settings) -> str:
    from audit_pipeline.lake import Lake

    rows = Lake(settings.lake).read("output_lineage", where="resolution = 'explicit'",
                                    columns=["event_id"])
    return rows.column("event_id")[0].as_py() if rows.num_rows else "EVENT_ID"


def _trace(settings: Settings, output_id: str) -> int:
    from audit_pipeline.lake import Lake
    from audit_pipeline.trace import NotFound, render_trace, trace_output

    try:
        print(render_trace(trace_output(Lake(settings.lake), output_id)))
    except NotFound as exc:
        print(f"audit-pipeline trace: {exc}", file=sys.stderr)
        return EXIT_CHECK_FAILED
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
        if args.command == "demo":
            return _demo(settings, args.days)
        if args.command == "sample-data":
            from audit_pipeline.sample.generator import SampleSpec, generate_sample

            started = time.monotonic()
            truth = generate_sample(SampleSpec(args.out, args.days, args.seed, args.calls_per_day, args.end))
            records = args.days * args.calls_per_day
            elapsed = time.monotonic() - started
            print(f"Wrote {records} calls over {len(truth['days'])} days to {args.out} in {elapsed:.1f} s "
                  f"({records / elapsed:,.0f} calls/s); ground truth in {args.out / 'ground_truth.json'}")
            return EXIT_OK
        if args.command == "run":
            return _run(settings, args.first, args.last or args.first)
        return _trace(settings, args.id)
    except (UsageError, ValueError, FileExistsError) as exc:
        print(f"audit-pipeline {args.command}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
