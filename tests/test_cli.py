"""The audit-pipeline command: exit codes, messages, and a demo that can be re-run."""

from pathlib import Path

import pytest

from audit_pipeline.cli import main
from audit_pipeline.lake import Lake
from audit_pipeline.schemas import TABLES


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("AUDIT_LANDING", str(tmp_path / "landing"))
    monkeypatch.setenv("AUDIT_LAKE", str(tmp_path / "lake"))
    monkeypatch.setenv("AUDIT_REPORTS", str(tmp_path / "reports"))
    monkeypatch.setenv("AUDIT_EXPORTS", str(tmp_path / "exports"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.delenv("AUDIT_SIGNING_KEY", raising=False)
    return tmp_path


def _row_counts(lake_root) -> dict[str, int]:
    lake = Lake(str(lake_root))
    return {name: lake.read(name, columns=[TABLES[name].names[0]]).num_rows for name in TABLES}


@pytest.mark.slow
def test_demo_builds_every_table_and_running_it_again_duplicates_nothing(env, capsys):
    assert main(["demo", "--days", "2"]) == 0
    out = capsys.readouterr().out
    assert "succeeded" in out and "Lineage coverage" in out and "make ui" in out
    html = [line.split()[-1] for line in out.splitlines() if line.strip().endswith(".html")]
    assert len(html) == 6 and all(Path(p).is_file() for p in html)  # five systems' retention reports, the spend page
    assert sum("/spend/" in p for p in html) == 1
    assert "Retention reports for" in out and "would delete (dry run)" in out
    assert "Spend reconciliation" in out and "billed_not_logged" in out
    # It ends with an auditor export, signed with a development key, and its verification.
    assert "signing with the demo's development key" in out
    [export] = [p for p in (env / "exports").iterdir()]
    assert f"{export}: intact" in out and (export / "manifest.sig").is_file()
    first = _row_counts(env / "lake")
    first.pop("erasure_log")  # a ledger: each enforcement run, even a dry one, adds its entries
    assert all(first[t] > 0 for t in ("llm_calls", "output_lineage", "billing_usage", "prompt_versions"))
    assert main(["demo", "--days", "2"]) == 0
    out = capsys.readouterr().out
    assert "reusing it" in out and f"{env / 'exports'}" in out and ": intact" in out
    again = _row_counts(env / "lake")
    assert again.pop("erasure_log") == 2 * sum(1 for line in out.splitlines() if "| delete |" in line)
    assert again == first


def test_a_report_as_of_a_malformed_moment_is_bad_input(env, capsys):
    assert main(["report", "--as-of", "last tuesday"]) == 2
    assert "as_of must be YYYY-MM-DD or an ISO time" in capsys.readouterr().err
    assert main(["report", "--as-of", "2999-01-01T00:00:00Z"]) == 2
    assert "is in the future" in capsys.readouterr().err


def test_trace_prints_the_lineage_of_one_output(local_pipeline, monkeypatch, capsys):
    for name, value in local_pipeline.environment.items():
        monkeypatch.setenv(name, value)
    row = local_pipeline.lake.read("output_lineage", where="resolution = 'explicit'").to_pylist()[0]
    assert main(["trace", row["response_id"]]) == 0
    out = capsys.readouterr().out
    assert row["event_id"] in out and row["prompt_version"] in out and "commit_message" in out


def test_trace_of_an_unknown_output_exits_1(env, capsys):
    assert main(["trace", "evt_does_not_exist"]) == 1
    assert "evt_does_not_exist" in capsys.readouterr().err


def test_a_range_that_ends_before_it_starts_is_bad_input(env, capsys):
    assert main(["run", "--from", "2026-11-20", "--to", "2026-11-19"]) == 2
    assert "before --from" in capsys.readouterr().err


def test_a_malformed_date_is_a_usage_error(env):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--from", "2026-13-01"])
    assert exit_info.value.code == 2


def test_sample_data_refuses_to_overwrite_an_existing_sample(env, capsys):
    out = env / "sample"
    assert main(["sample-data", "--out", str(out), "--days", "1", "--calls-per-day", "50"]) == 0
    assert "calls/s" in capsys.readouterr().out
    assert main(["sample-data", "--out", str(out), "--days", "1"]) == 2
    assert "already there" in capsys.readouterr().err


@pytest.mark.slow
def test_the_s3_demo_uploads_a_local_sample_that_make_demo_left(tmp_path, monkeypatch, capsys, s3_server):
    local = tmp_path / "data" / "landing"
    assert main(["sample-data", "--out", str(local), "--days", "2"]) == 0
    bucket = f"cli-{tmp_path.name.lower().replace('_', '-')[-40:]}"
    s3_server.create_bucket(bucket)
    s3_server.create_bucket(f"{bucket}-x", object_lock=True)
    for name, value in {**s3_server.env(), "AUDIT_LANDING": f"s3://{bucket}/landing",
                        "AUDIT_LAKE": f"s3://{bucket}/lake", "AUDIT_PROMPT_REPO": str(local / "prompt-repo"),
                        "AUDIT_EXPORTS": f"s3://{bucket}-x/exports", "AUDIT_SIGNING_KEY": "s3 demo test key",
                        "AUDIT_REPORTS": str(tmp_path / "reports"), "DAGSTER_HOME": str(tmp_path / "dagster_home")}.items():
        monkeypatch.setenv(name, value)
    capsys.readouterr()
    assert main(["demo", "--days", "2"]) == 0
    out = capsys.readouterr().out
    assert "Reusing the local sample" in out and "Uploading the sample landing zone" in out
    assert "locked (S3 Object Lock, COMPLIANCE)" in out and f"s3://{bucket}-x/exports/" in out and ": intact" in out


def test_a_day_before_the_first_partition_is_refused_naming_the_setting_that_admits_it(env, capsys):
    assert main(["run", "--from", "2024-11-01", "--to", "2024-11-01"]) == 2
    err = capsys.readouterr().err
    assert "--from 2024-11-01 is before AUDIT_START_DATE" in err and "AUDIT_START_DATE=2024-11-01" in err
    assert main(["report", "--date", "2024-11-01"]) == 2
    assert "run with AUDIT_START_DATE=2024-11-01 (or earlier)" in capsys.readouterr().err
