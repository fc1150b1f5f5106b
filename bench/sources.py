"""Rows per second of each registered source's parser on a generated landing zone.

`python -m bench.sources [--days N] [--calls-per-day K]`: generates a sample, then parses
every file of each source (the parser alone, no Delta write) and reports rows, seconds
and rows per second per source. It also times one large application log clean and with a
single invalid byte in its middle: the cost of the fallback from the bulk path.
"""

from __future__ import annotations

import argparse
import shutil
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from audit_pipeline import engine
from audit_pipeline.lake import Lake
from audit_pipeline.landing import Landing
from audit_pipeline.loads.billing import export_files
from audit_pipeline.loads.bookkeeping import LoadReport
from audit_pipeline.loads.calls import load_calls, source_files
from audit_pipeline.sample.generator import SampleSpec, generate_sample
from audit_pipeline.sources import registry
from audit_pipeline.sources.export_files import export_rows, iter_batches
from audit_pipeline.sources.lines import ParsedFile, parse_lines

RESULTS = Path(__file__).parent / "results"
NOW = datetime(2026, 11, 27, tzinfo=UTC)


def _line_source(landing: Landing, source) -> int:
    rows, con = 0, engine.connect()
    for file in source_files(landing, source):
        parsed = ParsedFile()
        stream, _ = landing.open(file)
        with stream:
            for _ in parse_lines(stream, file.path, None, source.line_format, parsed, con,
                                 whole_document=file.path.endswith(source.whole_document_suffixes)):
                pass
        rows += parsed.rows_read
    return rows


def _page_source(landing: Landing, source) -> int:
    return sum(source.parse(landing.read_bytes(f)[0], f.path, NOW).rows_read
               for f in landing.list(source.prefix, source.suffixes))


def _export_source(landing: Landing, source) -> int:
    con = engine.connect()
    params = {"first": date(2000, 1, 1), "last": date(2100, 1, 1), "ingested_at": NOW}
    rows = 0
    for file in export_files(source, landing, LoadReport(source.name, []), params["first"]):
        with landing.local_copy(file) as (path, _):
            for batch in iter_batches(path, file.path, source.export.columns):
                exported = export_rows(con, batch, source.export, {**params, "source_file": file.path})
                rows += sum(exported.accepted_per_day.values())
    return rows


def _scaled_exports(landing_root: Path, rows: int) -> list[str]:
    """Each export's data file repeated to `rows` rows, timed like the real files."""
    out = []
    con = engine.connect()
    params = {"first": date(2000, 1, 1), "last": date(2100, 1, 1), "ingested_at": NOW, "source_file": "x"}
    for source in registry.export_sources():
        [sample] = [p for p in landing_root.joinpath(source.prefix).rglob("*")
                    if p.is_file() and p.name.endswith((".parquet", ".csv"))]
        table = next(iter_batches(sample, sample.name, source.export.columns))
        big = pa.Table.from_batches([table] * (rows // table.num_rows + 1)).slice(0, rows)
        path = RESULTS / f"{source.name}-{rows}{''.join(sample.suffixes)}"
        (pq.write_table(big, path) if ".parquet" in sample.name else pacsv.write_csv(big, path))
        started, n = time.perf_counter(), 0
        for batch in iter_batches(path, path.name, source.export.columns):
            n += sum(export_rows(con, batch, source.export, params).accepted_per_day.values())
        seconds = time.perf_counter() - started
        out.append(f"| {source.name} (exports, {rows:,}-row file) | {n:,} | {seconds:.2f} | {n / seconds:,.0f} |")
    return out


def _one_bad_byte(landing_root: Path, lines: int) -> list[str]:
    """load_calls on one `lines`-line log, clean and with one Latin-1 byte in its middle."""
    [day] = sorted(p.name for p in (landing_root / "logs/support-assistant").iterdir())[-1:]
    sample = next((landing_root / "logs/support-assistant" / day).glob("*.jsonl")).read_bytes().splitlines(True)
    body = b"".join((sample * (lines // len(sample) + 1))[:lines])
    middle = body.index(b'"route":"', len(body) // 2) + len(b'"route":"')
    out = []
    for label, data in (("clean", body), ("one invalid byte", body[:middle] + b"\xe9" + body[middle:])):
        work = RESULTS / "fallback"
        shutil.rmtree(work, ignore_errors=True)
        log = work / "landing/logs/support-assistant" / day / "big.jsonl"
        log.parent.mkdir(parents=True)
        log.write_bytes(data)
        started = time.perf_counter()
        load_calls(Landing(str(work / "landing")), Lake(str(work / "lake")), date.fromisoformat(day),
                   date.fromisoformat(day), NOW)
        seconds = time.perf_counter() - started
        out.append(f"| app_logs, {lines:,}-line file, {label} (load_calls) | {lines:,} | {seconds:.2f} | "
                   f"{lines / seconds:,.0f} |")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--calls-per-day", type=int, default=20_000)
    parser.add_argument("--export-rows", type=int, default=1_000_000)
    args = parser.parse_args()
    root = RESULTS / "sources-landing"
    shutil.rmtree(root, ignore_errors=True)
    generate_sample(SampleSpec(root, args.days, calls_per_day=args.calls_per_day, end=date(2026, 11, 20)))
    landing = Landing(str(root))
    lines = ["| source | rows | seconds | rows/s |", "|---|---:|---:|---:|"]
    for kind, sources, measure in (("lines", registry.line_sources(), _line_source),
                                   ("pages", registry.page_sources(), _page_source),
                                   ("exports", registry.export_sources(), _export_source)):
        for source in sources:
            started = time.perf_counter()
            rows = measure(landing, source)
            seconds = time.perf_counter() - started
            lines.append(f"| {source.name} ({kind}) | {rows:,} | {seconds:.2f} | {rows / seconds:,.0f} |")
    lines += _scaled_exports(root, args.export_rows)
    lines += _one_bad_byte(root, args.export_rows)
    report = (f"Sample: {args.days} days × {args.calls_per_day:,} calls "
              f"(`python -m bench.sources --days {args.days} --calls-per-day {args.calls_per_day}`)\n\n"
              + "\n".join(lines) + "\n")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "sources.md").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
