"""Two runs writing the same days at once (issue 15): a commit that loses the race is retried
with backoff, and a stream that cannot be replayed fails with a clear message."""

import threading
from datetime import date

import pyarrow as pa
import pytest

from audit_pipeline import lake as lake_module
from audit_pipeline.lake import CommitConflict, Lake

PREDICATE = "usage_date = '2026-11-20'"


def _rows(tag: str) -> pa.Table:
    return pa.table({"usage_date": [date(2026, 11, 20)] * 3, "provider": [tag] * 3})


@pytest.fixture(params=["local", "s3"])
def lake(request, tmp_path):
    """A lake in a folder, and one on the S3 server (delta-rs commits there with conditional
    writes: two writers can never both create the same version)."""
    if request.param == "local":
        return Lake(str(tmp_path / "lake"))
    from audit_pipeline.settings import load_settings
    from audit_pipeline.storage import lake_for

    server = request.getfixturevalue("s3_server")
    bucket = f"concurrent-{tmp_path.name.lower().replace('_', '-')[-40:]}"
    server.create_bucket(bucket)
    return lake_for(load_settings(server.env()), f"s3://{bucket}/lake")


def test_concurrent_replacements_of_the_same_day_all_commit_and_one_wins_whole(lake):
    lake.replace_where("billing_usage", _rows("first"), PREDICATE)
    errors = []

    def writer(n: int) -> None:
        for k in range(4):
            try:
                lake.replace_where("billing_usage", _rows(f"w{n}-{k}"), PREDICATE)
            except Exception as exc:  # the assertion below names any
                errors.append(repr(exc))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    providers = lake.read("billing_usage")["provider"].to_pylist()
    assert len(providers) == 3 and len(set(providers)) == 1  # one writer's rows, whole


def test_a_conflict_on_a_stream_is_a_clear_error_not_a_silent_retry(tmp_path, monkeypatch):
    lake = Lake(str(tmp_path / "lake"))
    lake.replace_where("billing_usage", _rows("first"), PREDICATE)

    def lose_the_race(*args, **kwargs):
        raise lake_module.CommitFailedError("a concurrent transaction added new data")

    monkeypatch.setattr(lake_module, "write_deltalake", lose_the_race)
    reader = pa.RecordBatchReader.from_batches(_rows("x").schema, _rows("x").to_batches())
    with pytest.raises(CommitConflict, match="billing_usage: another run kept committing"):
        lake.replace_where("billing_usage", reader, PREDICATE)
