"""Security findings from spend: what a leaked key or scripted abuse looks like in the bills.

Each finding has a stable id (a hash of its type, day, provider, account and model), so
re-running a day replaces its findings instead of adding duplicates, and an acknowledgement
in audit.yaml (`acknowledged_findings`) keeps applying to the same finding.

Rules, per day (baselines use the 28 days before it):
- `unknown_key_spend` (high): billed tokens on an account no application ever logged: a
  possible leaked key.
- `model_not_requested` (high): a known account billed for a model it never logged.
- `spend_without_logs` (medium): a known account billed for a model it does log, but that
  day's logs are missing or short of the bill beyond tolerance (an outage, or misuse).
- `unattributed_spend` (medium): billed beyond the logs on a day whose bill names no key or
  project (an ungrouped pull): spend is missing from the logs, but no key can be named.
- `cost_drift` (medium): the bill prices a token type differently from the catalog
  (mispriced cache tokens, a stale price list).
- `spend_spike` (high above 5× the baseline, else medium): billed tokens far above the
  account's trailing median (median + 6 × 1.4826 × MAD, and at least twice the median).
- `off_hours_shift` (medium): the share of logged calls outside business hours jumps by
  30 points or more over its trailing median, and by 4 binomial standard deviations of the
  day's volume (a quiet day's share is noisy).
- `tokens_per_request_shift` (medium): logged tokens per call move more than half the
  trailing median and 6 robust deviations: scripted traffic has its own shape.
The three baseline rules need 7 days of history (cold start: they stay silent before).
"""

from __future__ import annotations

import hashlib
import json
import statistics
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pyarrow as pa

from audit_pipeline import engine
from audit_pipeline.lake import Lake, date_range_predicate
from audit_pipeline.policy import Policy
from audit_pipeline.schemas import SECURITY_FINDINGS
from audit_pipeline.spend.reconcile import UNATTRIBUTED

BASELINE_DAYS = 28
MIN_HISTORY_DAYS = 7
ROBUST_K = 6.0
MAD_SCALE = 1.4826
"""MAD × 1.4826 estimates the standard deviation of normal data."""
HIGH, MEDIUM = "high", "medium"
MIN_CALLS = 30
"""Days with fewer logged calls on an account are left out of the off-hours and tokens-per-call
rules: their share and average are noise."""

CALL_GROUPS_SQL = """
CREATE TEMP TABLE call_groups AS
SELECT event_date AS day, provider,
       CASE WHEN provider IN (SELECT unnest($keyless)) THEN project_id ELSE api_key_id END AS account,
       coalesce(response_model, request_model) AS model,
       count(*) AS calls,
       count(*) FILTER (WHERE hour("timestamp") < $open OR hour("timestamp") >= $close) AS off_hours_calls,
       sum(coalesce(input_tokens, 0) + coalesce(output_tokens, 0))::BIGINT AS tokens
FROM calls GROUP BY ALL
"""
"""Every logged call up to the last day, reduced once to (day, account, model) groups: the
baseline window's daily figures and the models each account ever logged both come from it."""


@dataclass(frozen=True)
class _Finding:
    day: date
    provider: str
    account: str | None
    model: str | None
    finding_type: str
    severity: str
    detail: str
    evidence: dict

    @property
    def finding_id(self) -> str:
        key = "|".join(str(v) for v in (self.finding_type, self.day, self.provider, self.account, self.model))
        return hashlib.sha256(key.encode()).hexdigest()[:20]


def _robust(history: list[float]) -> tuple[float, float] | None:
    """Median and scaled MAD of the history, or None when it is too short (cold start)."""
    if len(history) < MIN_HISTORY_DAYS:
        return None
    median = statistics.median(history)
    return median, MAD_SCALE * statistics.median(abs(x - median) for x in history)


