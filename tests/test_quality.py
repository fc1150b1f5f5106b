"""The GX suites: each rule fails on the rows it is about, passes on clean rows, and is
recorded in `dq_results`; a failing critical rule stops downstream assets in a Dagster run."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import dagster as dg
import great_expectations.expectations as gxe
import pyarrow as pa
import pytest

from audit_pipeline.lake import Lake
from audit_pipeline.quality import suites
from audit_pipeline.quality.checks import WHOLE_TABLE, check_table
from audit_pipeline.runner import dagster_instance, materialize_range
from audit_pipeline.schemas import BILLING_COSTS, LLM_CALLS, OUTPUT_LINEAGE, PROMPT_VERSIONS

DAY = date(2026, 11, 10)
NOW = datetime(2026, 11, 11, 3, 0, tzinfo=UTC)


def _calls(n: int = 5, **overrides) -> pa.Table:
    """`n` clean llm_calls rows of DAY; `overrides` maps column → list of values."""
    rows = [{
        "event_id": f"evt_{k}", "event_date": DAY,
        "timestamp": datetime(2026, 11, 10, 9, k, tzinfo=UTC), "ai_system": "support-assistant",
        "provider": "openai", "request_model": "gpt-4o-mini", "response_model": "gpt-4o-mini-2024-07-18",
        "input_tokens": 100, "output_tokens": 20, "cached_input_tokens": 0, "cache_write_tokens": 0,
        "reasoning_tokens": 0, "latency_ms": 300.0,
    } for k in range(n)]
    for column, values in overrides.items():
        for row, value in zip(rows, values, strict=False):
            row[column] = value
    return pa.Table.from_pylist(rows, schema=LLM_CALLS)


def _failed(run) -> dict[str, dict]:
    return {f["expectation"].split("(")[0] + ":" + (f["column_name"] or ""): f
            for f in run.failures(True) + run.failures(False)}


def _write(lake: Lake, table: str, rows: pa.Table, column: str = "event_date") -> None:
    lake.replace_where(table, rows, f"{column} = '{DAY.isoformat()}'")


def test_clean_calls_pass_every_rule_and_each_result_is_recorded(tmp_path):
    lake = Lake(str(tmp_path / "lake"))
    _write(lake, "llm_calls", _calls())
    run = check_table(lake, "llm_calls", [DAY], "run-1", NOW)
    assert run.failures(True) == [] and run.failures(False) == []
    recorded = lake.read("dq_results").to_pylist()
    assert len(recorded) == run.results.num_rows == len(suites.LLM_CALLS_SUITE.expectations(lake))
    assert {r["partition"] for r in recorded} == {DAY.isoformat()}
    assert all(r["success"] and r["element_count"] == 5 for r in recorded if r["element_count"] is not None)


def test_an_unchanged_table_and_suite_reuse_the_recorded_results(tmp_path):
    lake = Lake(str(tmp_path / "lake"))
    _write(lake, "llm_calls", _calls())
    first = check_table(lake, "llm_calls", [DAY], "run-1", NOW)
    again = check_table(lake, "llm_calls", [DAY], "run-2", NOW)
    assert not first.reused and again.reused
    assert again.results.sort_by("expectation").equals(first.results.sort_by("expectation"))
    _write(lake, "llm_calls", _calls(latency_ms=[-1.0]))  # a new table version
    changed = check_table(lake, "llm_calls", [DAY], "run-3", NOW)
    assert not changed.reused and len(changed.failures(False)) == 1


def test_each_critical_call_rule_fails_on_its_bad_rows(tmp_path):
    lake = Lake(str(tmp_path / "lake"))
    bad = _calls(
        event_id=["evt_0", "evt_0", None],  # repeated and missing ids
        timestamp=[datetime(2026, 11, 10, 9, tzinfo=UTC), datetime(2026, 11, 10, 9, tzinfo=UTC),
                   datetime(2026, 11, 11, 0, 5, tzinfo=UTC)],  # filed under the wrong day
        output_tokens=[20, -7],
    )
    _write(lake, "llm_calls", bad)
    failed = _failed(check_table(lake, "llm_calls", [DAY], "run-1", NOW))
    assert failed["expect_column_values_to_be_unique:event_id"]["unexpected_examples"] == '["evt_0", "evt_0"]'
    assert failed["expect_column_values_to_not_be_null:event_id"]["unexpected_count"] == 1
    assert failed["expect_column_pair_values_to_be_equal:"]["unexpected_count"] == 1
    assert failed["expect_column_values_to_be_between:output_tokens"]["unexpected_examples"] == "[-7]"
    assert all(f["critical"] for f in failed.values())
    assert len(failed) == 4


def test_advisory_call_rules_flag_unknown_providers_empty_models_and_negative_latency(tmp_path):
    lake = Lake(str(tmp_path / "lake"))
    _write(lake, "llm_calls", _calls(provider=["openai", "acme-llm"], response_model=["", "x"],
                                     latency_ms=[-12.5]))
    failed = _failed(check_table(lake, "llm_calls", [DAY], "run-1", NOW))
    assert set(failed) == {"expect_column_values_to_be_in_set:provider",
                           "expect_column_value_lengths_to_be_between:response_model",
                           "expect_column_values_to_be_between:latency_ms"}
    assert not any(f["critical"] for f in failed.values())
    assert failed["expect_column_values_to_be_in_set:provider"]["unexpected_examples"] == '["acme-llm"]'


def test_billing_costs_rules_check_currency_type_sign_and_day(tmp_path):
    lake = Lake(str(tmp_path / "lake"))
    start = datetime(2026, 11, 10, tzinfo=UTC)
    rows = [{"charge_period_start": start, "charge_period_end": start + timedelta(days=1), "usage_date": DAY,
             "provider": provider, "billed_cost": Decimal(cost), "billing_currency": currency, "model": "m"}
            for provider, cost, currency in [("openai", "1.25", "USD"), ("openai", "-0.5", "US$"),
                                             ("someone", "2", "EUR")]]
    _write(lake, "billing_costs", pa.Table.from_pylist(rows, schema=BILLING_COSTS), "usage_date")
    failed = _failed(check_table(lake, "billing_costs", [DAY], "run-1", NOW))
    assert set(failed) == {"expect_column_values_to_be_in_set:billing_currency",
                           "expect_column_values_to_be_in_set:provider",
                           "expect_column_values_to_be_between:billed_cost"}
    assert failed["expect_column_values_to_be_in_set:billing_currency"]["unexpected_examples"] == '["US$"]'


def test_lineage_must_point_at_prompt_versions_the_repository_has(tmp_path):
    lake = Lake(str(tmp_path / "lake"))
    lake.replace_all("prompt_versions", pa.Table.from_pylist(
        [{"prompt_id": "support/answer", "version": "a" * 40, "change_type": "added",
          "content_sha256": "b" * 64}], schema=PROMPT_VERSIONS))
    ts = datetime(2026, 11, 10, 9, tzinfo=UTC)
    rows = [{"event_id": f"evt_{k}", "event_date": DAY, "timestamp": ts, "prompt_id": "support/answer",
             "prompt_version": version, "resolution": resolution, "model_status": "snapshot"}
            for k, (version, resolution) in enumerate([("a" * 40, "explicit"), ("c" * 40, "explicit"),
                                                       ("c" * 40, "unresolved"), (None, "guessed")])]
    _write(lake, "output_lineage", pa.Table.from_pylist(rows, schema=OUTPUT_LINEAGE))
    failed = _failed(check_table(lake, "output_lineage", [DAY], "run-1", NOW))
    assert set(failed) == {"expect_column_values_to_be_in_set:resolved_prompt_version",
                           "expect_column_values_to_be_in_set:resolution"}
    # the unresolved call naming an unknown version is not a broken reference: it says so
    assert failed["expect_column_values_to_be_in_set:resolved_prompt_version"]["unexpected_count"] == 1


def test_reference_tables_are_checked_whole_and_results_replace_their_partition(tmp_path):
    lake = Lake(str(tmp_path / "lake"))
    lake.replace_all("prompt_versions", pa.Table.from_pylist(
        [{"prompt_id": "p", "version": "v1", "change_type": "added", "content_sha256": "not-a-hash"},
         {"prompt_id": "p", "version": "v1", "change_type": "copied", "content_sha256": "b" * 64}],
        schema=PROMPT_VERSIONS))
    first = check_table(lake, "prompt_versions", None, "run-1", NOW)
    failed = _failed(first)
    assert set(failed) == {"expect_column_values_to_be_unique:version_key",
                           "expect_column_values_to_be_in_set:change_type",
                           "expect_column_values_to_match_regex:content_sha256"}
    assert {r["partition"] for r in first.results.to_pylist()} == {WHOLE_TABLE}
    lake.replace_all("prompt_versions", pa.Table.from_pylist(
        [{"prompt_id": "p", "version": "v1", "change_type": "added", "content_sha256": "b" * 64}],
        schema=PROMPT_VERSIONS))
    second = check_table(lake, "prompt_versions", None, "run-2", NOW)
    assert second.failures(True) == [] and second.failures(False) == []
    assert set(lake.read("dq_results", columns=["run_id"])["run_id"].to_pylist()) == {"run-2"}


def test_a_failing_critical_rule_blocks_downstream_assets_in_a_dagster_run(
        sample_landing, settings_for, monkeypatch):
    landing, truth = sample_landing
    settings = settings_for(landing)
    monkeypatch.setenv("DAGSTER_HOME", settings.dagster_home)
    impossible = suites.critical(gxe.ExpectColumnValuesToBeInSet(column="provider", value_set=["nobody"]))
    original = suites.LLM_CALLS_SUITE.expectations
    monkeypatch.setitem(suites.SUITES, "llm_calls", suites.Suite(
        **{**vars(suites.LLM_CALLS_SUITE), "expectations": lambda lake: [*original(lake), impossible]}))
    day = date.fromisoformat(truth["days"][-1])
    outcome = materialize_range(settings, day, day)

    instance = dagster_instance(settings)
    checks = {(e.asset_check_evaluation_data.asset_key.to_user_string(),
               e.asset_check_evaluation_data.check_name): e.asset_check_evaluation_data.passed
              for e in (r.dagster_event for r in instance.all_logs(
                  outcome.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION))}
    materialized = {e.dagster_event.asset_key.to_user_string() for e in instance.all_logs(
        outcome.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)}
    assert checks["llm_calls", "critical_expectations"] is False
    assert checks["billing_costs", "critical_expectations"] is True
    assert "llm_calls" in materialized and "output_lineage" not in materialized


@pytest.mark.parametrize("table", sorted(suites.SUITES))
def test_every_suite_has_critical_and_advisory_rules_for_columns_its_projection_gives(table, tmp_path):
    lake = Lake(str(tmp_path / "lake"))
    suite = suites.SUITES[table]
    run = check_table(lake, table, [DAY] if suite.partition_column else None, "run-1", NOW)
    # an empty table passes, but no rule errors out (a misspelt column would)
    assert not any(r["observed"].startswith("error") for r in run.results.to_pylist())
    assert run.expectations(True) > 0 and run.expectations(False) > 0


def test_gx_still_reads_the_fingerprint_threshold_this_project_turns_off():
    # gx_runner sets HASH_THRESHOLD to 0 to skip GX's md5 of every batch; if a GX release
    # renames it, the setting silently stops working: this notices.
    import inspect

    import great_expectations.execution_engine.pandas_execution_engine as pandas_engine

    source = inspect.getsource(pandas_engine.PandasExecutionEngine.get_batch_data_and_markers)
    assert "HASH_THRESHOLD" in source and pandas_engine.HASH_THRESHOLD == 0


def test_the_currency_list_is_iso_codes_only():
    codes = suites.iso_currencies()
    assert {"USD", "EUR", "JPY", "GBP"} <= set(codes) and "code" not in codes
    assert all(len(c) == 3 and c.isupper() for c in codes) and len(codes) == len(set(codes)) == 165


def test_a_day_too_large_for_one_batch_is_validated_in_key_ranges_with_the_same_results(tmp_path, monkeypatch):
    from audit_pipeline import quality
    from audit_pipeline.lake_compare import comparable_rows

    n = 300
    template = _calls(1).to_pylist()[0]
    rows = pa.Table.from_pylist([{
        **template, "event_id": None if k == n - 1 else f"evt_{k:03d}" if k % 97 else "evt_050",
        "output_tokens": -k if k % 41 == 0 else 20, "provider": "acme-llm" if k % 53 == 0 else "openai",
        "timestamp": datetime(2026, 11, 10, 9, tzinfo=UTC) + timedelta(seconds=k)} for k in range(n)],
        schema=LLM_CALLS)
    whole, sliced = Lake(str(tmp_path / "whole")), Lake(str(tmp_path / "sliced"))
    for lake in (whole, sliced):
        _write(lake, "llm_calls", rows)
    check_table(whole, "llm_calls", [DAY], "run", NOW)
    monkeypatch.setattr(quality.checks, "CHUNK_ROWS", 40)  # eight ranges of the day
    run = check_table(sliced, "llm_calls", [DAY], "run", NOW)
    failed = _failed(run)
    assert failed["expect_column_values_to_be_unique:event_id"]["unexpected_count"] == 5  # evt_050: its own and four copies
    assert failed["expect_column_values_to_not_be_null:event_id"]["unexpected_count"] == 1  # the last range
    assert failed["expect_column_values_to_be_between:output_tokens"]["unexpected_count"] == 7
    assert comparable_rows(sliced, "dq_results") == comparable_rows(whole, "dq_results")
