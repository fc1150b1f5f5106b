"""Retention enforcement and as-of reports, through Dagster on sample data old enough to
be past some systems' ceilings: holds keep their rows through deletion and vacuum, unheld
rows past the ceiling go (also from the files), and a report as of an earlier moment
reproduces that moment's figures after later loads and deletions."""

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from audit_pipeline.defs.partitions import partition_range_tags
from audit_pipeline.lake import Lake
from audit_pipeline.policy import parse_policy
from audit_pipeline.retention.enforcement import (
    ErasureAction,
    PolicyViolation,
    enforce,
    plan_erasure,
)
from audit_pipeline.retention.window import deletion_cutoff, floor_start, months_back
from audit_pipeline.runner import materialize_range, run_job
from audit_pipeline.sample.generator import SampleSpec, generate_sample
from audit_pipeline.storage import lake_for

SHIPPED_POLICY = Path(__file__).parent.parent / "audit.yaml"
HELD_SYSTEM = "doc-summarizer"
"""Ceiling six months in the shipped policy: the old sample is past it."""
REPORT_FIGURES = ("status", "records", "outputs", "reference_count", "coverage_pct", "floor_intact",
                  "failing_days", "past_ceiling", "due_for_deletion", "blocked_by_hold", "deleted_this_period",
                  "pct_both", "daily_coverage", "model_inventory", "prompt_changes", "legal_holds", "exceptions",
                  "table_versions")


@pytest.fixture(scope="module")
def old_sample(tmp_path_factory):
    """Six days that ended about ten months ago (past 6-month ceilings, inside 12 and 24)."""
    landing = tmp_path_factory.mktemp("old") / "landing"
    end = datetime.now(UTC).date() - timedelta(days=300)
    truth = generate_sample(SampleSpec(landing, days=6, seed=5, calls_per_day=300, end=end))
    return landing, [date.fromisoformat(d) for d in truth["days"]]


def _policy_with_hold(tmp_path: Path, first: date, last: date) -> Path:
    document = yaml.safe_load(SHIPPED_POLICY.read_text())
    document["legal_holds"].append({
        "id": "LH-TEST", "trigger": "Art. 73 incident investigation", "system": HELD_SYSTEM,
        "from": first.isoformat(), "to": last.isoformat(), "placed_by": "dpo@example.com",
        "placed_at": "2026-01-01T00:00:00Z", "review_due": "2027-06-01", "released_at": None})
    path = tmp_path / "audit.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def _rows(lake: Lake, table: str, system: str) -> dict[date, int]:
    days = lake.read(table, where=f"ai_system = '{system}'", columns=["event_date"]).column("event_date")
    counts: dict[date, int] = {}
    for day in days.to_pylist():
        counts[day] = counts.get(day, 0) + 1
    return counts


def _report(settings, day: date, as_of: datetime | None = None) -> dict[str, dict]:
    config = {"ops": {"retention_report": {"config": {"as_of": as_of.isoformat() if as_of else None}}}}
    assert run_job(settings, "retention_reports", partition_range_tags(day, day), config).success
    flag = "as_of_requested" if as_of else "NOT as_of_requested"
    rows = lake_for(settings).read("retention_report", where=f"report_date = '{day}' AND {flag}").to_pylist()
    return {r["ai_system"]: r for r in rows}


def _enforce(settings, apply: bool, safety_hours: int = 168):
    config = {"ops": {"retention_enforcement": {"config": {"dry_run": not apply,
                                                           "vacuum_safety_hours": safety_hours}}}}
    outcome = run_job(settings, "enforce_retention", run_config=config)
    assert outcome.success, outcome.failed_steps
    return lake_for(settings).read("erasure_log", where=f"run_id = '{outcome.run_id}'").to_pylist()