def detect(lake: Lake, policy: Policy, first: date, last: date, built_at: datetime) -> pa.Table:
    """Findings for the days [first, last], typed as SECURITY_FINDINGS."""
    since = first - timedelta(days=BASELINE_DAYS)
    reconciliation = lake.read("spend_reconciliation", where=date_range_predicate("usage_date", since, last)
                               ).to_pylist()
    keyless = sorted({r["provider"] for r in reconciliation if r["account_kind"] == "project"})
    open_hour, close_hour = policy.reconciliation.business_hours_utc
    con = engine.connect()
    try:
        con.register("calls", lake.scan("llm_calls", where=f"event_date <= '{last.isoformat()}'", columns=[
            "event_date", "timestamp", "provider", "api_key_id", "project_id", "request_model", "response_model",
            "input_tokens", "output_tokens"]))
        con.sql(CALL_GROUPS_SQL, params={"keyless": keyless or [""], "open": open_hour, "close": close_hour})
        daily_calls = con.sql(
            "SELECT day, provider, account, sum(calls)::BIGINT AS calls, sum(off_hours_calls)::BIGINT AS off_hours_calls, "
            "sum(tokens)::BIGINT AS tokens FROM call_groups WHERE day >= $since GROUP BY ALL",
            params={"since": since}).to_arrow_table().to_pylist()
        # (provider, account) → the models its logs ever named, for every account logged up to `last`
        known = {(provider, account): set(models) for provider, account, models in con.sql(
            "SELECT provider, account, list(DISTINCT model) FROM call_groups GROUP BY ALL").fetchall()}
    finally:
        con.close()
    findings = _from_reconciliation(reconciliation, known, first, last)
    findings += baseline_findings(reconciliation, daily_calls, first, last)
    return _table(findings, policy, built_at)


def _from_reconciliation(rows: list[dict], known: dict[tuple, set[str]], first: date, last: date) -> list[_Finding]:
    unlogged: dict[tuple, dict] = defaultdict(lambda: {"billed_tokens": 0, "logged_tokens": 0, "token_types": set()})
    drift: dict[tuple, dict] = defaultdict(lambda: {"billed_cost": 0, "computed_cost": 0, "token_types": set()})
    for r in rows:
        if not first <= r["usage_date"] <= last:
            continue
        key = (r["usage_date"], r["provider"], r["api_key_id"], r["model"])
        if r["status"] == "billed_not_logged":
            unlogged[key]["billed_tokens"] += r["billed_tokens"]
            unlogged[key]["logged_tokens"] += r["logged_tokens"]
            unlogged[key]["token_types"].add(r["token_type"])
        elif r["status"] == "cost_mismatch":
            drift[key]["billed_cost"] += r["billed_cost"] or 0
            drift[key]["computed_cost"] += r["computed_cost"] or 0
            drift[key]["token_types"].add(r["token_type"])
    findings = []
    for (day, provider, account, model), figures in sorted(unlogged.items(), key=lambda kv: str(kv[0])):
        evidence = {**figures, "token_types": sorted(figures["token_types"])}
        models = known.get((provider, account))
        if account == UNATTRIBUTED:
            findings.append(_Finding(day, provider, account, model, "unattributed_spend", MEDIUM,
                                     f"{provider} billed {figures['billed_tokens']:,} tokens that its bill does not "
                                     f"attribute to a key or project, against {figures['logged_tokens']:,} logged "
                                     "for the day: pull the usage grouped by api_key_id (and model) to tell which "
                                     "key spent them.", evidence))
        elif models is None:
            findings.append(_Finding(day, provider, account, model, "unknown_key_spend", HIGH,
                                     f"{provider} billed {figures['billed_tokens']:,} tokens of {model} on {account}, "
                                     "which no application has ever logged: a possible leaked key. Revoke or "
                                     "rotate it unless its owner can account for the spend.", evidence))
        elif model not in models:
            findings.append(_Finding(day, provider, account, model, "model_not_requested", HIGH,
                                     f"{provider} billed {figures['billed_tokens']:,} tokens of {model} on {account}, "
                                     "a key the applications use, but no application ever requested that model: "
                                     "someone else is using the key.", evidence))
        else:
            findings.append(_Finding(day, provider, account, model, "spend_without_logs", MEDIUM,
                                     f"{provider} billed {figures['billed_tokens']:,} tokens of {model} on {account} "
                                     f"but the logs show {figures['logged_tokens']:,}: logs are missing for that "
                                     "day (an outage or a bypass).", evidence))
    for (day, provider, account, model), figures in sorted(drift.items(), key=lambda kv: str(kv[0])):
        evidence = {"billed_cost": str(figures["billed_cost"]), "computed_cost": str(figures["computed_cost"]),
                    "token_types": sorted(figures["token_types"])}
        findings.append(_Finding(day, provider, account, model, "cost_drift", MEDIUM,
                                 f"{provider} billed ${figures['billed_cost']:.4f} for {model} "
                                 f"({', '.join(evidence['token_types'])}) where the price catalog gives "
                                 f"${figures['computed_cost']:.4f}: the price list is stale or a token type "
                                 "is priced differently.", evidence))
    return findings


