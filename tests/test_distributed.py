"""A real distributed run (issue 17): the demo's steps on two Celery worker processes, the
broker on Debian's Redis, the Dagster instance on Debian's PostgreSQL, landing zone and lake
on the local S3 server, the log files in three shards staged by steps of their own; every
table must equal a one-process, one-shard run's, row for row."""

import re

import pytest

from audit_pipeline.cluster.demo import run


@pytest.mark.slow
def test_the_demo_on_celery_workers_leaves_every_table_as_one_process_does(tmp_path, capsys):
    status = run(workers=2, days=2, folder=tmp_path, shards=3)
    out = capsys.readouterr().out
    assert "Every table equals the one-process run, row for row" in out, out[-3000:]
    compared = re.findall(r"^  (\w+) +[\d,]+ rows  equal$", out, re.MULTILINE)
    assert {"llm_calls", "output_lineage", "spend_reconciliation", "dq_results", "ingest_log"} <= set(compared)
    steps = dict(re.findall(r"(audit-worker-\d)@[^:]+: (\d+)", out))
    assert set(steps) == {"audit-worker-1", "audit-worker-2"} and all(int(n) > 0 for n in steps.values()), out
    assert status == 0
