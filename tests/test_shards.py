"""One run's log files in shards (issue 17): each shard staged alone, as its own step would,
then committed together, gives exactly the tables one step gives, a duplicate across shards
included; a shard staged from files that changed since is refused; the staging on the lake
holds no secret and is gone once committed."""

import json
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from audit_pipeline.lake import Lake
from audit_pipeline.lake_compare import compare_lakes
from audit_pipeline.landing import Landing
from audit_pipeline.loads.call_shards import commit_shards, stage_shard
from audit_pipeline.loads.calls import load_calls, record_limits
from audit_pipeline.loads.staging import ROOT, Shard, ShardNotReady

DAY = date(2026, 11, 20)
NOW = datetime(2026, 11, 22, tzinfo=UTC)
SECRET = "sk-proj-" + "Q7" * 24
SHARDS = 3


def _record(n: int, day: date = DAY, **extra) -> str:
    return json.dumps({"event_id": f"e{n}", "timestamp": f"{day}T10:00:{n % 60:02d}Z", "ai_system": "support-bot",
                       "provider": "openai", "request_model": "gpt-4o-mini", **extra})


def _names_in_different_shards() -> tuple[str, str]:
    """Two file names of the day that fall in different shards."""
    first = f"logs/app/{DAY}/calls-0.jsonl"
    for n in range(1, 50):
        other = f"logs/app/{DAY}/calls-{n}.jsonl"
        if [Shard(k, SHARDS).holds(other) for k in range(1, SHARDS + 1)] != \
                [Shard(k, SHARDS).holds(first) for k in range(1, SHARDS + 1)]:
            return first, other
    raise AssertionError("no two names in different shards")


def _landing(root: Path) -> Landing:
    first, other = _names_in_different_shards()
    files = {
        first: [_record(n) for n in range(40)] + ["{not json"],
        # e3 again (a duplicate across shards: the copy in the first file by path wins), a
        # record of the day after, and a secret the staging must not keep.
        other: [_record(3), _record(100, date(2026, 11, 21)), _record(101, user_ref=SECRET)],
        f"logs/app/{DAY}/late.jsonl": [_record(n) for n in range(200, 230)],
        "logs/app/undated/calls.jsonl": [_record(999)],
    }
    for path, lines in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text("\n".join(lines) + "\n")
    return Landing(str(root))


def _sharded(landing: Landing, lake: Lake, first: date = DAY, last: date = DAY) -> None:
    store = Landing(lake.root)
    for n in range(1, SHARDS + 1):
        stage_shard(landing, lake, store, first, last, NOW, Shard(n, SHARDS), record_limits(NOW, None, 1 << 30))
    commit_shards(landing, lake, store, first, last, NOW, SHARDS, run_id="sharded")


def test_shards_staged_apart_and_committed_together_give_the_one_step_tables(tmp_path):
    landing = _landing(tmp_path / "landing")
    one_step, sharded = Lake(str(tmp_path / "one")), Lake(str(tmp_path / "sharded"))
    load_calls(landing, one_step, DAY, DAY, NOW, run_id="one-step")
    _sharded(landing, sharded)
    comparison = {c.table: c for c in compare_lakes(one_step, sharded)}
    assert set(comparison) == {"llm_calls", "quarantine", "ingest_log"}
    assert all(c.equal for c in comparison.values()), [(c.table, c.only_first, c.only_second)
                                                       for c in comparison.values() if not c.equal]
    quarantined = {r["error_code"] for r in sharded.read("quarantine").to_pylist()}
    assert {"duplicate", "json_invalid"} <= quarantined
    assert sharded.read("llm_calls").num_rows == 40 + 2 + 30 - 1  # e100 belongs to the next day


def test_every_day_of_a_range_is_the_same_sharded(tmp_path):
    landing = _landing(tmp_path / "landing")
    one_step, sharded = Lake(str(tmp_path / "one")), Lake(str(tmp_path / "sharded"))
    load_calls(landing, one_step, DAY, date(2026, 11, 21), NOW)
    _sharded(landing, sharded, DAY, date(2026, 11, 21))
    assert all(c.equal for c in compare_lakes(one_step, sharded))
    assert {r["event_date"] for r in sharded.read("llm_calls").to_pylist()} == {DAY, date(2026, 11, 21)}