@pytest.mark.slow
def test_holds_survive_enforcement_and_vacuum_and_as_of_reports_reproduce(old_sample, settings_for, tmp_path,
                                                                        monkeypatch):
    landing, days = old_sample
    held = (days[1], days[2])
    settings = settings_for(landing, config=_policy_with_hold(tmp_path, *held))
    monkeypatch.setenv("DAGSTER_HOME", settings.dagster_home)
    lake = lake_for(settings)

    # 1. the first four days, and the report as the lake stands now
    assert materialize_range(settings, days[0], days[3]).success
    moment = datetime.now(UTC)
    before = _report(settings, days[3], as_of=moment)
    held_rows = _rows(lake, "llm_calls", HELD_SYSTEM)
    assert before[HELD_SYSTEM]["past_ceiling"] == sum(held_rows.values()) > 0
    assert before[HELD_SYSTEM]["blocked_by_hold"] == held_rows[days[1]] + held_rows[days[2]]
    assert before[HELD_SYSTEM]["overdue_deletions"] > 0 and before[HELD_SYSTEM]["status"] == "RED"

    # 2. a dry run deletes nothing but says what would go
    dry = _enforce(settings, apply=False)
    assert {r["dry_run"] for r in dry} == {True}
    assert _rows(lake, "llm_calls", HELD_SYSTEM) == held_rows

    # 3. later data, then real deletions (vacuum keeps a week of versions)
    assert materialize_range(settings, days[4], days[5]).success
    ledger = _enforce(settings, apply=True)
    deleted = {(r["table_name"], r["ai_system"]): r["rows_deleted"] for r in ledger if r["action"] == "delete"}
    assert deleted["llm_calls", HELD_SYSTEM] > 0 and deleted["llm_calls", "search-api"] > 0
    assert deleted["llm_calls", "cv-screener"] == 0  # 24-month ceiling: not yet
    assert deleted["llm_calls", "support-assistant"] == 0  # 12 months: not yet
    assert next(r for r in ledger if r["ai_system"] == HELD_SYSTEM)["hold_checked"] == "LH-TEST"
    remaining = _rows(lake, "llm_calls", HELD_SYSTEM)
    assert set(remaining) == set(held) and all(remaining[d] == held_rows[d] for d in held)
    assert set(_rows(lake, "output_lineage", HELD_SYSTEM)) == set(held)

    # 4. the report as of the earlier moment reproduces its figures; today's shows the deletions
    again = _report(settings, days[3], as_of=moment)
    for system, report in before.items():
        assert {k: again[system][k] for k in REPORT_FIGURES} == {k: report[k] for k in REPORT_FIGURES}, system
    now = _report(settings, days[5])
    assert now[HELD_SYSTEM]["deleted_this_period"] == 0  # the period ends on days[5], long before today
    assert now[HELD_SYSTEM]["overdue_deletions"] == 0 and now[HELD_SYSTEM]["blocked_by_hold"] > 0

    # 5. the deleted rows are still in files a week of versions needs; the next run with no
    # safety window removes those files (nothing new to delete), and the held rows stay
    deleted_ids = set(_event_ids_in_files(lake, "llm_calls")) - set(
        lake.read("llm_calls", columns=["event_id"]).column("event_id").to_pylist())
    assert deleted_ids
    vacuumed = _enforce(settings, apply=True, safety_hours=0)
    assert sum(r["rows_deleted"] for r in vacuumed) == 0
    assert sum(r["files_removed"] for r in vacuumed if r["table_name"] == "llm_calls") > 0
    assert not deleted_ids & set(_event_ids_in_files(lake, "llm_calls"))
    assert _rows(lake, "llm_calls", HELD_SYSTEM) == remaining


def _event_ids_in_files(lake: Lake, table: str) -> list[str]:
    """Every event id in any Parquet file under the table's folder, referenced or not."""
    ids: list[str] = []
    for path in Path(lake.uri(table)).rglob("*.parquet"):
        ids += pq.read_table(path, columns=["event_id"]).column("event_id").to_pylist()
    return ids


def test_a_deletion_cutoff_is_never_inside_the_floor():
    policy = parse_policy({"systems": [{"id": f"s{m}", "purpose": "p", "risk_class": "minimal", "role": "deployer",
                                        "log_retention": {"floor_months": 6, "ceiling_months": m,
                                                          "ceiling_purpose": "p"}} for m in range(6, 40)]})
    for offset in range(0, 800, 7):
        today = date(2026, 1, 31) + timedelta(days=offset)
        for system in policy.systems:
            cutoff = deletion_cutoff(today, system.log_retention)
            assert cutoff <= floor_start(today, 6) <= months_back(today, 6)
            assert (today - floor_start(today, 6)).days >= 184


def test_enforcement_refuses_a_predicate_that_reaches_protected_rows(old_sample, settings_for, tmp_path,
                                                                     monkeypatch):
    landing, days = old_sample
    settings = settings_for(landing)
    monkeypatch.setenv("DAGSTER_HOME", settings.dagster_home)
    assert materialize_range(settings, days[0], days[1]).success
    lake = lake_for(settings)
    before = lake.read("llm_calls", columns=["event_id"]).num_rows
    # A hand-made action whose cutoff lies after the floor start (plan_erasure never makes one).
    today = datetime.now(UTC).date()
    rogue = ErasureAction("llm_calls", HELD_SYSTEM, today, days[0], (), "event_date")
    with pytest.raises(PolicyViolation):
        enforce(lake, [rogue], dry_run=False, safety_hours=168, run_id="test", now=datetime.now(UTC))
    assert lake.read("llm_calls", columns=["event_id"]).num_rows == before
    assert not lake.exists("erasure_log")


def test_plan_excludes_active_holds_and_skips_systems_without_a_ceiling():
    policy = parse_policy({
        "systems": [{"id": "a", "purpose": "p", "risk_class": "minimal", "role": "deployer",
                     "log_retention": {"ceiling_months": 6, "ceiling_purpose": "debugging"}},
                    {"id": "b", "purpose": "p", "risk_class": "minimal", "role": "deployer"}],
        "legal_holds": [{"id": "H1", "trigger": "t", "system": "a", "from": "2025-01-01", "to": "2025-01-31",
                         "placed_by": "dpo", "placed_at": "2025-02-01T00:00:00Z"},
                        {"id": "H2", "trigger": "t", "system": "a", "from": "2025-03-01", "to": "2025-03-02",
                         "placed_by": "dpo", "placed_at": "2025-02-01T00:00:00Z",
                         "released_at": "2025-06-01T00:00:00Z"}]})
    actions = plan_erasure(policy, date(2026, 1, 10), datetime(2026, 1, 10, tzinfo=UTC))
    assert {(a.table, a.ai_system) for a in actions} == {("llm_calls", "a"), ("output_lineage", "a")}
    predicate = actions[0].predicate
    assert predicate.startswith("ai_system = 'a' AND event_date < '2025-07-10'")
    assert "'2025-01-01'" in predicate and "2025-03-01" not in predicate  # H2 was released
