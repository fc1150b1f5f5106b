"""audit.yaml: defaults from the AI Act, every problem named by its key, ceilings below floors refused."""

import hashlib
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import yaml

from audit_pipeline.cli import main
from audit_pipeline.policy import PolicyError, load_policy, parse_policy
from audit_pipeline.retention.catalog import model_catalog, shipped_catalog
from audit_pipeline.sample.systems import SYSTEMS

SHIPPED = Path(__file__).parent.parent / "audit.yaml"


def _system(**overrides) -> dict:
    return {"id": "cv-screener", "purpose": "ranks applicants", "risk_class": "high",
            "annex_iii_point": "4(a)", "role": "deployer", **overrides}


def _problems(document) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        parse_policy(document)
    return caught.value.problems


def test_the_shipped_policy_is_valid_and_covers_every_sample_system():
    policy = load_policy(SHIPPED)
    assert {s.id for s in policy.systems} == {s.name for s in SYSTEMS}
    screener = policy.system("cv-screener")
    assert (screener.risk_class, screener.annex_iii_point, screener.role) == ("high", "4(a)", "deployer")
    assert screener.log_retention.floor_months == 6 and screener.log_retention.ceiling_months == 24
    [hold] = policy.legal_holds
    assert (hold.system, hold.first_day, hold.last_day) == ("cv-screener", date(2026, 11, 1), date(2026, 11, 15))


def test_defaults_are_the_ai_act_minimums():
    policy = parse_policy({"systems": [_system()]})
    retention = policy.systems[0].log_retention
    assert (retention.floor_months, retention.ceiling_months) == (6, None)
    assert policy.systems[0].documentation_retention_years == 10
    assert policy.legal_holds == ()


def test_a_ceiling_below_the_floor_is_refused_with_its_key():
    problems = _problems({"systems": [_system(log_retention={"floor_months": 12, "ceiling_months": 9,
                                                             "ceiling_purpose": "x"})]})
    assert problems == ["systems[0].log_retention.ceiling_months: 9 is below the floor of 12 months: "
                        "rows inside the floor cannot be deleted"]


def test_every_problem_is_reported_at_once_each_naming_its_key():
    problems = _problems({"systems": [
        _system(risk_class="extreme", role=None),
        _system(id="other", annex_iii_point=None, log_retention={"floor_months": 3, "ceiling_months": 12},
                colour="red"),
        _system(),
    ], "legal_holds": [{"id": "LH-1", "trigger": "t", "system": "nobody", "from": "2026-11-10",
                        "to": "2026-11-01", "placed_by": "dpo", "placed_at": "soon"}]})
    keys = [p.split(":")[0] for p in problems]
    assert keys == ["systems[0].risk_class", "systems[0].role", "systems[1].colour",
                    "systems[1].annex_iii_point", "systems[1].log_retention.floor_months",
                    "systems[1].log_retention.ceiling_purpose", "systems", "legal_holds[0].system",
                    "legal_holds[0].to", "legal_holds[0].placed_at"]
    assert "id 'cv-screener' appears more than once" in problems[6]


def test_a_hold_is_active_from_placement_until_release():
    hold = parse_policy({"systems": [_system()], "legal_holds": [
        {"id": "LH-1", "trigger": "Art. 73 incident", "system": "cv-screener", "from": date(2026, 11, 1),
         "to": date(2026, 11, 3), "placed_by": "dpo", "placed_at": "2026-11-05T00:00:00Z",
         "released_at": "2026-12-01T00:00:00Z"}]}).legal_holds[0]
    assert not hold.active_on(datetime(2026, 11, 4, tzinfo=UTC))
    assert hold.active_on(datetime(2026, 11, 20, tzinfo=UTC))
    assert not hold.active_on(datetime(2026, 12, 1, tzinfo=UTC))