def test_the_staging_on_the_lake_holds_no_secret_and_is_removed_by_the_commit(tmp_path):
    landing = _landing(tmp_path / "landing")
    lake = Lake(str(tmp_path / "lake"))
    store = Landing(lake.root)
    for n in range(1, SHARDS + 1):
        stage_shard(landing, lake, store, DAY, DAY, NOW, Shard(n, SHARDS), record_limits(NOW, None, 1 << 30))
    staged = list((tmp_path / "lake" / ROOT).rglob("*.parquet"))
    assert staged and not any(SECRET in json.dumps(pq.read_table(p).to_pylist(), default=str) for p in staged)
    assert not any(SECRET.encode() in p.read_bytes() for p in (tmp_path / "lake" / ROOT).rglob("*") if p.is_file())
    commit_shards(landing, lake, store, DAY, DAY, NOW, SHARDS)
    assert not list((tmp_path / "lake" / ROOT).rglob("*.parquet"))
    assert SECRET not in json.dumps(lake.read("llm_calls").to_pylist(), default=str)


def test_a_shard_staged_before_its_file_changed_or_never_staged_is_refused(tmp_path):
    landing = _landing(tmp_path / "landing")
    lake = Lake(str(tmp_path / "lake"))
    store = Landing(lake.root)
    for n in range(1, SHARDS):
        stage_shard(landing, lake, store, DAY, DAY, NOW, Shard(n, SHARDS), record_limits(NOW, None, 1 << 30))
    with pytest.raises(ShardNotReady, match=f"shard {SHARDS}-of-{SHARDS} .* was not staged: materialize llm_calls_shard_{SHARDS}"):
        commit_shards(landing, lake, store, DAY, DAY, NOW, SHARDS)
    stage_shard(landing, lake, store, DAY, DAY, NOW, Shard(SHARDS, SHARDS), record_limits(NOW, None, 1 << 30))
    first, _ = _names_in_different_shards()
    path = tmp_path / "landing" / first
    shutil.copyfile(path, tmp_path / "copy")
    path.write_text(path.read_text() + _record(77) + "\n")  # re-delivered with one more record
    with pytest.raises(ShardNotReady, match=f"staged from files that changed since \\({first}\\)"):
        commit_shards(landing, lake, store, DAY, DAY, NOW, SHARDS)
    assert not lake.exists("llm_calls")  # nothing committed


@pytest.fixture(scope="module")
def lake_before_lineage(sample_landing, tmp_path_factory):
    """The sample's calls, prompt history and prices, ready for lineage."""
    from audit_pipeline.loads.prompts import store_prompt_history
    from audit_pipeline.policy import load_policy
    from audit_pipeline.pricing import store_price_catalog

    landing, truth = sample_landing
    root = tmp_path_factory.mktemp("before-lineage") / "lake"
    lake = Lake(str(root))
    days = [date.fromisoformat(d) for d in truth["days"]]
    load_calls(Landing(str(landing)), lake, days[0], days[-1], datetime.now(UTC))
    store_prompt_history(lake, str(landing / "prompt-repo"), ("prompts/**",))
    store_price_catalog(lake, load_policy(str(Path(__file__).parent.parent / "audit.yaml")))
    return root, days


def test_lineage_built_in_shards_equals_lineage_built_in_one_step(lake_before_lineage, tmp_path):
    from audit_pipeline.loads.lineage import build_output_lineage, commit_lineage, stage_lineage

    root, days = lake_before_lineage
    one_step, sharded = (Lake(str(shutil.copytree(root, tmp_path / name))) for name in ("one", "sharded"))
    expected = build_output_lineage(one_step, days[0], days[-1], run_id="one-step")
    store = Landing(sharded.root)
    for n in range(1, SHARDS + 1):
        assert stage_lineage(sharded, store, days[0], days[-1], Shard(n, SHARDS)) == [d.isoformat() for d in days]
    assert commit_lineage(sharded, store, days[0], days[-1], SHARDS, run_id="sharded") == expected
    comparison = {c.table: c for c in compare_lakes(one_step, sharded)}
    assert comparison["output_lineage"].rows == sum(expected.values()) > 1000
    assert comparison["output_lineage"].equal and comparison["build_log"].equal
    assert not (tmp_path / "sharded" / ROOT / "output_lineage").exists() or \
        not list((tmp_path / "sharded" / ROOT / "output_lineage").rglob("*.parquet"))
    # Built: nothing stale is left, so shards stage nothing the next time.
    assert stage_lineage(sharded, store, days[0], days[-1], Shard(1, SHARDS)) == []


