"""The `audit-pipeline` command (docs/contract.md "Command line").

Exit codes: 0 success, 1 a check failed, 2 bad usage or bad input that stopped the command.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from audit_pipeline.settings import Settings, load_settings

EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_INPUT = 0, 1, 2
POLICY_COMMANDS = ("demo", "run", "report", "enforce", "export")
"""Commands whose assets apply the policy: they check it before starting a run."""
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
    sample.add_argument("--anomalies", choices=("standard", "varied"), default="standard",
                        help="varied: also spend anomalies of several kinds and sizes (30+ days) to measure detection")

    run = commands.add_parser("run", help="materialize every asset for a range of days")
    run.add_argument("--from", dest="first", type=_date, required=True)
    run.add_argument("--to", dest="last", type=_date)

    trace = commands.add_parser("trace", help="the lineage of one output (event_id or response_id)")
    trace.add_argument("id")
    trace.add_argument("--export", type=Path, help="read it from this auditor export (verified first), not the lake")

    export = commands.add_parser("export", help="write an auditor export of a period (signed, chained, write-once)")
    export.add_argument("--from", dest="first", type=_date, required=True)
    export.add_argument("--to", dest="last", type=_date, required=True)
    export.add_argument("--out", help="a folder or s3://bucket/prefix (default: AUDIT_EXPORTS)")

    verify = commands.add_parser("verify", help="check an export offline: exit 0 intact, 1 with a line per fault")
    verify.add_argument("location", help="an export folder, a folder of exports, or an s3:// prefix")
    verify.add_argument("--anchor", help="the manifest digest (sha256) or sequence of an export you verified and "
                                         "recorded before: the chain may end there instead of at its first export")
    verify.add_argument("--public-key", dest="public_key",
                        help="the signing key you expect: its fingerprint (sha256:…) or a PEM file")

    commands.add_parser("policy", help="check the retention policy (AUDIT_CONFIG) and print it")

    report = commands.add_parser("report", help="retention reports for one day, optionally as of a past moment")
    report.add_argument("--date", type=_date, help="report date (default: the as-of day, or yesterday UTC)")
    report.add_argument("--as-of", dest="as_of",
                        help="read the tables as they stood then: YYYY-MM-DD (end of that UTC day) or an ISO time")

    enforce = commands.add_parser("enforce", help="delete rows past their retention ceiling (dry run by default)")
    enforce.add_argument("--apply", action="store_true", help="really delete (and vacuum); default: dry run")
    enforce.add_argument("--safety-hours", type=int, default=None,
                         help="vacuum keeps files newer versions need for this long (default 168)")
    return parser


def _before_start(flag: str, day: date, start: date) -> str:
    """Why a day before the first partition is refused, and the one setting that admits it."""
    return (f"{flag} {day} is before AUDIT_START_DATE {start}, the first day the pipeline keeps: "
            f"run with AUDIT_START_DATE={day} (or earlier) to include it")


def _run(settings: Settings, first: date, last: date) -> int:
    from audit_pipeline.runner import materialize_range

    if last < first:
        raise UsageError(f"--to {last} is before --from {first}")
    if first < settings.start_date:
        raise UsageError(_before_start("--from", first, settings.start_date))
    started = time.monotonic()
    outcome = materialize_range(settings, first, last)
    print(f"Dagster run {outcome.run_id}: {'succeeded' if outcome.success else 'FAILED'} "
          f"for {first} .. {last} in {time.monotonic() - started:.1f} s")
    if not outcome.success:
        print("Failed steps: " + ", ".join(outcome.failed_steps), file=sys.stderr)
        return EXIT_CHECK_FAILED
    return EXIT_OK


def _demo(settings: Settings, days: int) -> int:
    from audit_pipeline.reports.summary import render_summary
    from audit_pipeline.sample.generator import GROUND_TRUTH, SampleSpec, generate_sample
    from audit_pipeline.storage import lake_for, landing_for

    started = time.monotonic()
    landing = landing_for(settings)
    truth = [f for f in landing.list("", (GROUND_TRUTH,)) if f.path == GROUND_TRUTH]
    if truth:
        print(f"Sample landing zone already in {settings.landing}: reusing it.")
        document = landing.read_bytes(truth[0])[0]
    else:
        # The sample is written locally (git builds the prompt repository there), then
        # published to the landing zone when that is on S3.
        on_s3 = settings.landing.startswith("s3://")
        local = Path(settings.prompt_repo).parent if on_s3 else Path(settings.landing)
        if on_s3 and (local / GROUND_TRUTH).exists():  # `make demo` ran first: upload its sample
            print(f"Reusing the local sample in {local} ...")
        else:
            print(f"Writing {days} days of sample data to {local} ...")
            generate_sample(SampleSpec(local, days, calls_per_day=DEMO_CALLS_PER_DAY))
        if on_s3:
            print(f"Uploading the sample landing zone to {settings.landing} ...")
            publish_tree(local, landing)
        document = (local / GROUND_TRUTH).read_bytes()
    sample_days = [date.fromisoformat(d) for d in json.loads(document)["days"]]
    status = _run(settings, sample_days[0], sample_days[-1])
    print()
    print(render_summary(lake_for(settings)))
    print()
    _print_retention(settings, sample_days[-1], as_of_requested=False)
    print(f"\nSpend and security page (billed versus logged, findings): "
          f"{settings.reports}/spend/{sample_days[-1]}.html")
    print()
    _enforce(settings, apply=False, safety_hours=None)
    print()
    settings = _with_demo_signing_key(settings)
    exported, export_dir = _export(settings, sample_days[0], sample_days[-1], None)
    print(f"\n$ audit-pipeline verify {export_dir}")
    verified = _verify(settings, export_dir, None) if export_dir else EXIT_CHECK_FAILED
    example = _example_output(settings)
    print(f"""
