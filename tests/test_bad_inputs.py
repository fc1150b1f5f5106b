"""The bad-input corpus (tests/fixtures/bad_inputs/): every case's outcome, row by row.

Each case folder holds a landing zone and `expected.json`: which records are accepted,
which rows are quarantined with which code (file, line, code), which files fail whole, and
secrets that must appear in no table. Every case also proves that each file's counts add
up and that nothing matching a secret pattern was written anywhere.
"""

import json
import shutil
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from audit_pipeline.lake import Lake
from audit_pipeline.landing import Landing
from audit_pipeline.loads.billing import load_billing
from audit_pipeline.loads.calls import load_calls
from audit_pipeline.redaction import contains_secret
from audit_pipeline.schemas import TABLES
from audit_pipeline.sources import registry

CORPUS = Path(__file__).parent / "fixtures" / "bad_inputs"
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "expected.json").exists())
LOADED_AT = datetime(2026, 11, 11, 3, 0, tzinfo=UTC)
START_DAY = date(2026, 11, 1)


def _ten_megabyte_line(landing: Path) -> None:
    record = {"event_id": "evt_{n}", "timestamp": "2026-11-10T09:00:00Z", "ai_system": "support-assistant",
              "provider": "openai", "request_model": "gpt-4o-mini"}
    line = lambda n, **extra: json.dumps({**record, "event_id": f"evt_{n}", **extra})  # noqa: E731
    path = landing / "logs/support-assistant/2026-11-10/part-0.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("\n".join([line(1), line(2, prompt="x" * 10_000_000), line(3)]) + "\n")


GENERATORS = {"ten_megabyte_line": _ten_megabyte_line}


def _load(case: str, tmp_path: Path) -> tuple[dict, Lake]:
    expected = json.loads((CORPUS / case / "expected.json").read_text())
    landing = tmp_path / "landing"
    if (CORPUS / case / "landing").exists():
        shutil.copytree(CORPUS / case / "landing", landing)
    landing.mkdir(exist_ok=True)
    if "generate" in expected:
        GENERATORS[expected["generate"]](landing)
    lake = Lake(str(tmp_path / "lake"))
    day = date.fromisoformat(expected["day"])
    if expected["loader"] == "calls":
        load_calls(Landing(str(landing)), lake, day, day, LOADED_AT, "corpus", start_day=START_DAY)
    else:
        load_billing(Landing(str(landing)), lake, day, day, LOADED_AT, "corpus")
    return expected, lake


def test_the_corpus_covers_every_source_in_the_registry_with_at_least_30_cases():
    kinds = {case.split("-")[0] for case in CASES}
    assert len(CASES) >= 30
    assert kinds == {source.fixtures for source in registry.SOURCES}


@pytest.mark.parametrize("case", CASES)
def test_bad_input_case(case, tmp_path):
    expected, lake = _load(case, tmp_path)

    if expected["loader"] == "calls":
        accepted = sorted(lake.read("llm_calls", columns=["event_id"])["event_id"].to_pylist())
        assert accepted == sorted(expected["accepted"])
    else:
        for table, rows in expected["accepted"].items():
            assert lake.read(table, columns=["provider"]).num_rows == rows, table

    quarantine = lake.read("quarantine").to_pylist()
    found = sorted([Path(q["source_file"]).name, q["line_no"], q["error_code"]] for q in quarantine)
    assert found == sorted(expected["quarantined"])
    assert all(q["error_detail"] and q["raw_excerpt"] is not None for q in quarantine)

    log = lake.read("ingest_log").to_pylist()
    failed = sorted(Path(f["source_file"]).name for f in log if f["status"] == "failed")
    assert failed == sorted(expected["failed"])
    for f in log:  # a failed file names itself and why; every file's counts add up
        assert f["rows_read"] == f["rows_accepted"] + f["rows_quarantined"] + f["rows_duplicate"] + f["rows_superseded"] + f["rows_skipped"], f
        if f["status"] == "failed":
            assert f["source_file"] in f["error"] and f["rows_read"] == 0

    _assert_no_secrets(lake, expected["secrets"])
    _assert_values(lake, expected)


def _assert_values(lake: Lake, expected: dict) -> None:
    if "token_totals" in expected:
        calls = lake.read("llm_calls")
        assert {c: pc.sum(calls[c]).as_py() for c in expected["token_totals"]} == expected["token_totals"]
    if "cost_total" in expected:
        total = pc.sum(lake.read("billing_costs", columns=["billed_cost"])["billed_cost"]).as_py()
        assert total == Decimal(expected["cost_total"])


def _assert_no_secrets(lake: Lake, planted: list[str]) -> None:
    for table in TABLES:
        rows = lake.read(table)
        for column in rows.column_names:
            if not pa.types.is_string(rows.schema.field(column).type):
                continue
            for value in rows[column].drop_null().to_pylist():
                assert not contains_secret(value), (table, column, value)
                assert not any(secret in value for secret in planted), (table, column, value)
