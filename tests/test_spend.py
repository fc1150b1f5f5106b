"""Spend: the dated price catalog (user prices replace or follow shipped ones without
overlap; a price change re-prices lineage and the reconciliation in one run) and the
security findings (robust baselines, cold start, acknowledgements that keep applying)."""

import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest
import yaml

from audit_pipeline.policy import parse_policy
from audit_pipeline.pricing import load_prices, price_catalog
from audit_pipeline.runner import dagster_instance, materialize_range
from audit_pipeline.sample.systems import SYSTEMS
from audit_pipeline.spend.findings import baseline_findings
from audit_pipeline.storage import lake_for

SHIPPED_POLICY = Path(__file__).parent.parent / "audit.yaml"
MINI = ("openai", "gpt-4o-mini-2024-07-18", "output")
SYSTEM = {"id": "a", "purpose": "p", "risk_class": "minimal", "role": "deployer"}


def _prices(policy_prices: list[dict]) -> dict[tuple, list[dict]]:
    catalog = price_catalog(parse_policy({"systems": [SYSTEM], "prices": policy_prices})).to_pylist()
    by_key: dict[tuple, list[dict]] = {}
    for row in catalog:
        if row["price_tier"] == "standard":
            by_key.setdefault((row["provider"], row["model"], row["token_type"]), []).append(row)
    return by_key


def _shipped_standard(key: tuple) -> list[dict]:
    return [r for r in load_prices().to_pylist()
            if (r["provider"], r["model"], r["token_type"]) == key and r["price_tier"] == "standard"]


def test_a_user_price_for_another_tier_leaves_the_standard_price_alone():
    catalog = price_catalog(parse_policy({"systems": [SYSTEM], "prices": [
        {"provider": "openai", "model": MINI[1], "token_type": "output", "price_tier": "flex",
         "usd_per_million": "0.30", "effective_from": "2026-12-01"}]})).to_pylist()
    rows = [r for r in catalog if (r["provider"], r["model"], r["token_type"]) == MINI]
    assert {(r["price_tier"], r["effective_to"], r["usd_per_million"]) for r in rows} == {
        ("standard", None, Decimal("0.600000")), ("batch", None, Decimal("0.300000")),
        ("flex", None, Decimal("0.300000"))}
    assert f"user-openai-{MINI[1]}-output-flex-2026-12-01" in {r["price_id"] for r in rows}


def test_a_later_user_price_ends_the_shipped_one_where_it_starts():
    [shipped] = _shipped_standard(MINI)
    rows = _prices([{"provider": "openai", "model": MINI[1], "token_type": "output", "usd_per_million": "0.72",
                     "effective_from": "2026-12-01", "source": "price change notice"}])[MINI]
    assert [(r["effective_from"], r["effective_to"], r["usd_per_million"]) for r in rows] == [
        (shipped["effective_from"], date(2026, 12, 1), shipped["usd_per_million"]),
        (date(2026, 12, 1), None, Decimal("0.72"))]
    assert rows[1]["price_id"].startswith("user-") and rows[1]["source"] == "price change notice"


def test_a_user_price_with_the_same_start_replaces_the_shipped_one():
    [shipped] = _shipped_standard(MINI)
    rows = _prices([{"provider": "openai", "model": MINI[1], "token_type": "output", "usd_per_million": 0.5,
                     "effective_from": shipped["effective_from"].isoformat()}])[MINI]
    assert [(r["usd_per_million"], r["effective_to"]) for r in rows] == [(Decimal("0.5"), None)]


def _materialized_with_own_policy(sample_landing, settings_for, tmp_path, monkeypatch):
    """The sample's days materialized with a copy of the shipped policy the test may edit."""
    landing, truth = sample_landing
    days = [date.fromisoformat(d) for d in truth["days"]]
    config = tmp_path / "audit.yaml"
    config.write_text(SHIPPED_POLICY.read_text())
    settings = settings_for(landing, config=config)
    monkeypatch.setenv("DAGSTER_HOME", settings.dagster_home)
    assert materialize_range(settings, days[0], days[-1]).success
    return settings, config, days, lake_for(settings)


