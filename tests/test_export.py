"""Auditor exports: what they hold, that they are deterministic, that `verify` catches every
kind of tampering, that S3 Object Lock keeps them, and that any reader opens them."""

import hashlib
import json
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit_pipeline.cli import main
from audit_pipeline.exports import signing
from audit_pipeline.exports.build import ExportRequest, export_period, retain_until
from audit_pipeline.exports.contents import EXPORTED_TABLES
from audit_pipeline.exports.dictionary import undocumented
from audit_pipeline.exports.manifest import MANIFEST, SIGNATURE
from audit_pipeline.exports.store import LOCK_MODE, LocalExports, S3Exports
from audit_pipeline.exports.verify import verify, verify_s3
from audit_pipeline.redaction import contains_secret
from audit_pipeline.runner import dagster_instance
from audit_pipeline.settings import load_settings
from audit_pipeline.storage import lake_for, landing_for

KEY = "test signing secret: long enough to be a real one"
OTHER_KEY = "somebody else's key"


@pytest.fixture(scope="module")
def pipeline(local_pipeline):
    """The session's local lake (the sample's three days through every asset): exports read it."""
    return local_pipeline.settings, local_pipeline.environment, local_pipeline.days


def _export(settings, days, root: Path, key: str = KEY, first: date | None = None):
    request = ExportRequest(first or days[0], days[-1], "policy-sha", 6)
    return export_period(lake_for(settings), landing_for(settings, settings.reports), LocalExports(str(root)),
                         key, request)


def _manifest(folder: Path) -> dict:
    return json.loads((folder / MANIFEST).read_text())


@pytest.fixture(scope="module")
def chain(pipeline, tmp_path_factory):
    """Three exports in one folder: the whole sample, its last two days, its last day."""
    settings, _, days = pipeline
    root = tmp_path_factory.mktemp("chain")
    results = [_export(settings, days, root, first=first) for first in days]
    return root, results


def _tampered(chain, tmp_path) -> tuple[Path, list]:
    root, results = chain
    copy = tmp_path / "exports"
    shutil.copytree(root, copy)
    for path in copy.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return copy, [copy / r.export_id for r in results]


def test_an_export_holds_each_tables_period_rows_with_their_source_versions(pipeline, chain):
    settings, _, days = pipeline
    _, [whole, *_] = chain
    lake = lake_for(settings)
    folder = Path(whole.location)
    files = {f["path"]: f for f in _manifest(folder)["files"]}
    assert whole.sequence == 1 and _manifest(folder)["previous"] is None
    for exported in EXPORTED_TABLES:
        entry = files[f"tables/{exported.name}.parquet"]
        expected = lake.read(exported.name, where=exported.where(days[0], days[-1])).num_rows
        assert entry["rows"] == expected == pq.ParquetFile(folder / entry["path"]).metadata.num_rows, exported.name
        assert entry["delta_version"] == lake.version(exported.name)
    assert files["tables/llm_calls.parquet"]["rows"] > 1000
    # The published HTML reports, each the one its retention_report row names by hash.
    reports = lake.read("retention_report", where="html_sha256 IS NOT NULL").column("html_sha256").to_pylist()
    html = [f for f in files.values() if f["kind"] == "report"]
    assert len(html) == 5 and {f["sha256"] for f in html} <= set(reports)
    assert {"README.md", "data_dictionary.csv", "public_key.pem", "SHA256SUMS"} <= set(files)


def test_rows_are_in_a_fixed_order_and_free_text_is_exported_only_as_its_hash(pipeline, chain):
    settings, _, _ = pipeline
    folder = Path(chain[1][0].location)
    calls = pq.read_table(folder / "tables/llm_calls.parquet", columns=["event_date", "event_id"]).to_pylist()
    assert calls == sorted(calls, key=lambda r: (r["event_date"], r["event_id"]))
    commits = pq.read_table(folder / "tables/prompt_commits.parquet")
    assert "message" not in commits.column_names
    messages = {r["commit_sha"]: r["message"] for r in lake_for(settings).read("prompt_commits").to_pylist()}
    for row in commits.to_pylist():
        assert row["message_sha256"] == hashlib.sha256(messages[row["commit_sha"]].encode()).hexdigest()
    for table, column in [("billing_usage", "tags"), ("billing_costs", "tags"),
                          ("security_findings", "acknowledgement"), ("dq_results", "unexpected_examples")]:
        names = pq.read_schema(folder / f"tables/{table}.parquet").names
        assert column not in names and f"{column}_sha256" in names


