"""Three days of sample data through Dagster, checked against the generator's ground truth."""

from collections import Counter
from datetime import date

import dagster as dg
import duckdb
import pyarrow as pa
import pytest

from audit_pipeline.lake import Lake
from audit_pipeline.runner import dagster_instance, materialize_range
from audit_pipeline.sample.systems import RETIRED_MODEL, SYSTEMS
from audit_pipeline.schemas import TABLES
from tests.conftest import copy_of, s3_pipeline_in

VOLATILE = {"ingested_at", "run_id", "built_at", "checked_at", "table_version", "suite_fingerprint", "as_of",
            "generated_at", "fingerprint",
            "table_versions", "html_sha256"}
"""Columns that say when and by which run a row was written: they differ between runs."""


def _days(truth) -> list[date]:
    return [date.fromisoformat(d) for d in truth["days"]]


@pytest.fixture(scope="module", params=["local", pytest.param("s3", marks=pytest.mark.slow)])
def rerun(request, local_pipeline, sample_landing, tmp_path_factory):
    """A private materialized lake per storage kind for the tests that run the pipeline again
    (a rerun writes new HTML reports and run history: the shared lake stays as first built).
    The S3 variant builds a lake of its own (about 40 s): `make test-slow` runs it."""
    root = tmp_path_factory.mktemp(f"rerun-{request.param}")
    if request.param == "local":
        pipeline = copy_of(local_pipeline, root)
    else:
        pipeline = s3_pipeline_in("rerun-pipeline", sample_landing, root, request.getfixturevalue("s3_server"))
    return pipeline.settings, pipeline.lake, pipeline.truth, pipeline.outcome


def _snapshot(lake: Lake, table: str, ignore: frozenset[str] = frozenset()) -> list[tuple]:
    names = [n for n in TABLES[table].names if n not in VOLATILE | ignore]
    return sorted(tuple(str(v) for v in row.values()) for row in lake.read(table, columns=names).to_pylist())


def test_the_run_is_recorded_in_the_dagster_instance(materialized):
    settings, _, truth, outcome = materialized
    instance = dagster_instance(settings)
    assert instance.get_run_by_id(outcome.run_id).is_success
    materialized_days = instance.get_materialized_partitions(
        __import__("dagster").AssetKey("llm_calls"))
    assert set(truth["days"]) <= materialized_days


def test_llm_calls_per_day_match_the_ground_truth(materialized):
    _, lake, truth, _ = materialized
    calls = lake.read("llm_calls", columns=["event_date"])
    per_day = Counter(str(d) for d in calls.column("event_date").to_pylist())
    assert per_day == {day: v["records"] for day, v in truth["llm_calls_per_day"].items()}


def test_malformed_lines_are_quarantined_with_their_line_and_code(materialized):
    _, lake, truth, _ = materialized
    bad = truth["anomalies"]["malformed_and_duplicate_lines"]
    quarantine = lake.read("quarantine").to_pylist()
    found = {(q["source_file"], q["line_no"]): q["error_code"] for q in quarantine if q["error_code"] != "duplicate"}
    assert found == {(bad["file"], m["line_no"]): m["error_code"] for m in bad["malformed"]}
    duplicates = [q for q in quarantine if q["error_code"] == "duplicate"]
    assert len(duplicates) == bad["duplicates_within_file"] + bad["duplicates_across_files"]["count"]


def test_every_file_balances_and_nothing_is_lost(materialized):
    _, lake, _, _ = materialized
    log = lake.read("ingest_log").to_pylist()
    assert log and all(r["rows_read"] == r["rows_accepted"] + r["rows_quarantined"] + r["rows_duplicate"]
                   + r["rows_superseded"] + r["rows_skipped"] for r in log)
    assert all(r["status"] == "ok" and r["file_sha256"] for r in log)
    accepted = sum(r["rows_accepted"] for r in log if r["source"] in ("app_logs", "otlp"))
    assert accepted == lake.read("llm_calls", columns=["event_id"]).num_rows


def test_lineage_resolution_per_day_matches_the_ground_truth(materialized):
    _, lake, truth, _ = materialized
    con = duckdb.connect()
    con.register("lineage", lake.read("output_lineage", columns=["event_date", "resolution"]))
    found = con.sql("SELECT CAST(event_date AS VARCHAR), resolution, count(*) FROM lineage GROUP BY ALL").fetchall()
    expected = {(day, kind, n) for day, v in truth["llm_calls_per_day"].items() for kind, n in v["resolution"].items()}
    assert set(found) == expected