@pytest.mark.slow
def test_changing_a_price_reprices_lineage_and_reconciliation_in_one_run(sample_landing, settings_for, tmp_path,
                                                                         monkeypatch):
    settings, config, days, lake = _materialized_with_own_policy(sample_landing, settings_for, tmp_path, monkeypatch)

    def mini_output(table: str, cost: str) -> list[tuple]:
        where = f"provider = 'openai' AND model = '{MINI[1]}' AND token_type = 'output'"
        return sorted((r["usage_date"], r["api_key_id"], r[cost], r["status"]) for r in
                      lake.read(table, where=where).to_pylist())

    before = mini_output("spend_reconciliation", "computed_cost")
    assert before and {s for *_, s in before} <= {"match", "cost_mismatch"}

    document = yaml.safe_load(config.read_text())
    document["prices"] = [{"provider": "openai", "model": MINI[1], "token_type": "output",
                           "usd_per_million": "1.20", "effective_from": days[0].isoformat(),
                           "source": "test: doubled"}]
    config.write_text(yaml.safe_dump(document))
    assert materialize_range(settings, days[0], days[-1]).success

    after = mini_output("spend_reconciliation", "computed_cost")
    assert [(d, k, c * 2) for d, k, c, _ in before] == [(d, k, c) for d, k, c, _ in after]
    assert {s for *_, s in after} == {"cost_mismatch"}  # billed at the shipped price, computed at double
    lineage = lake.read("output_lineage", where="provider = 'openai' AND response_model = "
                        f"'{MINI[1]}'", columns=["price_id", "output_tokens"]).to_pylist()
    user_price = f"user-openai-{MINI[1]}-output-{days[0]}"
    # a call names the prices of what it consumed: the new output price, where it had output
    assert lineage and all((user_price in (r["price_id"] or "")) == bool(r["output_tokens"]) for r in lineage)


def _steady(days: int, value: float, start: date = date(2026, 1, 1)) -> dict[date, float]:
    # small deterministic wobble so the MAD is not zero
    return {start + timedelta(days=n): value * (1 + 0.03 * ((n * 7) % 5 - 2)) for n in range(days)}


def _reconciliation(series: dict[date, float]) -> list[dict]:
    return [{"usage_date": d, "provider": "openai", "api_key_id": "key_A", "billed_tokens": int(v)}
            for d, v in series.items()]


def test_a_spend_spike_is_found_against_a_robust_baseline_and_cold_start_stays_silent():
    series = _steady(20, 100_000)
    spike_day = max(series) + timedelta(days=1)
    series[spike_day] = 800_000
    [finding] = baseline_findings(_reconciliation(series), [], spike_day, spike_day)
    assert (finding.finding_type, finding.severity) == ("spend_spike", "high")
    assert finding.evidence["history_days"] == 20
    # the same jump with five days of history: no baseline yet, no finding
    young = _steady(5, 100_000)
    young[max(young) + timedelta(days=1)] = 800_000
    assert baseline_findings(_reconciliation(young), [], max(young), max(young)) == []
    # ordinary days are quiet
    assert baseline_findings(_reconciliation(series), [], min(series) + timedelta(days=10), max(series) -
                           timedelta(days=1)) == []


def test_off_hours_and_tokens_per_call_shifts_are_found():
    start = date(2026, 1, 1)
    calls = [{"day": start + timedelta(days=n), "provider": "openai", "account": "key_A", "calls": 1000,
              "off_hours_calls": 100 + (n % 3) * 10, "tokens": 1000 * (900 + (n % 4) * 20)} for n in range(15)]
    night = start + timedelta(days=15)
    calls.append({"day": night, "provider": "openai", "account": "key_A", "calls": 1000,
                  "off_hours_calls": 700, "tokens": 1000 * 4000})
    kinds = {f.finding_type for f in baseline_findings([], calls, night, night)}
    assert kinds == {"off_hours_shift", "tokens_per_request_shift"}
    assert baseline_findings([], calls, start + timedelta(days=10), start + timedelta(days=14)) == []


@pytest.mark.slow
def test_an_acknowledged_finding_is_kept_and_marked(sample_landing, settings_for, tmp_path, monkeypatch):
    settings, config, days, lake = _materialized_with_own_policy(sample_landing, settings_for, tmp_path, monkeypatch)
    high = [f for f in lake.read("security_findings").to_pylist() if f["severity"] == "high"]
    assert high and not any(f["acknowledged"] for f in high)
    document = yaml.safe_load(config.read_text())
    document["acknowledged_findings"] = [{"id": f["finding_id"], "by": "secops@example.com",
                                          "reason": "key revoked, ticket SEC-42"} for f in high]
    config.write_text(yaml.safe_dump(document))
    outcome = materialize_range(settings, days[0], days[-1])
    assert outcome.success
    after = {f["finding_id"]: f for f in lake.read("security_findings").to_pylist()}
    assert all(after[f["finding_id"]]["acknowledged"] and after[f["finding_id"]]["acknowledgement"]
               == "key revoked, ticket SEC-42" for f in high)  # same ids: the acknowledgement holds
    evaluations = [r.dagster_event.asset_check_evaluation_data for r in dagster_instance(settings).all_logs(
        outcome.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)]
    [check] = [e for e in evaluations if e.check_name == "no_unacknowledged_high_findings"]
    assert check.passed


