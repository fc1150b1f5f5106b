"""Detection quality of security_findings on varied injected spend anomalies (35 days):
every anomaly found (recall 1.0) and at least 95 % of findings real (precision)."""

import json
from datetime import date

import pytest

from audit_pipeline.runner import materialize_range
from audit_pipeline.sample.generator import SampleSpec, generate_sample
from audit_pipeline.sample.varied import MIN_VARIED_DAYS, plan, score
from audit_pipeline.storage import lake_for

END = date(2026, 11, 26)


@pytest.mark.slow
def test_varied_anomalies_are_all_found_and_findings_are_real(tmp_path, settings_for, monkeypatch):
    landing = tmp_path / "landing"
    truth = generate_sample(SampleSpec(landing, 35, seed=7, calls_per_day=300, end=END, varied=True))
    kinds = {a["kind"] for a in truth["anomalies"]["spend_anomalies"]}
    assert kinds == {"leaked_key", "unrequested_model", "spike", "off_hours", "token_shape"}
    assert {a["provider"] for a in truth["anomalies"]["spend_anomalies"] if a["kind"] == "leaked_key"} == {
        "openai", "anthropic"}
    settings = settings_for(landing)
    monkeypatch.setenv("DAGSTER_HOME", settings.dagster_home)
    days = [date.fromisoformat(d) for d in truth["days"]]
    assert materialize_range(settings, days[0], days[-1]).success
    result = score(lake_for(settings).read("security_findings").to_pylist(), truth)
    assert result.anomalies >= 30
    assert result.recall == 1.0, result.missed
    assert result.precision >= 0.95, [(f["usage_date"], f["finding_type"], f["api_key_id"])
                                      for f in result.unexplained]
    assert json.loads((landing / "ground_truth.json").read_text())["anomalies"]["spend_anomalies"]


def test_the_varied_plan_needs_a_month_and_differs_by_seed():
    days = [date(2026, 10, 1 + n) for n in range(MIN_VARIED_DAYS)]
    with pytest.raises(ValueError, match="at least 30 days"):
        plan(days[:20], seed=1)
    first, second = plan(days, seed=1), plan(days, seed=2)
    assert first == plan(days, seed=1) and first != second
    assert all(a["day"] >= days[10] for a in first)  # a week of baseline before every onset


def test_score_counts_missed_anomalies_and_unexplained_findings():
    truth = {"anomalies": {
        "key_with_spend_but_no_logs": {"api_key_id": "k_leak", "days": ["2026-11-01"]},
        "model_billed_never_requested": {"api_key_id": "k_a", "day": "2026-11-02"},
        "day_without_logs": {"ai_system": "nobody", "day": "2026-11-03"},
        "price_mismatch": {"day": "2026-11-04", "provider": "openai", "model": "m"},
    }}
    findings = [
        {"finding_type": "unknown_key_spend", "usage_date": date(2026, 11, 1), "provider": "openai",
         "api_key_id": "k_leak", "model": "x"},
        {"finding_type": "spend_spike", "usage_date": date(2026, 11, 9), "provider": "openai",
         "api_key_id": "k_b", "model": None},
        {"finding_type": "cost_drift", "usage_date": date(2026, 11, 4), "provider": "openai",
         "api_key_id": "k_a", "model": "m"},
    ]
    result = score(findings, truth)
    assert (result.anomalies, result.findings) == (3, 3)
    assert [m["finding_type"] for m in result.missed] == ["model_not_requested"]
    assert [u["finding_type"] for u in result.unexplained] == ["spend_spike"]
    assert (round(result.recall, 3), round(result.precision, 3)) == (0.667, 0.667)
