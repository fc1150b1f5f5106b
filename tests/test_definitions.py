"""The Dagster code location: it loads, its graph is what review expects, the schedule works."""

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from audit_pipeline.definitions import defs
from audit_pipeline.defs.quality import ADVISORY_CHECK, CRITICAL_CHECK
from audit_pipeline.quality.suites import SUITES

SNAPSHOT = Path(__file__).parent / "fixtures" / "asset_graph.json"


def _graph() -> dict:
    graph = defs.resolve_asset_graph()
    return {
        key.to_user_string(): {
            "group": graph.get(key).group_name,
            "deps": sorted(k.to_user_string() for k in graph.get(key).parent_keys),
            "partitioned": graph.get(key).is_partitioned,
            "kinds": sorted(graph.get(key).kinds),
            "has_owners": bool(graph.get(key).owners),
            "has_description": bool(graph.get(key).description),
        }
        for key in sorted(graph.get_all_asset_keys())
    }


def test_the_asset_graph_matches_its_reviewed_snapshot():
    # A change to the graph shows up here; update the snapshot in the same commit.
    assert _graph() == json.loads(SNAPSHOT.read_text())


def test_every_asset_has_owners_a_description_and_kinds():
    for name, node in _graph().items():
        assert node["has_owners"] and node["has_description"] and node["kinds"], name


def test_every_table_asset_carries_its_great_expectations_checks_and_critical_ones_block():
    graph = defs.resolve_asset_graph()
    keys = {(k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys}
    for table in SUITES:
        assert {(table, CRITICAL_CHECK), (table, ADVISORY_CHECK)} <= keys, table
    blocking = {(k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys
                if graph.get_check_spec(k).blocking}
    assert {(t, CRITICAL_CHECK) for t in SUITES} <= blocking
    assert not {(t, ADVISORY_CHECK) for t in SUITES} & blocking


def test_the_nightly_schedule_runs_yesterday_plus_the_lookback_window_in_one_run():
    schedule = defs.resolve_schedule_def("nightly")
    context = dg.build_schedule_context(scheduled_execution_time=datetime(2026, 11, 27, 2, tzinfo=UTC))
    [request] = schedule.evaluate_tick(context).run_requests
    assert request.tags["dagster/asset_partition_range_start"] == "2026-11-23"
    assert request.tags["dagster/asset_partition_range_end"] == "2026-11-26"
    assert schedule.cron_schedule == "0 2 * * *" and schedule.execution_timezone == "UTC"


def test_weekly_enforcement_really_deletes_and_the_nightly_job_never_does():
    schedule = defs.resolve_schedule_def("weekly_enforcement")
    context = dg.build_schedule_context(scheduled_execution_time=datetime(2026, 11, 29, 3, tzinfo=UTC))
    [request] = schedule.evaluate_tick(context).run_requests
    assert request.run_config["ops"]["retention_enforcement"]["config"]["dry_run"] is False
    assert schedule.job_name == "enforce_retention"
    nightly = defs.resolve_job_def("every_asset").asset_layer.selected_asset_keys
    assert dg.AssetKey("retention_enforcement") not in nightly
    assert dg.AssetKey("retention_report") in nightly


def test_the_monthly_export_covers_the_previous_calendar_month_after_restatements_settle():
    schedule = defs.resolve_schedule_def("monthly_export")
    context = dg.build_schedule_context(scheduled_execution_time=datetime(2026, 3, 5, 5, tzinfo=UTC))
    [request] = schedule.evaluate_tick(context).run_requests
    assert request.run_config["ops"]["auditor_export"]["config"] == {"first": "2026-02-01", "last": "2026-02-28"}
    assert schedule.job_name == "auditor_exports" and schedule.cron_schedule == "0 5 5 * *"
    nightly = defs.resolve_job_def("every_asset").asset_layer.selected_asset_keys
    assert dg.AssetKey("auditor_export") not in nightly


def _dg(*args: str) -> subprocess.CompletedProcess:
    """The `dg` command of this environment, run in the project as a user would."""
    return subprocess.run([str(Path(sys.executable).parent / "dg"), *args], cwd=Path(__file__).parent.parent,
                          capture_output=True, text=True)


@pytest.mark.slow
def test_dg_check_defs_passes_and_dg_list_defs_lists_the_graph():
    checked = _dg("check", "defs")
    assert checked.returncode == 0 and "All definitions loaded successfully" in checked.stdout + checked.stderr
    listed = _dg("list", "defs", "--json")
    assert listed.returncode == 0, listed.stderr
    listing = json.loads(listed.stdout)
    assert sorted(a["asset_key"] for a in listing["assets"]) == sorted(_graph())
    assert {"landing_files"} <= {s["name"] for s in listing["sensors"]}