def test_the_policy_command_prints_the_policy_or_names_the_broken_keys(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AUDIT_CONFIG", str(SHIPPED))
    assert main(["policy"]) == 0
    assert "| cv-screener | high (Annex III 4(a)) | deployer | 6 | 24 | 10 |" in capsys.readouterr().out
    broken = tmp_path / "audit.yaml"
    broken.write_text(yaml.safe_dump({"systems": [_system(log_retention={"ceiling_months": 2,
                                                                         "ceiling_purpose": "x"})]}))
    monkeypatch.setenv("AUDIT_CONFIG", str(broken))
    assert main(["policy"]) == 2
    assert "systems[0].log_retention.ceiling_months: 2 is below the floor of 6 months" in capsys.readouterr().err
    monkeypatch.setenv("AUDIT_CONFIG", str(tmp_path / "missing.yaml"))
    assert main(["policy"]) == 2
    assert "file not found" in capsys.readouterr().err


def test_thresholds_and_catalog_entries_are_validated_with_their_keys():
    problems = _problems({"systems": [_system()],
                          "thresholds": {"coverage_target_pct": 140, "coverage_floor_pct": 99.5, "colour": 1},
                          "model_catalog": [{"provider": "openai", "snapshot": "gpt-x",
                                             "deprecated_on": "2026-05-01", "retires_on": "2026-01-01"},
                                            {"snapshot": "no-provider"}]})
    assert set(problems) == {
        "thresholds.colour: unknown key (expected one of coverage_floor_pct, coverage_target_pct, "
        "deletion_grace_days, report_period_days, retirement_warning_days, traceability_target_pct)",
        "thresholds.coverage_target_pct: expected a percentage from 0 to 100, got 140",
        "thresholds.coverage_floor_pct: is above coverage_target_pct",
        "model_catalog[0].retires_on: 2026-01-01 is before deprecated_on (2026-05-01)",
        "model_catalog[1].provider: required",
    }


def test_a_catalog_entry_in_the_policy_replaces_the_shipped_one():
    policy = parse_policy({"systems": [_system()], "model_catalog": [
        {"provider": "openai", "snapshot": "gpt-4o-2024-08-06", "retires_on": "2026-12-01",
         "replacement": "gpt-4.1", "source": "our account manager"},
        {"provider": "openai", "snapshot": "ft:gpt-4o-mini:acme::abc", "retires_on": "2027-03-01"}]})
    catalog = {(r["provider"], r["snapshot"]): r for r in model_catalog(policy).to_pylist()}
    assert catalog["openai", "gpt-4o-2024-08-06"]["retires_on"] == date(2026, 12, 1)
    assert catalog["openai", "gpt-4o-2024-08-06"]["origin"] == "audit.yaml"
    assert catalog["openai", "ft:gpt-4o-mini:acme::abc"]["origin"] == "audit.yaml"
    shipped = {(r["provider"], r["snapshot"]) for r in shipped_catalog().to_pylist()}
    assert len(catalog) == len(shipped) + 1
    assert all(r["source"] for r in shipped_catalog().to_pylist())  # every shipped row names its source


@pytest.mark.parametrize("command", [["run", "--from", "2026-11-01"], ["report", "--date", "2026-11-01"],
                                     ["enforce"], ["export", "--from", "2026-11-01", "--to", "2026-11-02"],
                                     ["demo", "--days", "1"], ["policy"]])
def test_every_command_that_applies_the_policy_exits_2_naming_the_file_key_and_value(
        command, tmp_path, monkeypatch, capsys):
    broken = tmp_path / "audit.yaml"
    broken.write_text(SHIPPED.read_text().replace("from: 2026-11-01", "from: 2026-13-01"))
    monkeypatch.setenv("AUDIT_CONFIG", str(broken))
    monkeypatch.setenv("AUDIT_LANDING", str(tmp_path / "landing"))
    monkeypatch.setenv("AUDIT_LAKE", str(tmp_path / "lake"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    assert main(command) == 2
    err = capsys.readouterr().err
    assert f"{broken}: legal_holds[0].from: expected a date (YYYY-MM-DD), got '2026-13-01'" in err
    assert not (tmp_path / "lake").exists()  # nothing ran


def test_wrong_types_name_the_key_and_the_value_found():
    problems = _problems({"systems": [_system(documentation_retention_years=True,
                                              log_retention={"floor_months": "six"})],
                          "reconciliation": {"business_hours_utc": [19, 7], "cost_tolerance_usd": "-1"},
                          "prices": [{"provider": "openai", "model": "m", "token_type": "input",
                                      "usd_per_million": "1", "effective_from": "2026-01-01"}]})
    assert problems == [
        "systems[0].log_retention.floor_months: expected a whole number above 0, got 'six'",
        "systems[0].documentation_retention_years: expected a whole number above 0, got True",
        "reconciliation.cost_tolerance_usd: expected a decimal number of at least 0, got '-1'",
        "reconciliation.business_hours_utc: expected [first hour, end hour] with 0 <= first < end <= 24, "
        "got [19, 7]",
        "prices[0].token_type: 'input' is not one of uncached_input, cache_read, cache_write, output, cache_write_1h, "
        "web_search",
    ]


def test_the_loaded_policy_carries_the_sha256_of_the_bytes_it_was_read_from():
    assert load_policy(SHIPPED).sha256 == hashlib.sha256(SHIPPED.read_bytes()).hexdigest()


def test_prompt_collections_are_declared_with_their_shape_and_a_csv_needs_its_id_column():
    policy = parse_policy({"systems": [_system()], "prompt_collections": [
        {"path": "prompts/library.yaml", "format": "yaml", "text_field": "text"}]})
    [collection] = policy.prompt_collections
    assert (collection.spec().path, collection.spec().format, collection.spec().text_field) == (
        "prompts/library.yaml", "yaml", "text")
    assert _problems({"systems": [_system()], "prompt_collections": [
        {"path": "prompts/c.csv", "format": "csv"}, {"path": "p.toml", "format": "toml"}]}) == [
        "prompt_collections[0].id_field: a CSV collection needs id_field, the column naming each prompt",
        "prompt_collections[1].format: Input should be 'yaml', 'json', 'csv' or 'prompty', got 'toml'"]
