"""Secrets never land (issue 15): every kind of secret planted in every text field of every
source, plain and escaped, in accepted and rejected records, in file names and in the prompt
repository's history; then every asset, the reports, an export and the CLI run, and every
byte they leave is searched: Delta tables (every data file of every version, and the logs'
statistics), reports, the export (Parquet decompressed), Dagster's run and event storage and
compute logs, and what the commands printed. Nothing may be found."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from audit_pipeline.cli import main
from audit_pipeline.runner import materialize_range
from audit_pipeline.settings import load_settings

SECRETS = {
    "openai_project_key": "sk-proj-" + "Q7" * 24,
    "openai_admin_key": "sk-admin-" + "Zx9" * 14,
    "anthropic_key": "sk-ant-api03-" + "Ab3_" * 16,
    "aws_access_key_id": "AKIA" + "QWERTYUIOPASDF12",
    "aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLE12",
    "github_token": "ghp_" + "k2" * 18,
    "slack_token": "xoxb-2231234567-" + "sLaCk" * 5,
    "google_key": "AIza" + "G00gleKey" * 3 + "abcdefgh",
    "huggingface_token": "hf_" + "Hug" * 12,
    "stripe_key": "sk_live_" + "S7r1pe" * 4,
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhdWRpdG9yIn0.c2lnbmF0dXJlc2lnbmF0dXJl",
    "private_key": "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7",
    "url_password": "Pa55w0rdInUrl",
    "bearer_token": "bEaReRtOkEnVaLuE0123456789",
    "password_pair": "Hunter2Hunter2",
}
"""Kind → the secret part an investigator must never find."""


def _as_planted(kind: str, secret: str) -> str:
    """How each kind appears in the wild: PEM blocks, URLs, headers and pairs around it."""
    return {
        "aws_secret_access_key": f"aws_secret_access_key={secret}",
        "private_key": f"-----BEGIN PRIVATE KEY-----\n{secret}\n-----END PRIVATE KEY-----",
        "url_password": f"postgres://svc:{secret}@db.internal:5432/audit",
        "bearer_token": f"Authorization: Bearer {secret}",
        "password_pair": f"password={secret}",
    }.get(kind, secret)


def _escaped(text: str) -> str:
    """The JSON form a logger may write: every '-' and '_' as a \\u escape."""
    return text.replace("-", "\\u002d").replace("_", "\\u005f")


def _url_escaped(text: str) -> str:
    """The form a URL or a form body carries: '-' and '_' percent-encoded."""
    return text.replace("-", "%2D").replace("_", "%5F")


def _json_escaped(document: str, placeholder: str, text: str) -> str:
    """A JSON document with `placeholder` replaced by `text` written with \\u escapes."""
    return document.replace(placeholder, _escaped(text).replace("\n", "\\n"))


APP_FIELDS = ("route", "tenant_id", "user_ref", "app_version", "error_type", "finish_reason", "api_key_id",
              "project_id", "prompt_id", "response_id", "request_id", "unknown_field")


def _record(day: str, n: int, **fields) -> dict:
    return {"event_id": f"evt_secret_{n}", "timestamp": f"{day}T10:{n % 60:02d}:00Z",
            "ai_system": "support-assistant", "provider": "openai", "request_model": "gpt-4o-mini",
            "input_tokens": 10, "output_tokens": 5, **fields}


def _plant_app_logs(landing: Path, day: str) -> list[tuple[str, str]]:
    """Each kind in each field (accepted), as an unknown field's name, escaped, and in a
    rejected record; one file is named after a secret."""
    lines, planted, n = [], [], 0
    for kind, secret in SECRETS.items():
        for field in APP_FIELDS:
            n += 1
            lines.append(json.dumps(_record(day, n, **{field: _as_planted(kind, secret)})))
            planted.append((kind, f"app_logs.{field}"))
        n += 1
        lines.append(json.dumps(_record(day, n, **{_as_planted(kind, secret)[:80]: "x"})))
        planted.append((kind, "app_logs.unknown_field_name"))
        n += 1
        lines.append(json.dumps(_record(day, n, route="ESCAPE")).replace("ESCAPE", _escaped(_as_planted(kind, secret)
                                                                                             ).replace("\n", "\\n")))
        planted.append((kind, "app_logs.escaped"))
        n += 1
        lines.append(json.dumps(_record(day, n, timestamp="yesterday", tenant_id=_as_planted(kind, secret))))
        planted.append((kind, "app_logs.rejected_excerpt"))
    folder = landing / "logs/support-assistant" / day
    (folder / "planted.jsonl").write_text("\n".join(lines) + "\n")
    (folder / f"calls-{SECRETS['github_token']}.jsonl").write_text(json.dumps(_record(day, 9999)) + "\n")
    planted.append(("github_token", "landing_file_name"))
    return planted


def _plant_otlp(landing: Path, day: str) -> list[tuple[str, str]]:
    source = next((landing / "logs/otlp" / day).glob("*.jsonl"))
    document = json.loads(source.read_text().splitlines()[0])
    span = document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    planted, spans = [], []
    for n, (kind, secret) in enumerate(SECRETS.items()):
        copy = json.loads(json.dumps(span))
        copy["spanId"] = f"{n + 1:016X}"
        for attribute in copy["attributes"]:
            if attribute["key"] in ("gen_ai.response.id", "audit.api_key_id"):
                attribute["value"] = {"stringValue": _as_planted(kind, secret)}
            if attribute["key"] == "audit.event_id":
                attribute["value"] = {"stringValue": f"evt_otlp_secret_{n}"}
        copy["attributes"].append({"key": "http.request.header.authorization",
                                   "value": {"stringValue": _as_planted(kind, secret)}})
        copy["attributes"].append({"key": "gen_ai.conversation.id", "value": {"stringValue": f"ESCAPED-{n}"}})
        spans.append(copy)
        planted += [(kind, "otlp.gen_ai.response.id"), (kind, "otlp.audit.api_key_id"), (kind, "otlp.unknown_attribute"),
                    (kind, "otlp.escaped")]
    document["resourceSpans"][0]["scopeSpans"][0]["spans"] = spans
    text = json.dumps(document)
    for n, (kind, secret) in reversed(list(enumerate(SECRETS.items()))):  # ESCAPED-10 before ESCAPED-1
        text = _json_escaped(text, f"ESCAPED-{n}", _as_planted(kind, secret))
    (landing / "logs/otlp" / day / "planted.jsonl").write_text(text + "\n")
    return planted


def _plant_billing(landing: Path) -> list[tuple[str, str]]:
    planted = []
    kinds = list(SECRETS.items())
    for folder, field in (("openai/usage", "api_key_id"), ("openai/costs", "project_id"),
                          ("anthropic/usage", "workspace_id"), ("anthropic/cost", "description")):
        page_file = next((landing / "billing" / folder).rglob("page-001.json"))
        page = json.loads(page_file.read_text())
        results = [r for bucket in page["data"] for r in bucket["results"]]
        escaped_field = "model" if field != "description" else "workspace_id"
        for n, ((kind, secret), result) in enumerate(zip(kinds, results, strict=False)):
            result[field] = _as_planted(kind, secret)
            planted.append((kind, f"{folder}.{field}"))
            if n % 2:  # every other result carries it escaped in a second field, so the page still reconciles
                result[escaped_field] = f"ESCAPED-{n}"
                planted.append((kind, f"{folder}.escaped"))
        text = json.dumps(page)
        for n, (kind, secret) in reversed(list(enumerate(kinds))):  # ESCAPED-10 before ESCAPED-1
            text = _json_escaped(text, f"ESCAPED-{n}", _as_planted(kind, secret))
        page_file.write_text(text)
    focus = next((landing / "billing/focus").rglob("*.csv"))
    rows = focus.read_text().splitlines()
    header, first = rows[0], rows[1]
    extra = []
    for n, (kind, secret) in enumerate(kinds):
        tags = json.dumps({"owner": _as_planted(kind, secret), "team": "ESCAPED"})
        tags = _json_escaped(tags, "ESCAPED", _as_planted(kind, secret)).replace('"', '""')
        row = first.replace('"{""app"": ""policy-chat""}"', f'"{tags}"').replace("AI Prod", f"sub {n} {secret}")
        extra.append(row)
        planted += [(kind, "focus.Tags"), (kind, "focus.Tags.escaped"), (kind, "focus.SubAccountName")]
    (focus.parent / "part-00002.csv").write_text("\n".join([header, *extra]) + "\n")
    cur = next((landing / "billing/aws_cur").rglob("*.parquet"))
    table = pq.read_table(cur)
    principals = table["line_item_iam_principal"].to_pylist()
    for i, (kind, secret) in enumerate(kinds[: len(principals)]):
        principals[i] = f"arn:aws:iam::123456789012:user/{_as_planted(kind, secret)}"
        planted.append((kind, "aws_cur.line_item_iam_principal"))
    column = table.schema.get_field_index("line_item_iam_principal")
    pq.write_table(table.set_column(column, "line_item_iam_principal", pa.array(principals)), cur)
    return planted


def _plant_prompt_history(repo: Path) -> list[tuple[str, str]]:
    planted = []
    for n, (kind, secret) in enumerate(SECRETS.items()):
        (repo / "prompts" / f"planted-{n}.md").write_text(f"prompt text with {_as_planted(kind, secret)}\n")
        shown = _as_planted(kind, secret).replace("\n", " ")  # a name is one line
        env = {**os.environ, "GIT_AUTHOR_NAME": f"dev {shown}", "GIT_AUTHOR_EMAIL": "dev@example.com",
               "GIT_COMMITTER_NAME": f"ci {shown}", "GIT_COMMITTER_EMAIL": "ci@example.com",
               "GIT_AUTHOR_DATE": "2026-11-19T08:00:00Z", "GIT_COMMITTER_DATE": "2026-11-19T08:00:00Z",
               "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
        subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True, env=env)
        message = (f"rotate {_as_planted(kind, secret)}\n\nsee https://wiki.example.com/?q={_url_escaped(shown)}\n\n"
                   f"Approved-by: {shown}")
        subprocess.run(["git", "-C", str(repo), "commit", "-q", "--no-gpg-sign", "-m", message], check=True, env=env)
        planted += [(kind, "git.author_name"), (kind, "git.committer_name"), (kind, "git.message"),
                    (kind, "git.message.url_escaped"),
                    (kind, "git.approved_by"), (kind, "prompt_file")]
    return planted


def _strings_of_parquet(path: Path) -> str:
    table = pq.read_table(path)
    return "\n".join(str(v) for column in table.columns for v in column.to_pylist() if v is not None)


def _found(where: Path) -> list[str]:
    """Every planted secret (plain or escaped) found in any file below `where`."""
    needles = {kind: {secret, _escaped(secret), _url_escaped(secret)} for kind, secret in SECRETS.items()}
    found = []
    for path in sorted(p for p in where.rglob("*") if p.is_file()):
        texts = [path.read_bytes().decode("utf-8", "replace")]
        if path.suffix == ".parquet":
            texts.append(_strings_of_parquet(path))
        for kind, variants in needles.items():
            if any(v in text for v in variants for text in texts):
                found.append(f"{kind} in {path.relative_to(where)}")
    return found


@pytest.mark.slow
def test_no_planted_secret_lands_anywhere(sample_landing, tmp_path, monkeypatch, capsys):
    landing = tmp_path / "landing"
    shutil.copytree(sample_landing[0], landing)
    days = sample_landing[1]["days"]
    planted = (_plant_app_logs(landing, days[1]) + _plant_otlp(landing, days[1]) + _plant_billing(landing)
               + _plant_prompt_history(landing / "prompt-repo"))
    texts = [p.read_bytes().decode("utf-8", "replace") for p in landing.rglob("*") if p.is_file()]
    assert not any("ESCAPED" in t for t in texts)  # every placeholder became an escaped secret
    assert sum(t.count("\\u002d") for t in texts) >= 50
    environment = {"AUDIT_LANDING": str(landing), "AUDIT_LAKE": str(tmp_path / "lake"),
                   "AUDIT_REPORTS": str(tmp_path / "reports"), "AUDIT_EXPORTS": str(tmp_path / "exports"),
                   "DAGSTER_HOME": str(tmp_path / "dagster_home"), "AUDIT_SIGNING_KEY": "corpus signing key"}
    settings = load_settings(environment)
    assert materialize_range(settings, *[__import__("datetime").date.fromisoformat(d) for d in (days[0], days[-1])]
                             ).success
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert main(["export", "--from", days[0], "--to", days[-1]]) == 0
    assert main(["trace", "evt_secret_1"]) in (0, 1)
    assert main(["policy"]) == 0
    out, err = capsys.readouterr()
    (tmp_path / "printed.txt").write_text(out + err)
    found = []
    for folder in ("lake", "reports", "exports", "dagster_home"):
        found += _found(tmp_path / folder)
    found += [f"{kind} printed" for kind, secret in SECRETS.items()
              if any(v in out + err for v in (secret, _escaped(secret), _url_escaped(secret)))]
    kinds = {kind for kind, _ in planted}
    locations = {location for _, location in planted}
    print(f"planted {len(planted)} (kind, location) pairs: {len(kinds)} kinds × {len(locations)} locations; "
          f"found {len(found)}")
    assert len(kinds) == len(SECRETS) and len(planted) >= 300
    assert found == [], "\n".join(found)