def test_a_lineage_shard_built_before_the_calls_changed_is_refused(lake_before_lineage, tmp_path):
    from audit_pipeline.loads.lineage import commit_lineage, stage_lineage

    root, days = lake_before_lineage
    lake = Lake(str(shutil.copytree(root, tmp_path / "lake")))
    store = Landing(lake.root)
    for n in range(1, SHARDS + 1):
        stage_lineage(lake, store, days[0], days[-1], Shard(n, SHARDS))
    calls = lake.read("llm_calls", where=f"event_date = '{days[0]}'")
    lake.replace_where("llm_calls", calls.slice(1), f"event_date = '{days[0]}'")  # the day re-ingested
    with pytest.raises(ShardNotReady, match=f"built from inputs that changed since \\(days {days[0]}\\)"):
        commit_lineage(lake, store, days[0], days[-1], SHARDS)
    assert not lake.exists("output_lineage")


def test_staging_a_failed_run_left_is_removed_by_a_later_commit(tmp_path):
    from datetime import timedelta

    landing = _landing(tmp_path / "landing")
    lake = Lake(str(tmp_path / "lake"))
    store = Landing(lake.root)
    old_day, long_ago = date(2026, 11, 21), NOW - timedelta(days=3)
    # A run of another day staged its shards three days ago and never committed.
    stage_shard(landing, lake, store, old_day, old_day, long_ago, Shard(1, SHARDS), record_limits(long_ago, None, 1 << 30))
    abandoned = tmp_path / "lake" / ROOT / "llm_calls" / f"{old_day}_{old_day}"
    assert abandoned.exists()
    _sharded(landing, lake)
    assert not abandoned.exists()


def test_real_instrumentation_exports_and_every_kind_of_secret_shard_like_one_step(tmp_path):
    """The OTLP files written to the published attribute lists (tests/fixtures/real/otlp) and
    the reliability suite's secrets corpus planted in app logs (every kind in every field, as
    a field name, escaped, in a rejected record, in a file name): sharded equals one step,
    spans skipped by reason included, and no secret is in the staging or any table."""
    from tests.reliability.test_secrets import SECRETS, _escaped, _plant_app_logs, _url_escaped

    day = date(2026, 6, 14)  # the fixtures' day
    root = tmp_path / "landing"
    otlp = root / "logs" / "otlp" / day.isoformat()
    otlp.mkdir(parents=True)
    for fixture in (Path(__file__).parent / "fixtures" / "real" / "otlp").glob("*.json"):
        shutil.copyfile(fixture, otlp / fixture.name)
    (root / "logs" / "support-assistant" / day.isoformat()).mkdir(parents=True)
    _plant_app_logs(root, day.isoformat())
    landing = Landing(str(root))
    one_step, sharded = Lake(str(tmp_path / "one")), Lake(str(tmp_path / "sharded"))
    load_calls(landing, one_step, day, day, NOW)
    store = Landing(sharded.root)
    for n in range(1, SHARDS + 1):
        stage_shard(landing, sharded, store, day, day, NOW, Shard(n, SHARDS), record_limits(NOW, None, 1 << 30))
    staged = [p for p in (tmp_path / "sharded" / ROOT).rglob("*") if p.is_file()]
    stored = json.dumps([pq.read_table(p).to_pylist() for p in staged if p.suffix == ".parquet"], default=str)
    stored += "".join(p.read_text(errors="replace") for p in staged if p.suffix == ".json")
    commit_shards(landing, sharded, store, day, day, NOW, SHARDS)
    assert all(c.equal for c in compare_lakes(one_step, sharded))
    assert sharded.read("llm_calls").num_rows > len(SECRETS)  # the spans' model calls too
    assert any(r["skipped_reasons"] for r in sharded.read("ingest_log").to_pylist())
    stored += "".join(json.dumps(sharded.read(t).to_pylist(), default=str) for t in ("llm_calls", "quarantine", "ingest_log"))
    found = [kind for kind, secret in SECRETS.items()
             if any(form in stored for form in (secret, _escaped(secret), _url_escaped(secret)))]
    assert found == []