def test_no_value_in_any_exported_file_looks_like_a_secret(chain):
    folder = Path(chain[1][0].location)
    checked = 0
    for path in sorted(folder.glob("tables/*.parquet")):
        table = pq.read_table(path)
        for name in table.column_names:
            if pa.types.is_string(table.schema.field(name).type):
                values = [v for v in table.column(name).to_pylist() if v]
                assert not [v for v in values if contains_secret(v)], f"{path.name}.{name}"
                checked += len(values)
    assert checked > 10_000
    for path in folder.rglob("*"):
        if path.suffix in {".html", ".md", ".csv", ".json"}:
            assert not contains_secret(path.read_text()), path


def test_the_by_hand_checks_in_the_auditors_readme_work_as_written(chain, tmp_path):
    """The README's Python check and openssl commands, run on the export and on a tampered copy."""
    _, exports = _tampered(chain, tmp_path)
    folder = exports[1]
    readme = (folder / "README.md").read_text()
    script = re.search(r"```python\n(.*?)```", readme, re.S).group(1)
    (tmp_path / "check.py").write_text(script)

    def run(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(argv, cwd=folder, capture_output=True, text=True)

    assert run(sys.executable, str(tmp_path / "check.py")).stdout.endswith("files intact\n")
    verify_signature = ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "public_key.pem", "-rawin",
                        "-in", "manifest.json", "-sigfile", "manifest.sig"]
    assert "Signature Verified Successfully" in run(*verify_signature).stdout
    assert run("sha256sum", "-c", "--quiet", "SHA256SUMS").returncode == 0
    _flip_byte(folder / "tables/llm_calls.parquet")
    assert run(sys.executable, str(tmp_path / "check.py")).returncode != 0
    assert run("sha256sum", "-c", "--quiet", "SHA256SUMS").returncode != 0
    (folder / MANIFEST).write_text((folder / MANIFEST).read_text().replace('"rows": ', '"rows": 1', 1))
    assert "Signature Verified Successfully" not in run(*verify_signature).stdout


RE_DERIVATIONS = {
    # retention_report.daily_coverage[].records = the exported calls per system and day
    "records per system and day": """
        WITH reported AS (SELECT ai_system, unnest(daily_coverage) AS day FROM 'retention_report.parquet'
                          WHERE NOT as_of_requested
                            AND report_date = (SELECT max(report_date) FROM 'retention_report.parquet'))
        SELECT ai_system, (day).day, (day).records, (SELECT count(*) FROM 'llm_calls.parquet' c
                                                    WHERE c.ai_system = r.ai_system AND c.event_date = (r.day).day)
        FROM reported r WHERE (day).day >= (SELECT min(event_date) FROM 'llm_calls.parquet')""",
    # spend_reconciliation.logged_tokens (output) = the exported calls' output tokens per day
    "logged output tokens per day": """
        SELECT event_date, (SELECT sum(logged_tokens) FROM 'spend_reconciliation.parquet'
                            WHERE token_type = 'output' AND usage_date = event_date), sum(output_tokens)
        FROM 'llm_calls.parquet' GROUP BY event_date""",
    # spend_reconciliation.billed_tokens (output) = the exported billing rows per day
    "billed output tokens per day": """
        SELECT usage_date, (SELECT sum(billed_tokens) FROM 'spend_reconciliation.parquet' r
                            WHERE token_type = 'output' AND r.usage_date = b.usage_date), sum(output_tokens)
        FROM 'billing_usage.parquet' b GROUP BY usage_date""",
}


@pytest.mark.parametrize("figure", RE_DERIVATIONS)
def test_reported_figures_re_derive_from_the_exported_rows_alone(chain, figure):
    tables = Path(chain[1][0].location) / "tables"
    con = duckdb.connect()
    con.execute(f"SET file_search_path = '{tables}'")
    rows = con.sql(RE_DERIVATIONS[figure]).fetchall()
    assert len(rows) >= 3 and sum(row[-2] for row in rows) > 1000, rows
    assert [row for row in rows if row[-2] != row[-1]] == []


