"""The benchmark times what the assets run: its stages call the assets' domain functions, so
they cannot drift from the pipeline (bench/stages.py)."""

from datetime import date

from audit_pipeline.lake import Lake
from audit_pipeline.sample.generator import SampleSpec, generate_sample
from audit_pipeline.schemas import TABLES
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