def _observations(values: dict[tuple, dict[date, float]], days: list[date]) -> Iterator[tuple]:
    """(provider, account, day, value, history of the previous BASELINE_DAYS) for every
    account and day of `days` that has a value."""
    for (provider, account), by_day in sorted(values.items(), key=lambda kv: str(kv[0])):
        for day in days:
            if day in by_day:
                history = [by_day[d] for d in (day - timedelta(days=n) for n in range(1, BASELINE_DAYS + 1))
                           if d in by_day]
                yield provider, account, day, by_day[day], history


def baseline_findings(reconciliation: list[dict], daily_calls: list[dict], first: date, last: date) -> list[_Finding]:
    billed: dict[tuple, dict[date, float]] = defaultdict(dict)
    for r in reconciliation:
        series = billed[r["provider"], r["api_key_id"]]
        series[r["usage_date"]] = series.get(r["usage_date"], 0) + r["billed_tokens"]
    off_hours: dict[tuple, dict[date, float]] = defaultdict(dict)
    volume: dict[tuple, int] = {}
    per_call: dict[tuple, dict[date, float]] = defaultdict(dict)
    for r in daily_calls:
        if r["calls"] >= MIN_CALLS:  # a share or an average of a handful of calls is noise
            off_hours[r["provider"], r["account"]][r["day"]] = r["off_hours_calls"] / r["calls"]
            volume[r["provider"], r["account"], r["day"]] = r["calls"]
            per_call[r["provider"], r["account"]][r["day"]] = r["tokens"] / r["calls"]
    findings = []
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    for provider, account, day, value, history in _observations(billed, days):
        if (stats := _robust(history)) is None:
            continue
        median, spread = stats
        if value > 2 * median and value > median + ROBUST_K * spread:
            ratio = value / median if median else float("inf")
            findings.append(_Finding(day, provider, account, None, "spend_spike", HIGH if ratio > 5 else MEDIUM,
                                     f"{account} billed {value:,.0f} tokens on {day}, {ratio:.1f}× its median of "
                                     f"{median:,.0f} over the previous {len(history)} days.",
                                     {"billed_tokens": value, "median": median, "robust_sd": spread,
                                      "history_days": len(history)}))
    for provider, account, day, value, history in _observations(off_hours, days):
        if len(history) < MIN_HISTORY_DAYS:
            continue
        median = statistics.median(history)
        # a 30-point jump, and one a day's volume cannot produce by chance (binomial z >= 4)
        chance = (max(median * (1 - median), 0.01) / volume[provider, account, day]) ** 0.5
        if value - median >= 0.30 and (value - median) / chance >= 4:
            findings.append(_Finding(day, provider, account, None, "off_hours_shift", MEDIUM,
                                     f"{value:.0%} of {account}'s logged calls on {day} were outside business "
                                     f"hours, against a median of {median:.0%}: traffic that no one is at work for.",
                                     {"off_hours_share": value, "median": median}))
    for provider, account, day, value, history in _observations(per_call, days):
        if (stats := _robust(history)) is None:
            continue
        median, spread = stats
        if abs(value - median) > max(0.5 * median, ROBUST_K * spread):
            findings.append(_Finding(day, provider, account, None, "tokens_per_request_shift", MEDIUM,
                                     f"{account}'s calls on {day} averaged {value:,.0f} tokens against a median "
                                     f"of {median:,.0f}: a different kind of traffic (scripted use?).",
                                     {"tokens_per_call": value, "median": median, "robust_sd": spread}))
    return findings


def _table(findings: list[_Finding], policy: Policy, built_at: datetime) -> pa.Table:
    acknowledged = {a.finding_id: a for a in policy.acknowledged_findings}
    rows = []
    for f in findings:
        ack = acknowledged.get(f.finding_id)
        rows.append({"finding_id": f.finding_id, "usage_date": f.day, "provider": f.provider,
                     "api_key_id": f.account, "model": f.model, "finding_type": f.finding_type,
                     "severity": f.severity, "detail": f.detail,
                     "evidence": json.dumps(f.evidence, sort_keys=True, default=str),
                     "acknowledged": ack is not None, "acknowledged_by": ack.by if ack else None,
                     "acknowledgement": ack.reason if ack else None, "built_at": built_at})
    rows.sort(key=lambda r: (r["usage_date"], r["severity"] != HIGH, r["finding_type"], r["finding_id"]))
    return pa.Table.from_pylist(rows, schema=SECURITY_FINDINGS)