def test_the_data_dictionary_describes_every_exported_column(chain):
    assert undocumented() == []
    folder = Path(chain[1][0].location)
    dictionary = pd.read_csv(folder / "data_dictionary.csv")
    for path in folder.glob("tables/*.parquet"):
        schema = pq.read_schema(path)
        rows = dictionary[dictionary["table"] == path.stem]
        assert list(rows["column"]) == schema.names
        assert list(rows["type"]) == [str(f.type) for f in schema]
        assert rows["meaning"].notna().all() and rows["source"].notna().all()


def test_the_same_period_from_the_same_versions_gives_identical_bytes(pipeline, tmp_path):
    settings, _, days = pipeline
    first = _export(settings, days, tmp_path / "a")
    second = _export(settings, days, tmp_path / "b")
    assert first.digest == second.digest and first.created and second.created

    def contents(folder: Path) -> dict[str, bytes]:
        return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}

    assert contents(Path(first.location)) == contents(Path(second.location))
    # Exported again into the same folder: recognised, nothing new in the chain.
    again = _export(settings, days, tmp_path / "a")
    assert (again.created, again.digest, again.export_id) == (False, first.digest, first.export_id)
    assert [p.name for p in (tmp_path / "a").iterdir()] == [first.export_id]


def test_a_later_export_of_a_changed_period_is_a_new_link_in_the_chain(local_pipeline_copy, tmp_path):
    settings, days = local_pipeline_copy.settings, local_pipeline_copy.days
    exports = tmp_path / "exports"
    first = _export(settings, days, exports)
    lake = lake_for(settings)
    lake.append("erasure_log", pa.Table.from_pylist([{
        "table_name": "llm_calls", "ai_system": "search-api", "action": "delete", "predicate": "false",
        "rows_deleted": 0, "files_removed": 0, "reason": "test", "hold_checked": "none active", "dry_run": True,
        "deleted_at": pd.Timestamp(days[-1], tz="UTC").to_pydatetime(), "run_id": "test"}]))
    second = _export(settings, days, exports)
    assert second.created and second.export_id == f"{first.export_id}-r2" and second.sequence == 2
    previous = _manifest(Path(second.location))["previous"]
    assert previous["manifest_sha256"] == first.digest and previous["export_id"] == first.export_id
    assert verify(exports).intact


def test_the_intact_chain_verifies_and_the_cli_says_so(chain, capsys):
    root, results = chain
    result = verify(root)
    assert result.intact, result.faults
    assert sorted(m["sequence"] for m in result.exports.values()) == [1, 2, 3]
    assert main(["verify", str(root)]) == 0
    assert "intact. 3 export(s), sequence 1..3" in capsys.readouterr().out
    fingerprint = results[0].key_fingerprint
    assert main(["verify", str(root / results[2].export_id), "--public-key", fingerprint]) == 0
    assert main(["verify", str(root / "no-such-export")]) == 2
    assert "no such folder" in capsys.readouterr().err


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def _resign(folder: Path, key: str, replace_public_key: bool) -> None:
    """What a forger with another key does: edit the manifest and sign it again."""
    private = signing.private_key(key)
    manifest = _manifest(folder)
    manifest["files"] = [f for f in manifest["files"] if f["path"] != "tables/security_findings.parquet"]
    (folder / "tables/security_findings.parquet").unlink()
    if replace_public_key:
        pem = signing.public_pem(private)
        (folder / "public_key.pem").write_bytes(pem)
        manifest["signature"]["public_key_fingerprint"] = signing.fingerprint(private.public_key())
        for entry in manifest["files"]:
            if entry["path"] == "public_key.pem":
                entry.update(bytes=len(pem), sha256=hashlib.sha256(pem).hexdigest())
    data = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    (folder / MANIFEST).write_bytes(data)
    (folder / SIGNATURE).write_bytes(signing.sign(private, data))


