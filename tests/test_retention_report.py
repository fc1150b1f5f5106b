"""The retention report (retention/report.py and the sections it builds) on the sample's days,
materialized through Dagster on local folders and on S3: the injected gaps and risks are
reported where they are, and every system gets its HTML page."""

import hashlib
from datetime import date
from pathlib import Path

from audit_pipeline.lake import Lake
from audit_pipeline.sample.systems import SYSTEMS


def _latest_reports(lake: Lake, truth) -> dict[str, dict]:
    last = truth["days"][-1]
    rows = lake.read("retention_report", where=f"report_date = '{last}' AND NOT as_of_requested").to_pylist()
    return {r["ai_system"]: r for r in rows}


def test_the_day_without_logs_turns_that_systems_floor_test_red(materialized):
    _, lake, truth, _ = materialized
    reports = _latest_reports(lake, truth)
    assert set(reports) == {s.name for s in SYSTEMS}
    missing = truth["anomalies"]["day_without_logs"]
    broken = reports[missing["ai_system"]]
    assert broken["status"] == "RED" and broken["floor_intact"] is False
    assert [d.isoformat() for d in broken["failing_days"]] == [missing["day"]]
    assert "floor_not_intact" in {e["rule"] for e in broken["exceptions"] if e["status"] == "RED"}
    day = next(d for d in broken["daily_coverage"] if d["day"].isoformat() == missing["day"])
    assert (day["records"], day["coverage_pct"], day["status"]) == (0, 0.0, "RED")
    assert day["reference_count"] > 0  # the provider billed that day: the independent count saw it
    assert all(r["floor_intact"] for name, r in reports.items() if name != missing["ai_system"])


def test_a_retired_model_in_use_is_flagged_in_the_inventory(materialized):
    _, lake, truth, _ = materialized
    retired = truth["anomalies"]["retired_model_in_use"]
    assert retired["calls"] > 0
    reports = _latest_reports(lake, truth)
    inventory = {m["snapshot"]: m for m in reports[retired["ai_system"]]["model_inventory"]}
    entry = inventory[retired["snapshot"]]
    assert entry["flag"] == "used_after_retirement" and entry["retires_on"] == date(2026, 10, 23)
    assert "model_used_after_retirement" in {e["rule"] for e in reports[retired["ai_system"]]["exceptions"]}
    assert entry["aliases"] == "gpt-3.5-turbo"
    # every other snapshot in use is in the catalog and not retired; alias-only outputs are
    # listed per alias the application asked for
    flags = {(m["flag"], m["snapshot"] is None) for r in reports.values() for m in r["model_inventory"]
             if m["snapshot"] != retired["snapshot"]}
    assert flags == {(None, False), ("alias_only", True)}


def test_a_prompt_version_approved_by_its_author_is_reported(materialized):
    _, lake, truth, _ = materialized
    commits = lake.read("prompt_commits").to_pylist()
    self_approved = {c["commit_sha"] for c in commits
                     if c["approved_by"] and c["author_email"] in c["approved_by"]}
    assert self_approved, "the sample repository has a self-approved commit"
    reported = {p["version"] for r in _latest_reports(lake, truth).values() for p in r["prompt_changes"]
                if p["flag"] == "self_approved"}
    assert reported and reported <= self_approved
    assert all(any(e["rule"] == "prompt_self_approved" for e in r["exceptions"])
               for r in _latest_reports(lake, truth).values()
               if any(p["flag"] == "self_approved" for p in r["prompt_changes"]))


def test_each_system_gets_a_self_contained_html_report(materialized):
    settings, lake, truth, _ = materialized
    reports = _latest_reports(lake, truth)
    folder = Path(settings.reports) / "retention" / truth["days"][-1]
    for name, report in reports.items():
        html = (folder / f"{name}.html").read_text()
        assert hashlib.sha256(html.encode()).hexdigest() == report["html_sha256"]
        assert html.count("<svg") == 2 and "<script" not in html and "src=" not in html
        assert f"Retention report: {name}" in html and report["status"] in html


def test_the_dagster_ui_links_every_html_report_it_wrote(local_pipeline):
    from audit_pipeline.runner import latest_materialization

    settings, run_id = local_pipeline.settings, local_pipeline.outcome.run_id
    reports = latest_materialization(settings, "retention_report", run_id)
    links = {k: v for k, v in reports.items() if k.startswith("html_report_")}
    assert sorted(links) == sorted(f"html_report_{s.name}" for s in SYSTEMS)
    assert all(Path(path).is_file() for path in links.values())
    assert Path(latest_materialization(settings, "security_findings", run_id)["html_report"]).is_file()

