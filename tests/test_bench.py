"""The benchmark times what the assets run: its stages call the assets' domain functions, so
they cannot drift from the pipeline (bench/stages.py)."""

from datetime import UTC, date, datetime

import duckdb
from deltalake import DeltaTable

from audit_pipeline.lake import Lake
from audit_pipeline.landing import Landing
from audit_pipeline.loads.calls import load_calls
from audit_pipeline.sample.generator import SampleSpec, generate_sample
from audit_pipeline.schemas import TABLES
from bench.equal_work import ingest
from bench.stages import END_TO_END, STAGES, main

DAY = date(2026, 11, 20)


def test_every_stage_runs_and_the_end_to_end_rerun_writes_nothing(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    generate_sample(SampleSpec(landing, days=1, seed=3, calls_per_day=300, end=DAY))
    args = [str(landing), str(lake), DAY.isoformat()]
    for name in STAGES:
        main([name, *args])
    built = Lake(str(lake))
    assert all(built.exists(t) for t in ("llm_calls", "output_lineage", "spend_reconciliation", "retention_report"))
    versions = {t: built.version(t) for t in TABLES}
    main([END_TO_END, *args])
    after = {t: built.version(t) for t in TABLES}
    changed = {t for t in TABLES if after[t] != versions[t]}
    assert changed == {"ingest_log", "quarantine"}  # each load's own record; every derived table was fresh



def _codes(quarantine) -> list[tuple]:
    con = duckdb.connect()
    con.register("q", quarantine)
    return con.sql("SELECT error_code, count(*) FROM q GROUP BY 1 ORDER BY 1").fetchall()


def test_the_equal_work_peer_accepts_and_quarantines_what_our_ingest_does(tmp_path):
    """The peer is a yardstick only if it does the same work: same rows kept, same rejections."""
    landing, lake, peer = tmp_path / "landing", tmp_path / "lake", tmp_path / "peer"
    generate_sample(SampleSpec(landing, days=2, seed=5, calls_per_day=400, end=DAY))
    load_calls(Landing(str(landing)), Lake(str(lake)), date(2026, 11, 19), DAY, datetime.now(UTC), "bench-test")
    ingest(landing, peer)
    ours = Lake(str(lake))
    theirs = {t: DeltaTable(str(peer / t)).to_pyarrow_table() for t in ("llm_calls", "quarantine")}
    our_codes = _codes(ours.read("quarantine"))
    assert our_codes and _codes(theirs["quarantine"]) == our_codes  # the sample has bad lines
    assert sorted(theirs["llm_calls"].column("event_id").to_pylist()) == sorted(
        ours.read("llm_calls", columns=["event_id"]).column("event_id").to_pylist())
    assert theirs["llm_calls"].num_rows > 700


def test_the_scaling_bench_rotates_logs_at_line_ends_keeping_every_line(tmp_path, monkeypatch):
    from bench import scaling

    monkeypatch.setattr(scaling, "PART_BYTES", 1000)
    landing = tmp_path / "landing"
    generate_sample(SampleSpec(landing, days=1, seed=3, calls_per_day=300, end=date(2026, 11, 20)))
    scaling.rotate(landing, tmp_path / "rotated")
    split = 0
    for original in (landing / "logs").rglob("*.jsonl"):
        folder = tmp_path / "rotated" / original.parent.relative_to(landing)
        parts = sorted(folder.glob(f"{original.stem}-part*.jsonl"))
        split += len(parts) > 1  # an OTLP export of a few batches may be one line: one part
        assert all(p.read_bytes().endswith(b"\n") for p in parts)
        assert b"".join(p.read_bytes() for p in parts) == original.read_bytes()
    assert split >= 3
    assert (tmp_path / "rotated" / "ground_truth.json").exists()
    assert (tmp_path / "rotated" / "prompt-repo" / ".git").exists()