TAMPERING = {
    "flip one byte in a Parquet file": (
        lambda exports: _flip_byte(exports[1] / "tables/llm_calls.parquet"),
        ["{1}/tables/llm_calls.parquet: sha256 differs from the manifest"]),
    "delete a file": (
        lambda exports: (exports[1] / "tables/billing_usage.parquet").unlink(),
        ["{1}/tables/billing_usage.parquet: listed in the manifest but missing"]),
    "add a file": (
        lambda exports: (exports[1] / "tables/extra.parquet").write_bytes(b"PAR1"),
        ["{1}/tables/extra.parquet: not listed in the manifest (added)"]),
    "edit the manifest": (
        lambda exports: (exports[1] / MANIFEST).write_text(
            (exports[1] / MANIFEST).read_text().replace('"rows": ', '"rows": 1', 1)),
        ["{1}/manifest.json: signature does not verify",
         "{2}: previous export {1n}'s manifest is not the one this export chained to"]),
    "re-sign with a wrong key": (
        lambda exports: _resign(exports[1], OTHER_KEY, replace_public_key=False),
        ["{1}/manifest.json: signature does not verify"]),
    "re-sign with a wrong key and ship its public key": (
        lambda exports: _resign(exports[1], OTHER_KEY, replace_public_key=True),
        ["{2}: previous export {1n}'s manifest is not the one this export chained to",
         "{2}: previous export {1n}'s signature is not the one this export chained to",
         "{1}/public_key.pem: signed by key",
         "{2}: signed by key"]),
    "drop an export from the middle of the chain": (
        lambda exports: shutil.rmtree(exports[1]),
        ["{2}: previous export {1n} (sequence 2) is missing from the chain"]),
    "replace a file by a link to identical bytes elsewhere": (
        lambda exports: _linked_elsewhere(exports[1] / "tables/llm_calls.parquet"),
        ["{1}/tables/llm_calls.parquet: a symbolic link"]),
    "replace the tables folder by a link to an identical copy": (
        lambda exports: _linked_elsewhere(exports[1] / "tables"),
        ["{1}/tables: a symbolic link"]),
    "replace a whole export by a link to an identical copy": (
        lambda exports: _linked_elsewhere(exports[1]),
        ["{1}/.: a symbolic link"]),
}


def _linked_elsewhere(path: Path) -> None:
    """Move `path` out of the export and leave a symbolic link to it: the bytes are identical,
    but they are no longer the export's own (they can change after verification)."""
    elsewhere = path.parent.parent / f"elsewhere-{path.name}"
    shutil.move(path, elsewhere)
    path.symlink_to(elsewhere.resolve(), target_is_directory=elsewhere.is_dir())


@pytest.mark.parametrize("tampering", TAMPERING, ids=list(TAMPERING))
def test_verify_catches_and_names_every_kind_of_tampering(chain, tmp_path, capsys, tampering):
    root, exports = _tampered(chain, tmp_path)
    assert verify(root).intact
    change, expected = TAMPERING[tampering]
    change(exports)
    names = {"{1}": exports[1].name, "{2}": exports[2].name, "{1n}": exports[1].name}
    expected = [re.sub(r"\{\w+\}", lambda m: names[m.group(0)], e) for e in expected]
    pinned = chain[1][0].key_fingerprint
    result = verify(root, expected_key=pinned if "public key" in tampering else None)
    assert not result.intact
    for fault in expected:
        assert any(f.startswith(fault) for f in result.faults), (fault, result.faults)
    assert main(["verify", str(root)] + (["--public-key", pinned] if "public key" in tampering else [])) == 1
    out = capsys.readouterr().out
    assert all(f"FAULT {fault}" in out for fault in expected) and "NOT intact" in out


def test_a_shallow_check_covers_one_export_and_only_the_link_below_it(chain, tmp_path):
    _, exports = _tampered(chain, tmp_path)
    _flip_byte(exports[0] / "tables/llm_calls.parquet")
    assert verify(exports[2], shallow=True).intact  # what the asset checks after a delivery
    assert not verify(exports[2]).intact  # the whole chain, as an auditor checks it
    (exports[1] / MANIFEST).write_text((exports[1] / MANIFEST).read_text().replace('"rows": ', '"rows": 1', 1))
    faults = verify(exports[2], shallow=True).faults
    assert faults == [f"{exports[2].name}: previous export {exports[1].name}'s manifest is not the one this "
                      "export chained to"]


def test_a_lone_export_with_its_key_replaced_is_caught_by_the_expected_key(chain, tmp_path):
    _, exports = _tampered(chain, tmp_path)
    lone = tmp_path / "lone"
    lone.mkdir()
    shutil.move(exports[0], lone / exports[0].name)
    _resign(lone / exports[0].name, OTHER_KEY, replace_public_key=True)
    assert verify(lone).intact  # self-consistent: only the key the organisation published can tell
    result = verify(lone, expected_key=chain[1][0].key_fingerprint)
    assert [f for f in result.faults if "not the expected" in f]


