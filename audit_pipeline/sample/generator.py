"""`audit-pipeline sample-data`: a consistent landing zone with anomalies and ground truth.

Billed tokens per day × key × model equal the logged tokens, except where an anomaly is
injected on purpose; every anomaly is listed in `ground_truth.json` together with the
counts the pipeline must reproduce (records per day, quarantine codes, duplicates, lineage
resolution kinds), so tests check the pipeline against what was generated, not against
its own output.
"""

from __future__ import annotations

import json
import tempfile
from collections import deque
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb

from audit_pipeline import engine
from audit_pipeline.loads.prompts import read_prompt_history
from audit_pipeline.sample import varied
from audit_pipeline.sample.billing_files import PriceBook, PriceMismatch, SampleBilling
from audit_pipeline.sample.calls import generate_calls
from audit_pipeline.sample.prompt_repo import build_prompt_repo
from audit_pipeline.sample.systems import (
    LEAKED_OPENAI_KEY,
    OPENAI_PROJECT,
    RETIRED_MODEL,
    SYSTEMS,
    UNREQUESTED_MODEL,
)
from audit_pipeline.sources import registry

GROUND_TRUTH = "ground_truth.json"
MISSING_LOGS_SYSTEM = "cv-screener"

MALFORMED_LINES = (
    ('{"event_id": "evt_truncated", "timestamp": "2026-', "json_invalid"),
    ("this is not json at all", "json_invalid"),
    ('{"event_id": "evt_noprovider", "timestamp": "{ts}", "ai_system": "support-assistant", '
     '"request_model": "gpt-4o-mini"}', "missing_required"),
    ('{"event_id": "evt_negative", "timestamp": "{ts}", "ai_system": "support-assistant", '
     '"provider": "openai", "request_model": "gpt-4o-mini", "input_tokens": -5}', "negative_tokens"),
    ('{"event_id": "evt_nozone", "timestamp": "{ts_nozone}", "ai_system": "support-assistant", '
     '"provider": "openai", "request_model": "gpt-4o-mini"}', "bad_timestamp"),
    ('{"event_id": "evt_badtype", "timestamp": "{ts}", "ai_system": "support-assistant", '
     '"provider": "openai", "request_model": "gpt-4o-mini", "output_tokens": "many"}', "bad_type"),
)
"""Lines appended to the first day's support-assistant log, with the error each must get."""

DUPLICATES_WITHIN_FILE = 3
DUPLICATES_ACROSS_FILES = 2


@dataclass(frozen=True)
class SampleSpec:
    out: Path
    days: int
    seed: int = 7
    calls_per_day: int = 2000
    end: date | None = None
    """Last sample day; yesterday (UTC) when not given."""
    varied: bool = False
    """Also inject varied spend anomalies (sample/varied.py) to measure detection."""

    def day_list(self) -> list[date]:
        last = self.end or (date.today() - timedelta(days=1))
        return [last - timedelta(days=self.days - 1 - k) for k in range(self.days)]


