"""Killed between any two commits, a load is redone by the next run: data, quarantine and
ingest_log end as a clean run leaves them, and so does every derived result (lineage, quality,
reconciliation, findings, reports) killed after its data and before its build_log entry (issue 15). The lake's commit hooks are the
fault-injection points; the process dies with os._exit, as a SIGKILL would leave it."""

import json
import subprocess
import sys
from datetime import date

import pytest

from audit_pipeline.lake import Lake
from audit_pipeline.lake_compare import comparable_rows
from audit_pipeline.schemas import TABLES

DAY = date(2026, 11, 20)
VOLATILE = {"ingested_at", "run_id", "file_version"}
POINTS = [("llm_calls", "before"), ("llm_calls", "after"), ("quarantine", "before"), ("quarantine", "after"),
          ("ingest_log", "before")]

LOAD = """
import os, sys
from datetime import UTC, date, datetime
from audit_pipeline import lake as lake_module
from audit_pipeline.lake import Lake
from audit_pipeline.lake_compare import comparable_rows
from audit_pipeline.schemas import TABLES
from audit_pipeline.landing import Landing
from audit_pipeline.loads.calls import load_calls
landing, lake, table, moment = sys.argv[1:5]
def die(name, when):
    if (name, when) == (table, moment):
        os._exit(9)
lake_module.COMMIT_HOOKS.append(die)
load_calls(Landing(landing), Lake(lake), date(2026, 11, 20), date(2026, 11, 20), datetime.now(UTC))
"""


def _landing(root):
    folder = root / "logs/app/2026-11-20"
    folder.mkdir(parents=True)
    good = [json.dumps({"event_id": f"e{n}", "timestamp": "2026-11-20T10:00:00Z", "ai_system": "s",
                        "provider": "openai", "request_model": "gpt-4o-mini"}) for n in range(5)]
    (folder / "calls.jsonl").write_text("\n".join([*good, "{not json", good[0]]) + "\n")
    return root


def _tables(lake: Lake) -> dict[str, list]:
    out = {}
    for table in ("llm_calls", "quarantine", "ingest_log"):
        rows = lake.read(table).to_pylist()
        out[table] = sorted(json.dumps({k: v for k, v in r.items() if k not in VOLATILE}, default=str) for r in rows)
    return out


def _load(landing, lake, table="", moment=""):
    return subprocess.run([sys.executable, "-c", LOAD, str(landing), str(lake), table, moment]).returncode


@pytest.mark.slow
@pytest.mark.parametrize("table,moment", POINTS, ids=[f"{m}-{t}" for t, m in POINTS])
def test_a_load_killed_at_any_commit_is_redone_by_the_next_run(tmp_path, table, moment):
    landing = _landing(tmp_path / "landing")
    assert _load(landing, tmp_path / "clean") == 0
    assert _load(landing, tmp_path / "crashed", table, moment) == 9  # killed there
    assert _load(landing, tmp_path / "crashed") == 0  # the next run
    clean, crashed = _tables(Lake(str(tmp_path / "clean"))), _tables(Lake(str(tmp_path / "crashed")))
    assert crashed == clean
    assert len(clean["quarantine"]) == 2 and len(clean["llm_calls"]) == 5  # one bad line, one duplicate


BUILD = """
import os, sys
from datetime import date
from audit_pipeline import lake as lake_module
from audit_pipeline.runner import materialize_range
from audit_pipeline.settings import load_settings
landing, lake, reports, home, first, last, table, moment = sys.argv[1:9]
def die(name, when):
    if (name, when) == (table, moment):
        os._exit(9)
lake_module.COMMIT_HOOKS.append(die)
settings = load_settings({"AUDIT_LANDING": landing, "AUDIT_LAKE": lake, "AUDIT_REPORTS": reports,
                          "DAGSTER_HOME": home})
sys.exit(0 if materialize_range(settings, date.fromisoformat(first), date.fromisoformat(last)).success else 1)
"""

DERIVED_POINTS = [("output_lineage", "after"), ("dq_results", "after"), ("spend_reconciliation", "after"),
                  ("security_findings", "after"), ("retention_report", "after"), ("build_log", "before")]
"""After a derived result's data commit and before the build_log entry that vouches for it."""


def _build(root, landing, days, table="", moment=""):
    return subprocess.run([sys.executable, "-c", BUILD, str(landing), str(root / "lake"), str(root / "reports"),
                           str(root / "dagster_home"), days[0], days[-1], table, moment]).returncode


def _every_table(lake_root) -> dict[str, list]:
    """Every table's rows, without the columns that name a run, its moment or the Delta
    versions it read (the interrupted lake has one more commit, so those are higher; the rows
    themselves must be the clean run's)."""
    lake = Lake(str(lake_root))
    return {name: comparable_rows(lake, name) for name in sorted(TABLES) if lake.exists(name)}


@pytest.fixture(scope="module")
def clean_build(sample_landing, tmp_path_factory):
    landing, truth = sample_landing
    root = tmp_path_factory.mktemp("clean-build")
    assert _build(root, landing, truth["days"]) == 0
    return _every_table(root / "lake")


@pytest.mark.slow
@pytest.mark.parametrize("table,moment", DERIVED_POINTS, ids=[f"{m}-{t}" for t, m in DERIVED_POINTS])
def test_a_pipeline_run_killed_at_a_derived_commit_is_rebuilt_by_the_next_run(sample_landing, clean_build,
                                                                             tmp_path, table, moment):
    landing, truth = sample_landing
    assert _build(tmp_path, landing, truth["days"], table, moment) == 9  # killed there
    assert _build(tmp_path, landing, truth["days"]) == 0  # the next run
    crashed = _every_table(tmp_path / "lake")
    assert crashed.keys() == clean_build.keys()
    differing = {name: (sorted(set(crashed[name]) - set(clean_build[name]))[:2],
                        sorted(set(clean_build[name]) - set(crashed[name]))[:2])
                 for name in clean_build if crashed[name] != clean_build[name]}
    assert differing == {}, json.dumps(differing, indent=1)
