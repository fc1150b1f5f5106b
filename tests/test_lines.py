"""The bulk path gives exactly the records the precise path gives, or declines the file."""

import json
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from audit_pipeline import engine
from audit_pipeline.schemas import conform
from audit_pipeline.sources.app_logs import APP_LOG_FORMAT
from audit_pipeline.sources.lines import STAGED_SCHEMA, ParsedFile, parse_file_bulk, parse_lines
from audit_pipeline.sources.otlp import OTLP_FORMAT
from tests.conftest import FIXTURES


def _both_paths(path: Path, line_format, tmp_path: Path):
    con = engine.connect()
    bulk_result, precise_result = ParsedFile(), ParsedFile()
    took_bulk = parse_file_bulk(str(path), path.name, None, line_format, bulk_result, con, str(tmp_path / "bulk"))
    with path.open("rb") as stream:
        precise = pa.concat_tables(parse_lines(stream, path.name, None, line_format, precise_result, con))
    bulk = duckdb.sql(f"SELECT * FROM read_parquet('{tmp_path}/bulk-*.parquet')").to_arrow_table() if took_bulk else None
    return took_bulk, bulk, precise, bulk_result, precise_result


def _rows(table: pa.Table) -> list[tuple]:
    """Rows as the loader stages them (every llm_calls column), in a stable order."""
    table = conform(table, STAGED_SCHEMA)
    return sorted(tuple(str(v) for v in row.values()) for row in table.to_pylist())


@pytest.mark.parametrize(("glob", "line_format"), [("logs/support-assistant/*/*.jsonl", APP_LOG_FORMAT),
                                                   ("logs/otlp/*/*.jsonl", OTLP_FORMAT)])
def test_bulk_and_precise_paths_agree_on_sample_files(sample_landing, tmp_path, glob, line_format):
    landing, _ = sample_landing
    path = sorted(landing.glob(glob))[0]  # the support file holds the malformed and duplicate lines
    took_bulk, bulk, precise, bulk_result, precise_result = _both_paths(path, line_format, tmp_path)
    assert took_bulk
    assert _rows(bulk) == _rows(precise)
    assert bulk_result.rows_read == precise_result.rows_read
    rejected = {(r["line_no"], r["error_code"]) for t in precise_result.rejected for r in t.to_pylist()}
    assert {(r["line_no"], r["error_code"]) for t in bulk_result.rejected for r in t.to_pylist()} == rejected


def test_a_file_with_crlf_and_invalid_utf8_is_left_to_the_precise_path(tmp_path):
    took_bulk, *_ = _both_paths(FIXTURES / "app_logs" / "mixed-2026-11-20.jsonl", APP_LOG_FORMAT, tmp_path)
    assert not took_bulk


def test_otlp_with_int64_as_json_numbers_is_left_to_the_precise_path(tmp_path):
    took_bulk, _, precise, _, _ = _both_paths(FIXTURES / "otlp" / "traces-2026-06-14.jsonl", OTLP_FORMAT, tmp_path)
    assert not took_bulk and precise.num_rows == 3


def test_the_bulk_path_routes_by_day_like_the_precise_path(sample_landing, tmp_path):
    landing, truth = sample_landing
    path = sorted(landing.glob("logs/doc-summarizer/*/*.jsonl"))[0]
    day = date.fromisoformat(truth["days"][0])
    con = engine.connect()
    result = ParsedFile()
    assert parse_file_bulk(str(path), path.name, (day, day), APP_LOG_FORMAT, result, con, str(tmp_path / "b"))
    # the support-assistant lines appended to this file are on the same day: all accepted
    assert result.rows_rejected == 0


def test_only_the_block_with_an_invalid_byte_is_decoded_line_by_line(sample_landing, tmp_path, monkeypatch):
    landing, _ = sample_landing
    clean = sorted(landing.glob("logs/support-assistant/*/*.jsonl"))[1].read_bytes()
    lines = clean.splitlines(keepends=True)
    bad_line = len(lines) // 2
    lines[bad_line - 1] = lines[bad_line - 1].replace(b'"route":"', b'"route":"\xe9', 1)
    assert b"\xe9" in lines[bad_line - 1]
    path = tmp_path / "one-bad-byte.jsonl"
    path.write_bytes(b"".join(lines))
    import audit_pipeline.sources.lines as lines_module

    monkeypatch.setattr(lines_module, "BLOCK_SIZE", 4096)  # many blocks, one of them bad
    decoded_blocks = []
    as_text = lines_module._as_text
    monkeypatch.setattr(lines_module, "_as_text", lambda b: decoded_blocks.append(t := as_text(b)) or t)
    took_bulk, _, precise, _, result = _both_paths(path, APP_LOG_FORMAT, tmp_path)

    assert not took_bulk  # DuckDB's reader refuses the file; the precise path reads it
    assert sum(t is None for t in decoded_blocks) == 1 and len(decoded_blocks) > 10
    rejected = [(r["line_no"], r["error_code"]) for t in result.rejected for r in t.to_pylist()]
    assert (bad_line, "encoding") in rejected
    # every other record is accepted, exactly as the bulk path accepts it from the clean file
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "one-bad-byte.jsonl").write_bytes(clean)
    _, clean_bulk, *_ = _both_paths(tmp_path / "c" / "one-bad-byte.jsonl", APP_LOG_FORMAT, tmp_path / "c")
    bad_event = json.loads(clean.splitlines()[bad_line - 1])["event_id"]
    assert _rows(precise) == [r for r in _rows(clean_bulk) if r[0] != bad_event]
