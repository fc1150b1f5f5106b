"""`sample-data --anomalies varied`: spend anomalies of several kinds, sizes, onsets, keys and
providers over a month or more, to measure how well `security_findings` detects them.

Each injected anomaly is listed in ground_truth.json (`spend_anomalies`) with the finding
type that must report it; `score` compares findings with that list: recall counts anomalies
found with their type on their day and account, precision counts findings explained by an
injected anomaly on the same day and account (or, for cost drift, model).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date

import duckdb

from audit_pipeline.sample.systems import OPENAI_PROJECT, SYSTEMS

MIN_VARIED_DAYS = 30
FIRST_ONSET = 10
"""Baseline rules need a week of history; onsets start after it."""


def plan(days: list[date], seed: int) -> list[dict]:
    """The anomalies to inject, deterministic for a seed: two leaked keys (OpenAI and
    Anthropic, different onsets and sizes), two models billed that nobody requested, two
    spend spikes of logged traffic (×4 and ×8), a night-time shift and a token-shape shift."""
    if len(days) < MIN_VARIED_DAYS:
        raise ValueError(f"--anomalies varied needs at least {MIN_VARIED_DAYS} days, got {len(days)}")
    rng = random.Random(seed)
    late = days[FIRST_ONSET:-1]
    keyed = [s for s in SYSTEMS if s.provider in ("openai", "anthropic", "aws_bedrock")]
    anomalies = []
    for provider, key, model in (("openai", "key_LeAk3dQm8Zr2Vt6N", "gpt-4o-mini-2024-07-18"),
                                 ("anthropic", "apikey_01LeakedXq7Rw9Tz2Kp4Mn8S", "claude-sonnet-4-5-20250929")):
        onset = rng.randrange(FIRST_ONSET, len(days) - 3)
        size = rng.choice([200_000, 900_000, 3_000_000])
        for day in days[onset:onset + rng.randrange(2, 6)]:
            anomalies.append({"kind": "leaked_key", "finding_type": "unknown_key_spend", "day": day,
                              "provider": provider, "api_key_id": key, "model": model, "tokens": size})
    for provider, model in (("openai", "o4-mini-2025-04-16"), ("anthropic", "claude-opus-4-1-20250805")):
        system = next(s for s in keyed if s.provider == provider)
        anomalies.append({"kind": "unrequested_model", "finding_type": "model_not_requested", "day": rng.choice(late),
                          "provider": provider, "api_key_id": rng.choice(system.api_keys), "model": model,
                          "tokens": rng.choice([150_000, 600_000])})
    used: set[tuple] = set()
    for kind, finding_type, factor in (("spike", "spend_spike", 4), ("spike", "spend_spike", 8),
                                       ("off_hours", "off_hours_shift", None),
                                       ("token_shape", "tokens_per_request_shift", 6)):
        while True:
            system, day = rng.choice(keyed), rng.choice(late)
            key = rng.choice(system.api_keys)
            if (key, day) not in used:
                used.add((key, day))
                break
        anomalies.append({"kind": kind, "finding_type": finding_type, "day": day, "provider": system.provider,
                          "api_key_id": key, "ai_system": system.name, "factor": factor})
    return anomalies


def apply_to_calls(con: duckdb.DuckDBPyConnection, anomalies: list[dict]) -> None:
    """Change the logged traffic for spikes (more calls), night shifts (calls moved to 01-05
    UTC) and token shapes (inputs × factor); billing follows, as it is built from the calls."""
    for a in anomalies:
        where = {"day": a["day"], "key": a.get("api_key_id")}
        if a["kind"] == "spike":
            con.sql(f"""INSERT INTO calls SELECT c.* REPLACE (
                            'evt_' || substr(md5(event_id || '/spike/' || k), 1, 24) AS event_id,
                            response_id || 'x' || k AS response_id, request_id || 'x' || k AS request_id)
                        FROM calls c, range(1, {int(a['factor'])}) r(k)
                        WHERE day = $day AND api_key_id = $key""", params=where)
        elif a["kind"] == "off_hours":
            con.sql("UPDATE calls SET ts = day::TIMESTAMP + INTERVAL 1 HOUR + to_microseconds(CAST("
                    "hash(event_id) % 14400000000 AS BIGINT)) WHERE day = $day AND api_key_id = $key", params=where)
        elif a["kind"] == "token_shape":
            con.sql(f"UPDATE calls SET input_tokens = input_tokens * {int(a['factor'])}, "
                    f"cached_input_tokens = cached_input_tokens * {int(a['factor'])}, "
                    f"cache_write_tokens = cache_write_tokens * {int(a['factor'])} "
                    "WHERE day = $day AND api_key_id = $key", params=where)


def billing_rows(anomalies: list[dict]) -> list[dict]:
    """Billed usage no application logged: leaked keys and models nobody requested."""
    rows = []
    for a in anomalies:
        if a["kind"] in ("leaked_key", "unrequested_model"):
            rows.append({"day": a["day"], "provider": a["provider"], "api_key_id": a["api_key_id"],
                         "project_id": OPENAI_PROJECT if a["provider"] == "openai" else None, "workspace_id": None,
                         "model": a["model"], "uncached_input": a["tokens"] * 7 // 10, "cache_read": 0,
                         "cache_write": 0, "output": a["tokens"] * 3 // 10, "requests": max(a["tokens"] // 2000, 1)})
    return rows


@dataclass(frozen=True)
class Score:
    precision: float
    recall: float
    findings: int
    anomalies: int
    missed: list[dict]
    unexplained: list[dict]


def expected_findings(truth: dict) -> list[dict]:
    """Every spend anomaly of a ground truth (the fixed ones and the varied ones) as the
    finding that must report it: finding_type, day, provider, api_key_id (or model)."""
    anomalies = truth["anomalies"]
    expected = [{"finding_type": "unknown_key_spend", "day": day, "provider": "openai",
                 "api_key_id": anomalies["key_with_spend_but_no_logs"]["api_key_id"]}
                for day in anomalies["key_with_spend_but_no_logs"]["days"]]
    unrequested = anomalies["model_billed_never_requested"]
    expected.append({"finding_type": "model_not_requested", "day": unrequested["day"], "provider": "openai",
                     "api_key_id": unrequested["api_key_id"]})
    missing = anomalies["day_without_logs"]
    expected += [{"finding_type": "spend_without_logs", "day": missing["day"], "provider": s.provider,
                  "api_key_id": key} for s in SYSTEMS if s.name == missing["ai_system"] for key in s.api_keys]
    mismatch = anomalies["price_mismatch"]
    expected.append({"finding_type": "cost_drift", "day": mismatch["day"], "provider": mismatch["provider"],
                     "model": mismatch["model"]})
    expected += [{k: a[k] for k in ("finding_type", "day", "provider", "api_key_id")}
                 for a in anomalies.get("spend_anomalies", [])]
    return expected


def score(findings: list[dict], truth: dict) -> Score:
    """Recall: anomalies reported with their finding type on their day and account (model for
    cost drift). Precision: findings on a day and account (or model) of an injected anomaly."""
    expected = expected_findings(truth)

    def place(item: dict) -> tuple:
        return (str(item["day"]), item["provider"], item.get("model") if item["finding_type"] == "cost_drift"
                else item.get("api_key_id"))

    found = {(f["finding_type"], *place({**f, "day": f["usage_date"]})) for f in findings}
    missed = [e for e in expected if (e["finding_type"], *place(e)) not in found]
    places = {place(e) for e in expected}
    unexplained = [f for f in findings if place({**f, "day": f["usage_date"]}) not in places]
    return Score(precision=(len(findings) - len(unexplained)) / len(findings) if findings else 1.0,
                 recall=(len(expected) - len(missed)) / len(expected), findings=len(findings),
                 anomalies=len(expected), missed=missed, unexplained=unexplained)