def test_the_export_opens_in_duckdb_polars_and_pandas_with_no_options(chain):
    folder = Path(chain[1][0].location)
    for entry in _manifest(folder)["files"]:
        if entry["kind"] != "table":
            continue
        path = str(folder / entry["path"])
        assert duckdb.sql(f"SELECT count(*) FROM '{path}'").fetchall()[0][0] == entry["rows"]
        assert pl.read_parquet(path).height == entry["rows"]
        assert len(pd.read_parquet(path)) == entry["rows"]
    # Money stays exact decimal in every reader.
    lineage = pl.read_parquet(folder / "tables/output_lineage.parquet")
    assert isinstance(lineage.schema["computed_cost_usd"], pl.Decimal)


def test_trace_reconstructs_an_outputs_lineage_from_the_export_alone(chain, capsys, monkeypatch):
    folder = Path(chain[1][0].location)
    row = pq.read_table(folder / "tables/output_lineage.parquet").filter(
        pc.field("resolution") == "explicit").slice(0, 1).to_pylist()[0]
    monkeypatch.setenv("AUDIT_LAKE", str(folder / "no-lake-here"))  # nothing may come from the lake
    assert main(["trace", row["response_id"], "--export", str(folder)]) == 0
    out = capsys.readouterr().out
    for value in (row["event_id"], row["prompt_version"], row["prompt_author"], row["response_model"],
                  str(row["computed_cost_usd"]), "commit_message_sha256", "line"):
        assert value in out, value


def test_trace_refuses_a_tampered_export(chain, tmp_path, capsys):
    _, exports = _tampered(chain, tmp_path)
    _flip_byte(exports[0] / "tables/output_lineage.parquet")
    assert main(["trace", "anything", "--export", str(exports[0])]) == 1
    assert "FAULT" in capsys.readouterr().out


def test_signing_keys_from_pem_hex_or_a_secret_and_nothing_else(tmp_path):
    pem = Ed25519PrivateKey.generate().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption()).decode()
    assert isinstance(signing.private_key(pem), Ed25519PrivateKey)
    seed = "ab" * 32
    assert signing.private_key(seed).private_bytes_raw() == bytes.fromhex(seed)
    assert signing.fingerprint(signing.private_key(KEY).public_key()) == \
        signing.fingerprint(signing.private_key(KEY).public_key())
    rsa_like = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    for bad in (None, "", rsa_like):
        with pytest.raises(signing.SigningKeyError) as error:
            signing.private_key(bad)
        assert "AUDIT_SIGNING_KEY" in str(error.value) and (not bad or bad not in str(error.value))


def test_exports_are_kept_at_least_the_floor_after_the_period_ends():
    assert retain_until(date(2026, 10, 31), 6) == date(2027, 5, 3)  # 184 days is later than 30 April
    assert retain_until(date(2026, 2, 28), 12) == date(2027, 3, 3)  # 368 days is later than 12 months