def test_billed_tokens_equal_logged_tokens_except_injected_anomalies(materialized):
    """Cross-source consistency: for every day x key x model, every provider's bill
    matches the logs, except exactly where ground_truth.json says it should not."""
    _, lake, truth, _ = materialized
    aliases = {(s.provider, m.request): m.snapshot for s in SYSTEMS for m in (*s.models, RETIRED_MODEL)}
    con = duckdb.connect()
    con.register("usage", lake.read("billing_usage"))
    con.register("calls", lake.read("llm_calls"))
    con.register("aliases", pa.Table.from_pylist(
        [{"provider": p, "alias": a, "snapshot": s} for (p, a), s in aliases.items()]))
    key = "CASE provider WHEN 'azure_openai' THEN project_id ELSE api_key_id END"
    mismatches = con.sql(f"""
        WITH billed AS (
            SELECT CAST(usage_date AS VARCHAR) AS day, provider, {key} AS key, model,
                   sum(uncached_input_tokens + coalesce(cache_read_tokens, 0) + coalesce(cache_write_tokens, 0)) AS input,
                   sum(output_tokens) AS output
            FROM usage GROUP BY ALL
        ), logged AS (
            SELECT CAST(event_date AS VARCHAR) AS day, c.provider, {key.replace("provider", "c.provider")} AS key,
                   coalesce(response_model, a.snapshot) AS model,
                   sum(input_tokens) AS input, sum(output_tokens) AS output
            FROM calls c LEFT JOIN aliases a ON a.provider = c.provider AND a.alias = c.request_model
            GROUP BY ALL
        )
        SELECT day, provider, key, model FROM billed FULL JOIN logged USING (day, provider, key, model)
        WHERE billed.input IS DISTINCT FROM logged.input OR billed.output IS DISTINCT FROM logged.output
    """).fetchall()
    anomalies = truth["anomalies"]
    leaked = anomalies["key_with_spend_but_no_logs"]
    unrequested = anomalies["model_billed_never_requested"]
    missing = anomalies["day_without_logs"]
    missing_keys = {(s.provider, k) for s in SYSTEMS if s.name == missing["ai_system"] for k in s.api_keys}
    expected_kinds = {
        (day, provider, key, model): (
            "leaked_key" if key == leaked["api_key_id"] and day in leaked["days"]
            else "unrequested_model" if model == unrequested["model"] and day == unrequested["day"]
            else "day_without_logs" if (provider, key) in missing_keys and day == missing["day"]
            else "UNEXPLAINED")
        for day, provider, key, model in mismatches
    }
    assert "UNEXPLAINED" not in expected_kinds.values(), expected_kinds
    assert set(expected_kinds.values()) == {"leaked_key", "unrequested_model", "day_without_logs"}
    assert {p for _, p, _, _ in mismatches} <= {"openai", "anthropic"}
    assert con.sql("SELECT count(DISTINCT provider) FROM usage").fetchall()[0][0] == 4


def test_materializing_again_changes_nothing(rerun):
    settings, lake, truth, _ = rerun
    before = {t: _snapshot(lake, t) for t in TABLES}
    report_version = lake.version("retention_report")
    days = _days(truth)
    assert materialize_range(settings, days[0], days[-1]).success
    assert {t: _snapshot(lake, t) for t in TABLES} == before
    # nothing the reports read changed: they are reused, not rebuilt (no new version)
    assert lake.version("retention_report") == report_version


def test_rerunning_one_partition_leaves_the_other_days_unchanged(rerun):
    settings, lake, truth, _ = rerun
    days = _days(truth)
    before = {t: _snapshot(lake, t) for t in ("llm_calls", "output_lineage", "billing_usage", "billing_costs")}
    assert materialize_range(settings, days[1], days[1]).success
    after = {t: _snapshot(lake, t) for t in before}
    assert after == before


def test_local_folders_and_s3_give_the_same_tables(local_pipeline, s3_pipeline):
    assert s3_pipeline.lake.root.startswith("s3://")
    storage_specific = frozenset({"file_version"})  # an S3 ETag versus a local size and mtime
    for table in TABLES:
        assert (_snapshot(s3_pipeline.lake, table, storage_specific)
                == _snapshot(local_pipeline.lake, table, storage_specific)), table


def test_quality_suites_fail_exactly_where_the_generator_corrupted(materialized):
    settings, lake, truth, outcome = materialized
    results = lake.read("dq_results").to_pylist()
    failed = {(r["table_name"], r["partition"], r["column_name"]) for r in results if not r["success"]}
    expected = {(v["table"], v["day"], v["column"]) for v in truth["anomalies"]["quality_violations"]}
    assert failed == expected
    assert not any(r["critical"] for r in results if not r["success"])
    calls = next(v for v in truth["anomalies"]["quality_violations"] if v["table"] == "llm_calls")
    latency = next(r for r in results if not r["success"] and r["table_name"] == "llm_calls")
    assert latency["unexpected_count"] == calls["rows"]
    # every suite ran on every day of the run (reference tables once)
    checked = {(r["table_name"], r["partition"]) for r in results}
    for table in ("llm_calls", "billing_usage", "billing_costs", "output_lineage"):
        assert {p for t, p in checked if t == table} == set(truth["days"])
    # and the Dagster UI shows it: advisory checks warn on the two corrupted tables only (and
    # the retention floor test fails for the system whose logs of one day are missing)
    evaluations = [r.dagster_event.asset_check_evaluation_data for r in dagster_instance(settings).all_logs(
        outcome.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)]
    run_level = [e for e in evaluations if e.partition is None]
    assert {(e.asset_key.to_user_string(), e.check_name) for e in run_level if not e.passed} == {
        ("llm_calls", "advisory_expectations"), ("billing_costs", "advisory_expectations"),
        ("retention_report", "floor_intact"), ("security_findings", "no_unacknowledged_high_findings")}
    assert len(run_level) == 6 * 2 + 3 + 1 + 2  # two GX checks per table, three ingest conservation, billing
    # conservation, floor, findings
    # per day as well, for the four day-partitioned tables: the failing day is the corrupted one
    per_day = [e for e in evaluations if e.partition is not None]
    assert len(per_day) == 4 * 2 * len(truth["days"])
    assert {(e.asset_key.to_user_string(), e.partition) for e in per_day if not e.passed} == {
        (v["table"], v["day"]) for v in truth["anomalies"]["quality_violations"]}