Demo finished in {time.monotonic() - started:.0f} s. Next:
  make ui                                  # Dagster UI on http://127.0.0.1:3000: assets, runs, metadata
  .venv/bin/audit-pipeline trace {example}  # lineage of one output
  .venv/bin/audit-pipeline trace {example} --export {export_dir}  # the same, from the export alone
  .venv/bin/audit-pipeline run --from {sample_days[-1]}  # re-run a day: changes nothing
  .venv/bin/audit-pipeline report --date {sample_days[-1]} --as-of {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}  # reproduce the report later
Landing zone: {settings.landing}   ground truth: {GROUND_TRUTH} there
Delta tables: {settings.lake}   HTML reports: {settings.reports}   auditor exports: {settings.exports}""")
    return status or exported or verified


DEMO_KEY_FILE = "demo-signing-key"


def _with_demo_signing_key(settings: Settings) -> Settings:
    """AUDIT_SIGNING_KEY, or for the demo a development key kept in DAGSTER_HOME (git-ignored,
    made once), so `make demo` needs no configuration. Real exports need a managed key."""
    import secrets
    from dataclasses import replace

    if settings.signing_key:
        return settings
    path = Path(settings.dagster_home) / DEMO_KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    print(f"AUDIT_SIGNING_KEY is not set: signing with the demo's development key ({path}).")
    return replace(settings, signing_key=path.read_text().strip())


def _print_retention(settings: Settings, day: date, as_of_requested: bool) -> None:
    from audit_pipeline.reports.retention_markdown import render_overview
    from audit_pipeline.retention.publish import report_path
    from audit_pipeline.retention.stored import stored_reports
    from audit_pipeline.storage import lake_for

    reports = stored_reports(lake_for(settings), day, day, as_of_requested)
    reports.sort(key=lambda r: r["ai_system"])
    if not reports:
        print(f"No retention report for {day}.")
        return
    print(f"Retention reports for {day}, as of {reports[0]['as_of']:%Y-%m-%d %H:%M:%S} UTC:\n")
    print(render_overview(reports))
    print("\nHTML reports (open in a browser):")
    for r in reports:
        print(f"  {settings.reports}/{report_path(r, as_of_requested)}")


def _report(settings: Settings, day: date | None, as_of: str | None) -> int:
    from audit_pipeline.defs.partitions import partition_range_tags
    from audit_pipeline.retention.publish import parse_as_of
    from audit_pipeline.runner import run_job

    moment = parse_as_of(as_of, datetime.now(UTC)) if as_of else None
    if moment and moment > datetime.now(UTC):
        raise UsageError(f"--as-of {as_of} is in the future")
    day = day or (moment.date() if moment else (datetime.now(UTC) - timedelta(days=1)).date())
    if day < settings.start_date:
        raise UsageError(_before_start("--date", day, settings.start_date))
    config = {"ops": {"retention_report": {"config": {"as_of": moment.isoformat() if moment else None}}}}
    outcome = run_job(settings, "retention_reports", partition_range_tags(day, day), config)
    print(f"Dagster run {outcome.run_id}: {'succeeded' if outcome.success else 'FAILED'}")
    if not outcome.success:
        print("Failed steps: " + ", ".join(outcome.failed_steps), file=sys.stderr)
        return EXIT_CHECK_FAILED
    _print_retention(settings, day, moment is not None)
    return EXIT_OK


def _enforce(settings: Settings, apply: bool, safety_hours: int | None) -> int:
    from audit_pipeline.reports.markdown import markdown_table
    from audit_pipeline.runner import run_job
    from audit_pipeline.storage import lake_for

    config = {"dry_run": not apply, **({"vacuum_safety_hours": safety_hours} if safety_hours is not None else {})}
    outcome = run_job(settings, "enforce_retention", run_config={"ops": {"retention_enforcement": {"config": config}}})
    if not outcome.success:
        print(f"Dagster run {outcome.run_id} FAILED: " + ", ".join(outcome.failed_steps), file=sys.stderr)
        return EXIT_CHECK_FAILED
    ledger = lake_for(settings).read("erasure_log", where=f"run_id = '{outcome.run_id}'").to_pylist()
    verb = "deleted" if apply else "would delete (dry run)"
    print(f"Retention enforcement, Dagster run {outcome.run_id}: {verb} "
          f"{sum(r['rows_deleted'] for r in ledger if r['action'] == 'delete')} rows")
    if ledger:
        print(markdown_table(["table", "system", "action", "rows", "files removed", "cutoff", "holds checked"],
                             [[r["table_name"], r["ai_system"], r["action"], r["rows_deleted"], r["files_removed"],
                               r["cutoff_date"], r["hold_checked"]] for r in ledger]))
    return EXIT_OK


def publish_tree(local: Path, landing) -> None:
    """Copy a local landing zone (not the prompt repository: git reads that locally)."""
    for path in sorted(local.rglob("*")):
        relative = path.relative_to(local).as_posix()
        if path.is_file() and not relative.startswith("prompt-repo/"):
            landing.write_bytes(relative, path.read_bytes())


def _example_output(settings: Settings) -> str:
    from audit_pipeline.storage import lake_for

    rows = lake_for(settings).read("output_lineage", where="resolution = 'explicit'",
                                    columns=["event_id"])
    return rows.column("event_id")[0].as_py() if rows.num_rows else "EVENT_ID"


def _trace(settings: Settings, output_id: str, export: Path | None) -> int:
    from audit_pipeline.storage import lake_for
    from audit_pipeline.trace import NotFound, render_trace, trace_output

    if export is not None:
        from audit_pipeline.exports.reader import ExportTables
        from audit_pipeline.exports.verify import verify

        verification = verify(export)
        if not verification.intact:
            _print_faults(verification.faults)
            return EXIT_CHECK_FAILED
        tables = ExportTables(export)
    try:
        print(render_trace(trace_output(lake_for(settings) if export is None else tables, output_id)))
    except NotFound as exc:
        print(f"audit-pipeline trace: {exc}", file=sys.stderr)
        return EXIT_CHECK_FAILED
    return EXIT_OK


def _export(settings: Settings, first: date, last: date, out: str | None) -> tuple[int, str | None]:
    """Run the export through Dagster; returns the exit code and where the export is."""
    from audit_pipeline.runner import latest_materialization, run_job

    if last < first:
        raise UsageError(f"--to {last} is before --from {first}")
    if not settings.signing_key:
        raise UsageError("AUDIT_SIGNING_KEY is not set: exports are signed with it")
    config = {"first": first.isoformat(), "last": last.isoformat(), **({"out": out} if out else {})}
    outcome = run_job(settings, "auditor_exports", run_config={"ops": {"auditor_export": {"config": config}}})
    if not outcome.success:
        print(f"Dagster run {outcome.run_id} FAILED: " + ", ".join(outcome.failed_steps), file=sys.stderr)
        return EXIT_CHECK_FAILED, None
    meta = latest_materialization(settings, "auditor_export", outcome.run_id)
    state = "written" if meta["created"] else "unchanged (the same period from the same table versions)"
    print(f"Auditor export {meta['export_id']} {state}, Dagster run {outcome.run_id}:\n"
          f"  {meta['location']}\n"
          f"  {meta['dagster/row_count']:,} rows in {meta['files']} files (+ manifest.json and manifest.sig), "
          f"{meta['bytes']:,} bytes; sequence {meta['sequence']} of its chain\n"
          f"  {'locked (S3 Object Lock, COMPLIANCE)' if meta['location'].startswith('s3://') else 'to be kept'}"
          f" until {meta['retain_until']}: the period's end plus the retention floor\n"
          f"  digest (sha256 of manifest.json) {meta['digest_sha256']}\n"
          f"  signed by Ed25519 key {meta['key_fingerprint']}")
    return EXIT_OK, meta["location"]


def _print_faults(faults: list[str]) -> None:
    for fault in faults:
        print(f"FAULT {fault}")


def _verify(settings: Settings, location: str, public_key: str | None, anchor: str | None = None) -> int:
    from audit_pipeline.exports.signing import fingerprint, load_public_pem
    from audit_pipeline.exports.verify import verify_location

    if public_key and not public_key.startswith("sha256:"):
        try:
            public_key = fingerprint(load_public_pem(Path(public_key).read_bytes()))
        except (OSError, ValueError) as exc:
            raise UsageError(f"--public-key {public_key}: not a fingerprint or an Ed25519 PEM file ({exc})") from exc
    if not location.startswith("s3://") and not Path(location).exists():
        raise UsageError(f"{location}: no such folder")
    result = verify_location(location, settings.s3, public_key, anchor=anchor)
    for note in result.notes:
        print(f"note: {note}")
    if not result.intact:
        _print_faults(result.faults)
        print(f"{location}: NOT intact, {len(result.faults)} fault(s)")
        return EXIT_CHECK_FAILED
    keys = sorted({(m.get("signature") or {}).get("public_key_fingerprint") for m in result.exports.values()})
    sequences = sorted(m["sequence"] for m in result.exports.values())
    print(f"{location}: intact. {len(result.exports)} export(s), sequence {sequences[0]}..{sequences[-1]}, "
          f"{result.files} files, {result.rows:,} rows; every hash, row count and signature checks, "
          f"nothing is missing or extra.\nSigned by {', '.join(keys)}"
          + ("" if public_key else ": compare with the fingerprint the organisation gave you (--public-key)."))
    return EXIT_OK


def _policy(settings: Settings) -> int:
    """Validate AUDIT_CONFIG (every problem named by its key, exit 2) and print it."""
    from audit_pipeline.policy import load_policy
    from audit_pipeline.reports.markdown import markdown_table

    policy = load_policy(settings.config_path)
    now = datetime.now(UTC)
    systems = [[s.id, s.risk_class + (f" (Annex III {s.annex_iii_point})" if s.annex_iii_point else ""), s.role,
                s.log_retention.floor_months, s.log_retention.ceiling_months or "none",
                s.documentation_retention_years] for s in policy.systems]
    holds = [[h.id, h.system, f"{h.first_day} .. {h.last_day}", h.placed_by,
              "active" if h.active_on(now) else "released" if h.released_at else "not yet placed"]
             for h in policy.legal_holds]
    print(f"{settings.config_path}: valid\n")
    print(markdown_table(["system", "risk class", "role", "log floor (months)", "log ceiling (months)",
                          "documentation (years)"], systems))
    print("\nLegal holds:\n" + (markdown_table(["hold", "system", "days", "placed by", "status"], holds)
                                if holds else "none"))
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
        if args.command in POLICY_COMMANDS:
            from audit_pipeline.policy import load_policy

            load_policy(settings.config_path)  # a broken policy stops here, exit 2, naming each key
        if args.command == "demo":
            return _demo(settings, args.days)
        if args.command == "sample-data":
            from audit_pipeline.sample.generator import SampleSpec, generate_sample

            started = time.monotonic()
            truth = generate_sample(SampleSpec(args.out, args.days, args.seed, args.calls_per_day, args.end,
                                               varied=args.anomalies == "varied"))
            records = args.days * args.calls_per_day
            elapsed = time.monotonic() - started
            print(f"Wrote {records} calls over {len(truth['days'])} days to {args.out} in {elapsed:.1f} s "
                  f"({records / elapsed:,.0f} calls/s); ground truth in {args.out / 'ground_truth.json'}")
            return EXIT_OK
        if args.command == "run":
            return _run(settings, args.first, args.last or args.first)
        if args.command == "policy":
            return _policy(settings)
        if args.command == "report":
            return _report(settings, args.date, args.as_of)
        if args.command == "enforce":
            return _enforce(settings, args.apply, args.safety_hours)
        if args.command == "export":
            return _export(settings, args.first, args.last, args.out)[0]
        if args.command == "verify":
            return _verify(settings, args.location, args.public_key, args.anchor)
        return _trace(settings, args.id, args.export)
    except (UsageError, ValueError, FileExistsError) as exc:
        print(f"audit-pipeline {args.command}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