def test_on_s3_every_object_is_locked_in_compliance_mode_and_cannot_be_deleted(pipeline, s3_server, tmp_path):
    settings, _, days = pipeline
    bucket = f"exp-{tmp_path.name.lower().replace('_', '-')[-40:]}"
    s3_server.create_bucket(bucket, object_lock=True)
    s3_settings = replace(settings, s3=load_settings(s3_server.env()).s3)
    store = S3Exports(f"s3://{bucket}/exports", s3_settings.s3)
    request = ExportRequest(days[0], days[-1], "policy-sha", 6)
    result = export_period(lake_for(settings), landing_for(settings, settings.reports), store, KEY, request)
    assert result.location == f"s3://{bucket}/exports/{result.export_id}"
    assert verify_s3(result.location, s3_settings.s3).intact
    client = s3_server.client()
    key = f"exports/{result.export_id}/tables/llm_calls.parquet"
    head = client.head_object(Bucket=bucket, Key=key)
    assert head["ObjectLockMode"] == LOCK_MODE
    assert head["ObjectLockRetainUntilDate"].date() == retain_until(days[-1], 6) + timedelta(days=1)
    assert json.loads(store.read(f"{result.export_id}/{MANIFEST}"))["keep_until"] == str(retain_until(days[-1], 6))
    original = client.get_object(Bucket=bucket, Key=key)
    with pytest.raises(ClientError) as denied:
        client.delete_object(Bucket=bucket, Key=key, VersionId=original["VersionId"])
    assert denied.value.response["Error"]["Code"] == "AccessDenied"
    # Overwriting adds a version on top; the locked one stays, and verify names the object.
    client.put_object(Bucket=bucket, Key=key, Body=b"forged")
    kept = client.get_object(Bucket=bucket, Key=key, VersionId=original["VersionId"])["Body"].read()
    assert hashlib.sha256(kept).hexdigest() == next(f.sha256 for f in result.files if f.path == "tables/llm_calls.parquet")
    faults = verify_s3(f"s3://{bucket}/exports", s3_settings.s3).faults
    assert any(f.startswith(f"s3://{bucket}/exports/{key.removeprefix('exports/')}: not under Object Lock") for f in faults)
    assert any(f.endswith("tables/llm_calls.parquet: sha256 differs from the manifest (altered)") for f in faults)
    # A lock shorter than the manifest's keep_until is named too (real S3 refuses to shorten
    # a COMPLIANCE lock; moto does not, which lets this be tested).
    readme = f"exports/{result.export_id}/README.md"
    version = client.head_object(Bucket=bucket, Key=readme)["VersionId"]
    client.put_object_retention(Bucket=bucket, Key=readme, VersionId=version, Retention={
        "Mode": LOCK_MODE, "RetainUntilDate": pd.Timestamp(days[-1] + timedelta(days=30), tz="UTC").to_pydatetime()})
    faults = verify_s3(result.location, s3_settings.s3).faults
    assert any(f.startswith(f"s3://{bucket}/exports/{result.export_id}/README.md: locked only until") for f in faults)
    # An export is never written over: the same id again is refused.
    with pytest.raises(FileExistsError), store.staging() as staging:
        store.publish(staging, result.export_id, days[-1])


def test_a_bucket_without_object_lock_is_refused_with_a_clear_error(pipeline, s3_server, tmp_path):
    settings, _, days = pipeline
    bucket = f"nolock-{tmp_path.name.lower().replace('_', '-')[-40:]}"
    s3_server.create_bucket(bucket)
    store = S3Exports(f"s3://{bucket}/exports", load_settings(s3_server.env()).s3)
    with pytest.raises(ValueError, match="has no Object Lock"):
        export_period(lake_for(settings), landing_for(settings, settings.reports), store, KEY,
                      ExportRequest(days[0], days[-1], "policy-sha", 6))


def test_the_cli_exports_through_dagster_and_the_asset_check_verifies(pipeline, monkeypatch, capsys, tmp_path):
    settings, env, days = pipeline
    for name, value in {**env, "AUDIT_EXPORTS": str(tmp_path / "exports")}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AUDIT_SIGNING_KEY", raising=False)
    assert main(["export", "--from", str(days[0]), "--to", str(days[-1])]) == 2
    assert "AUDIT_SIGNING_KEY is not set" in capsys.readouterr().err
    monkeypatch.setenv("AUDIT_SIGNING_KEY", KEY)
    assert main(["export", "--from", str(days[0]), "--to", str(days[-1])]) == 0
    out = capsys.readouterr().out
    export_id = f"{days[0]}_{days[-1]}"
    assert f"Auditor export {export_id} written" in out and "digest (sha256 of manifest.json)" in out
    instance = dagster_instance(settings)
    event = instance.get_latest_materialization_event(dg.AssetKey("auditor_export"))
    assert event.asset_materialization.metadata["export_id"].value == export_id
    [check] = [e.dagster_event.event_specific_data for e in instance.all_logs(
        event.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)]
    assert check.check_name == "export_verifies" and check.passed
    assert main(["verify", str(tmp_path / "exports" / export_id)]) == 0


def test_a_chain_whose_first_export_was_deleted_is_a_fault_unless_it_reaches_a_recorded_anchor(chain, tmp_path,
                                                                                                 capsys):
    root, exports = _tampered(chain, tmp_path)
    first = chain[1][0]
    shutil.rmtree(exports[0])
    result = verify(root)
    assert [f for f in result.faults if f.startswith(f"{exports[1].name}: previous export {exports[0].name}")
            and "anchor" in f]
    assert verify(root, anchor=first.digest).intact  # the digest the auditor recorded of the first export
    assert verify(root, anchor="1").intact  # or its sequence
    assert not verify(root, anchor="0" * 64).intact
    assert main(["verify", str(root)]) == 1
    assert main(["verify", str(root), "--anchor", first.digest]) == 0
    assert "reaches the anchor you recorded" in capsys.readouterr().out
