"""One staleness rule: a derived result is rebuilt when its inputs or its code changed, and a
rerun with nothing changed writes nothing (audit_pipeline/freshness.py)."""

from datetime import UTC, datetime
from pathlib import Path

from audit_pipeline.freshness import code_version, record, stale
from audit_pipeline.lake import Lake
from audit_pipeline.loads import lineage as lineage_code
from audit_pipeline.reports import retention_html
from audit_pipeline.runner import materialize_range
from audit_pipeline.schemas import TABLES

DERIVED = ("output_lineage", "spend_reconciliation", "security_findings", "retention_report", "dq_results",
           "price_catalog", "model_catalog", "prompt_versions", "prompt_commits", "build_log")
"""Tables a run writes only when something they are built from changed."""


def _versions(lake: Lake) -> dict[str, int | None]:
    return {table: lake.version(table) for table in TABLES}


def test_a_rerun_with_nothing_changed_writes_no_derived_table(local_pipeline_copy):
    pipeline = local_pipeline_copy
    before = _versions(pipeline.lake)
    reports = {p: p.stat().st_mtime_ns for p in Path(pipeline.settings.reports).rglob("*.html")}
    assert materialize_range(pipeline.settings, pipeline.days[0], pipeline.days[-1]).success
    after = _versions(pipeline.lake)
    assert {t: after[t] for t in DERIVED} == {t: before[t] for t in DERIVED}
    assert {p: p.stat().st_mtime_ns for p in Path(pipeline.settings.reports).rglob("*.html")} == reports


def test_a_patched_section_renderer_rebuilds_the_report_on_the_next_run(local_pipeline_copy, monkeypatch):
    pipeline = local_pipeline_copy
    before = _versions(pipeline.lake)
    original = retention_html.facts

    def facts_with_a_footnote(rows):  # a fix to how the report's fact sections are rendered
        return original(rows) + '<p class="muted">checked</p>'

    monkeypatch.setattr(retention_html, "facts", facts_with_a_footnote)
    assert materialize_range(pipeline.settings, pipeline.days[0], pipeline.days[-1]).success
    after = _versions(pipeline.lake)
    assert after["retention_report"] == before["retention_report"] + 1
    html = (Path(pipeline.settings.reports) / "retention" / str(pipeline.days[-1]) / "cv-screener.html").read_text()
    assert '<p class="muted">checked</p>' in html
    # Only the report's code changed: lineage and the spend tables stay as they were.
    for table in ("output_lineage", "spend_reconciliation", "security_findings"):
        assert after[table] == before[table], table
    assert materialize_range(pipeline.settings, pipeline.days[0], pipeline.days[-1]).success
    assert _versions(pipeline.lake)["retention_report"] == after["retention_report"]  # fresh again


def test_changed_lineage_code_rebuilds_lineage_on_the_next_run(local_pipeline_copy, monkeypatch):
    pipeline = local_pipeline_copy
    before = _versions(pipeline.lake)
    original = lineage_code._lineage_rows

    def fixed_rows(con, lake, predicate, built_at, shard):
        return original(con, lake, predicate, built_at, shard)

    monkeypatch.setattr(lineage_code, "_lineage_rows", fixed_rows)
    assert materialize_range(pipeline.settings, pipeline.days[0], pipeline.days[-1]).success
    after = _versions(pipeline.lake)
    assert after["output_lineage"] == before["output_lineage"] + 1  # every stale day in one write
    assert after["llm_calls"] == before["llm_calls"]


def test_the_code_version_covers_the_modules_a_result_runs_and_code_patched_into_them(monkeypatch):
    report = code_version("audit_pipeline.retention.stored")
    assert report == code_version("audit_pipeline.retention.stored")  # stable
    assert report != code_version("audit_pipeline.loads.lineage")
    monkeypatch.setattr(retention_html, "badge", lambda status: status)  # two imports deep
    assert code_version("audit_pipeline.retention.stored") != report
    monkeypatch.undo()
    assert code_version("audit_pipeline.retention.stored") == report
    assert code_version("audit_pipeline.retention.stored", packages=("duckdb",)) != report


def test_only_partitions_whose_fingerprint_changed_are_stale(tmp_path):
    lake = Lake(str(tmp_path / "lake"))
    fingerprints = {"2026-11-01": "a", "2026-11-02": "b"}
    assert stale(lake, "output_lineage", fingerprints) == ["2026-11-01", "2026-11-02"]  # never built
    record(lake, "output_lineage", fingerprints, "run-1", datetime(2026, 11, 21, tzinfo=UTC))
    assert stale(lake, "output_lineage", fingerprints) == []
    assert stale(lake, "output_lineage", {**fingerprints, "2026-11-02": "c"}) == ["2026-11-02"]
    assert stale(lake, "spend_reconciliation", fingerprints) == ["2026-11-01", "2026-11-02"]  # per asset


def test_a_day_signature_changes_exactly_when_that_day_is_rewritten(local_pipeline_copy):
    lake, days = local_pipeline_copy.lake, [str(d) for d in local_pipeline_copy.days]
    signatures = lake.signatures("llm_calls", local_pipeline_copy.days)
    assert len(set(signatures.values())) == len(days)
    predicate = f"event_date = '{days[0]}'"
    lake.replace_where("llm_calls", lake.read("llm_calls", where=predicate), predicate)
    again = lake.signatures("llm_calls", local_pipeline_copy.days)
    assert [d for d in days if again[d] != signatures[d]] == [days[0]]


def test_a_reference_table_rewritten_with_the_same_rows_keeps_its_signature(local_pipeline_copy):
    lake = local_pipeline_copy.lake
    signature = lake.signatures("price_catalog")
    assert not lake.replace_all_if_changed("price_catalog", lake.read("price_catalog"))
    assert lake.signatures("price_catalog") == signature
