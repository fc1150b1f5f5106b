"""The dated price catalog: user prices replace or follow shipped ones without overlap, and
a price change re-prices lineage and the reconciliation in one re-materialization."""

from datetime import date
from decimal import Decimal
from pathlib import Path

import yaml

from audit_pipeline.policy import parse_policy
from audit_pipeline.pricing import load_prices, price_catalog
from audit_pipeline.runner import materialize_range
from audit_pipeline.storage import lake_for

SHIPPED_POLICY = Path(__file__).parent.parent / "audit.yaml"
MINI = ("openai", "gpt-4o-mini-2024-07-18", "output")
SYSTEM = {"id": "a", "purpose": "p", "risk_class": "minimal", "role": "deployer"}


def _prices(policy_prices: list[dict]) -> dict[tuple, list[dict]]:
    catalog = price_catalog(parse_policy({"systems": [SYSTEM], "prices": policy_prices})).to_pylist()
    by_key: dict[tuple, list[dict]] = {}
    for row in catalog:
        by_key.setdefault((row["provider"], row["model"], row["token_type"]), []).append(row)
    return by_key


def test_a_later_user_price_ends_the_shipped_one_where_it_starts():
    [shipped] = [r for r in load_prices().to_pylist() if (r["provider"], r["model"], r["token_type"]) == MINI]
    rows = _prices([{"provider": "openai", "model": MINI[1], "token_type": "output", "usd_per_million": "0.72",
                     "effective_from": "2026-12-01", "source": "price change notice"}])[MINI]
    assert [(r["effective_from"], r["effective_to"], r["usd_per_million"]) for r in rows] == [
        (shipped["effective_from"], date(2026, 12, 1), shipped["usd_per_million"]),
        (date(2026, 12, 1), None, Decimal("0.72"))]
    assert rows[1]["price_id"].startswith("user-") and rows[1]["source"] == "price change notice"


def test_a_user_price_with_the_same_start_replaces_the_shipped_one():
    [shipped] = [r for r in load_prices().to_pylist() if (r["provider"], r["model"], r["token_type"]) == MINI]
    rows = _prices([{"provider": "openai", "model": MINI[1], "token_type": "output", "usd_per_million": 0.5,
                     "effective_from": shipped["effective_from"].isoformat()}])[MINI]
    assert [(r["usd_per_million"], r["effective_to"]) for r in rows] == [(Decimal("0.5"), None)]


def test_changing_a_price_reprices_lineage_and_reconciliation_in_one_run(sample_landing, settings_for, tmp_path,
                                                                         monkeypatch):
    landing, truth = sample_landing
    days = [date.fromisoformat(d) for d in truth["days"]]
    config = tmp_path / "audit.yaml"
    config.write_text(SHIPPED_POLICY.read_text())
    settings = settings_for(landing, config=config)
    monkeypatch.setenv("DAGSTER_HOME", settings.dagster_home)
    lake = lake_for(settings)
    assert materialize_range(settings, days[0], days[-1]).success

    def mini_output(table: str, cost: str) -> list[tuple]:
        where = f"provider = 'openai' AND model = '{MINI[1]}' AND token_type = 'output'"
        return sorted((r["usage_date"], r["api_key_id"], r[cost], r["status"]) for r in
                      lake.read(table, where=where).to_pylist())

    before = mini_output("spend_reconciliation", "computed_cost_usd")
    assert before and {s for *_, s in before} <= {"match", "cost_mismatch"}

    document = yaml.safe_load(config.read_text())
    document["prices"] = [{"provider": "openai", "model": MINI[1], "token_type": "output",
                           "usd_per_million": "1.20", "effective_from": days[0].isoformat(),
                           "source": "test: doubled"}]
    config.write_text(yaml.safe_dump(document))
    assert materialize_range(settings, days[0], days[-1]).success

    after = mini_output("spend_reconciliation", "computed_cost_usd")
    assert [(d, k, c * 2) for d, k, c, _ in before] == [(d, k, c) for d, k, c, _ in after]
    assert {s for *_, s in after} == {"cost_mismatch"}  # billed at the shipped price, computed at double
    lineage = lake.read("output_lineage", where="provider = 'openai' AND response_model = "
                        f"'{MINI[1]}'", columns=["price_id"]).column("price_id").to_pylist()
    assert lineage and all(f"user-openai-{MINI[1]}-output-{days[0]}" in p for p in lineage)