def _billing_rows(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """What each provider bills: tokens per day × provider × key × project × model snapshot."""
    return con.sql("""
        SELECT day, provider, api_key_id, project_id, workspace_id, snapshot AS model,
               CAST(sum(input_tokens - cached_input_tokens - cache_write_tokens) AS BIGINT) AS uncached_input,
               CAST(sum(cached_input_tokens) AS BIGINT) AS cache_read,
               CAST(sum(cache_write_tokens) AS BIGINT) AS cache_write,
               CAST(sum(output_tokens) AS BIGINT) AS output,
               CAST(count(*) FILTER (WHERE status = 'ok') AS BIGINT) AS requests
        FROM calls GROUP BY ALL ORDER BY ALL
    """).to_arrow_table().to_pylist()


def _anomaly_rows(days: list[date]) -> tuple[list[dict], dict]:
    """Billing for a leaked key and for a model no application requested."""
    onset = days[len(days) // 2]
    support_key = SYSTEMS[0].api_keys[0]
    leaked = [
        {"day": d, "provider": "openai", "api_key_id": LEAKED_OPENAI_KEY, "project_id": OPENAI_PROJECT,
         "workspace_id": None, "model": "gpt-4o-2024-08-06", "uncached_input": 4_200_000 + 10_000 * k,
         "cache_read": 0, "cache_write": 0, "output": 1_900_000, "requests": 2100}
        for k, d in enumerate(days) if d >= onset
    ]
    unrequested = [{"day": days[-1], "provider": "openai", "api_key_id": support_key,
                    "project_id": OPENAI_PROJECT, "workspace_id": None, "model": UNREQUESTED_MODEL,
                    "uncached_input": 350_000, "cache_read": 0, "cache_write": 0,
                    "output": 120_000, "requests": 90}]
    truth = {
        "key_with_spend_but_no_logs": {"provider": "openai", "api_key_id": LEAKED_OPENAI_KEY,
                                       "days": [d.isoformat() for d in days if d >= onset]},
        "model_billed_never_requested": {"provider": "openai", "api_key_id": support_key,
                                         "model": UNREQUESTED_MODEL, "day": days[-1].isoformat()},
    }
    return leaked + unrequested, truth


def _inject_quality_violations(con: duckdb.DuckDBPyConnection, day: date) -> dict:
    """Records the parsers accept but the quality suites flag: a clock-skewed host logs
    negative latencies for a tenth of one system's calls on `day`."""
    con.sql("UPDATE calls SET latency_ms = -latency_ms "
            "WHERE day = $day AND ai_system = $system AND hash(event_id) % 10 = 0",
            params={"day": day, "system": SYSTEMS[0].name})
    rows = con.sql("SELECT count(*) FROM calls WHERE day = $day AND latency_ms < 0", params={"day": day})
    return {"table": "llm_calls", "day": day.isoformat(), "column": "latency_ms", "rows": rows.fetchall()[0][0]}


def _inject_retired_model(con: duckdb.DuckDBPyConnection, days: list[date]) -> dict:
    """A forgotten fallback path keeps calling a snapshot its provider has retired
    (reference/model_catalog.csv) on the last days: the retention report must flag it."""
    first = days[-3 % len(days)] if len(days) >= 3 else days[0]
    con.sql("UPDATE calls SET request_model = $alias, snapshot = $snapshot, "
            "response_model = CASE WHEN response_model IS NULL THEN NULL ELSE $snapshot END "
            "WHERE day >= $first AND ai_system = $system AND hash(event_id) % 40 = 7",
            params={"alias": RETIRED_MODEL.request, "snapshot": RETIRED_MODEL.snapshot, "first": first,
                    "system": SYSTEMS[0].name})
    calls = con.sql("SELECT count(*) FROM calls WHERE snapshot = $snapshot",
                    params={"snapshot": RETIRED_MODEL.snapshot}).fetchall()[0][0]
    return {"ai_system": SYSTEMS[0].name, "provider": SYSTEMS[0].provider, "snapshot": RETIRED_MODEL.snapshot,
            "from": first.isoformat(), "calls": calls}


def _inject_bad_lines(landing: Path, first_file: Path, other_file: Path, day: date) -> dict:
    """Append malformed and duplicate lines; return what the pipeline must report."""
    ts = f"{day:%Y-%m-%d}T12:00:00Z"
    # Stream the file (it can hold hundreds of thousands of lines): count, keep head and tail.
    with first_file.open() as f:
        head = [next(f) for _ in range(DUPLICATES_WITHIN_FILE)]
        tail = deque(head, maxlen=DUPLICATES_ACROSS_FILES)
        good_count = len(head)
        for line in f:
            tail.append(line)
            good_count += 1
    malformed = [(text.replace("{ts}", ts).replace("{ts_nozone}", ts[:-1]), code)
                 for text, code in MALFORMED_LINES]
    with first_file.open("a") as f:
        f.writelines(text + "\n" for text, _ in malformed)
        f.writelines(head)
    with other_file.open("a") as f:
        f.writelines(tail)
    rel = first_file.relative_to(landing).as_posix()
    return {
        "file": rel,
        "malformed": [{"line_no": good_count + 1 + k, "error_code": code}
                      for k, (_, code) in enumerate(malformed)],
        "duplicates_within_file": DUPLICATES_WITHIN_FILE,
        "duplicates_across_files": {"file": other_file.relative_to(landing).as_posix(),
                                    "count": DUPLICATES_ACROSS_FILES},
    }


def generate_sample(spec: SampleSpec) -> dict:
    """Write the landing zone under `spec.out` and return the ground truth (also saved)."""
    landing = spec.out
    days = spec.day_list()
    if (landing / GROUND_TRUTH).exists():
        raise FileExistsError(f"{landing}: a sample landing zone is already there")
    landing.mkdir(parents=True, exist_ok=True)
    build_prompt_repo(landing / "prompt-repo", days[0], len(days))
    _, versions, _ = read_prompt_history(str(landing / "prompt-repo"), ("prompts/**",))

    with tempfile.TemporaryDirectory(prefix="audit-sample-") as scratch:
        # Millions of calls do not fit the memory budget: keep them in an on-disk database.
        con = engine.connect(str(Path(scratch) / "calls.duckdb"))
        truth = _write_landing(con, spec, landing, days, versions)
        con.close()
    (landing / GROUND_TRUTH).write_text(json.dumps(truth, indent=2) + "\n")
    return truth


def _write_landing(con: duckdb.DuckDBPyConnection, spec: SampleSpec, landing: Path, days: list[date],
                   versions) -> dict:
    generate_calls(con, days, spec.calls_per_day, spec.seed, versions)
    missing_day = days[len(days) // 2]
    violations = [_inject_quality_violations(con, days[1 % len(days)])]
    retired = _inject_retired_model(con, days)
    spend_anomalies = varied.plan(days, spec.seed) if spec.varied else []
    varied.apply_to_calls(con, spend_anomalies)
    bad_currency_day = days[2 % len(days)]
    violations.append({"table": "billing_costs", "day": bad_currency_day.isoformat(),
                       "column": "billing_currency", "value": "US$"})
    written: dict[tuple[str, date], Path] = {}
    for system in SYSTEMS:
        [source] = [s for s in registry.line_sources() if system.log_format in s.sample_formats]
        for day in days:
            if not (system.name == MISSING_LOGS_SYSTEM and day == missing_day):
                written[system.name, day] = source.sample(con, landing, system.name, day, system.log_format)
    bad_lines = _inject_bad_lines(landing, written["support-assistant", days[0]],
                                  written["doc-summarizer", days[0]], days[0])

    book = PriceBook()
    mismatch = PriceMismatch(days[-2] if len(days) > 1 else days[0], "openai",
                             "gpt-4o-mini-2024-07-18", "output", Decimal("1.25"))
    anomaly_rows, anomaly_truth = _anomaly_rows(days)
    billed = _billing_rows(con) + anomaly_rows + varied.billing_rows(spend_anomalies)
    sample = SampleBilling(billed, days, book, mismatch, bad_currency_day)
    for source in registry.billing_sources():
        if source.sample is not None:
            source.sample(landing, sample)

    truth = _ground_truth(con, spec, days, missing_day, bad_lines, anomaly_truth, mismatch)
    truth["anomalies"]["quality_violations"] = violations
    truth["anomalies"]["retired_model_in_use"] = retired
    if spend_anomalies:
        truth["anomalies"]["spend_anomalies"] = [{**a, "day": a["day"].isoformat()} for a in spend_anomalies]
    return truth


def _ground_truth(con, spec, days, missing_day, bad_lines, anomaly_truth, mismatch) -> dict:
    logged = con.sql(
        "SELECT * FROM calls WHERE NOT (ai_system = $missing_system AND day = $missing_day)",
        params={"missing_system": MISSING_LOGS_SYSTEM, "missing_day": missing_day},
    )
    per_day = {
        str(day): {"records": n, "resolution": {}}
        for day, n in sorted(logged.aggregate("day, count(*)").fetchall())
    }
    # Sorted: DuckDB aggregates in parallel, and the file must be the same for the same seed.
    for day, kind, n in sorted(logged.aggregate("day, expected_resolution, count(*)").fetchall()):
        per_day[str(day)]["resolution"][kind] = n
    styles = dict(sorted(logged.aggregate("style, count(*)").fetchall()))
    return {
        "seed": spec.seed,
        "days": [d.isoformat() for d in days],
        "calls_per_day": spec.calls_per_day,
        "llm_calls_per_day": per_day,
        "otlp_spans": con.sql(
            "SELECT count(*) FROM calls WHERE list_contains($systems, ai_system)",
            params={"systems": [s.name for s in SYSTEMS if s.log_format == "otlp"]}).fetchall()[0][0],
        "anomalies": {
            **anomaly_truth,
            "day_without_logs": {"ai_system": MISSING_LOGS_SYSTEM, "day": missing_day.isoformat()},
            "malformed_and_duplicate_lines": bad_lines,
            "outputs_with_unknown_prompt_version": styles.get("unknown_version", 0),
            "outputs_identified_only_by_content_hash": styles.get("content_hash", 0),
            "price_mismatch": {"provider": mismatch.provider, "model": mismatch.model,
                               "token_type": mismatch.token_type, "day": mismatch.day.isoformat(),
                               "billed_over_catalog": str(mismatch.factor)},
        },
    }