def test_the_reconciliation_flags_exactly_the_injected_anomalies(materialized):
    """Billed versus logged per day × account × model × token type: every row matches except
    where ground_truth.json injected a difference (cached tokens never cause one)."""
    _, lake, truth, _ = materialized
    rows = lake.read("spend_reconciliation").to_pylist()
    anomalies = truth["anomalies"]
    leaked, unrequested = anomalies["key_with_spend_but_no_logs"], anomalies["model_billed_never_requested"]
    missing, mispriced = anomalies["day_without_logs"], anomalies["price_mismatch"]
    missing_keys = {k for s in SYSTEMS if s.name == missing["ai_system"] for k in s.api_keys}

    def expected(row) -> str:
        day = row["usage_date"].isoformat()
        if row["api_key_id"] == leaked["api_key_id"] and day in leaked["days"]:
            return "billed_not_logged"
        if row["model"] == unrequested["model"] and day == unrequested["day"]:
            return "billed_not_logged"
        if row["api_key_id"] in missing_keys and day == missing["day"]:
            return "billed_not_logged"
        if (day, row["provider"], row["model"], row["token_type"]) == (
                mispriced["day"], mispriced["provider"], mispriced["model"], mispriced["token_type"]):
            return "cost_mismatch"
        return "match"

    assert rows and all(r["status"] == expected(r) for r in rows), [
        (r["usage_date"], r["api_key_id"], r["model"], r["token_type"], r["status"]) for r in rows
        if r["status"] != expected(r)]
    assert {r["token_type"] for r in rows} == {"uncached_input", "cache_read", "cache_write", "output"}
    assert {r["billed_cost_basis"] for r in rows if r["provider"] == "anthropic"} == {"allocated_from_workspace"}
    mismatched = [r for r in rows if r["status"] == "cost_mismatch"]
    assert mismatched and all(
        r["billed_cost"] == r["computed_cost"] * Decimal(mispriced["billed_over_catalog"]) for r in mismatched)


def test_every_spend_anomaly_is_a_finding_and_clean_days_have_none(materialized):
    _, lake, truth, _ = materialized
    anomalies = truth["anomalies"]
    leaked, unrequested = anomalies["key_with_spend_but_no_logs"], anomalies["model_billed_never_requested"]
    missing, mispriced = anomalies["day_without_logs"], anomalies["price_mismatch"]
    missing_keys = {k for s in SYSTEMS if s.name == missing["ai_system"] for k in s.api_keys}
    expected = {(day, "unknown_key_spend", leaked["api_key_id"]) for day in leaked["days"]}
    expected |= {(unrequested["day"], "model_not_requested", unrequested["api_key_id"])}
    expected |= {(missing["day"], "spend_without_logs", key) for key in missing_keys}
    findings = lake.read("security_findings").to_pylist()
    found = {(f["usage_date"].isoformat(), f["finding_type"], f["api_key_id"]) for f in findings
             if f["finding_type"] != "cost_drift"}
    assert found == expected
    drift = {(f["usage_date"].isoformat(), f["model"]) for f in findings if f["finding_type"] == "cost_drift"}
    assert drift == {(mispriced["day"], mispriced["model"])}
    assert len({f["finding_id"] for f in findings}) == len(findings)
    assert all(f["detail"] and json.loads(f["evidence"]) for f in findings)
    assert {f["severity"] for f in findings if f["finding_type"] in ("unknown_key_spend", "model_not_requested")} \
        == {"high"}


def test_the_spend_page_charts_billed_against_logged_and_lists_the_findings(materialized):
    settings, lake, truth, _ = materialized
    html = (Path(settings.reports) / "spend" / f"{truth['days'][-1]}.html").read_text()
    assert html.count("<svg") == 1 and "<script" not in html and "src=" not in html
    findings = lake.read("security_findings").to_pylist()
    assert findings and all(f["finding_id"] in html for f in findings)

