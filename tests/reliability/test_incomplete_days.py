"""Reports and exports never build on a day whose ingest failed (issue 15): a landing file
that could not be read makes its days incomplete until it is loaded or skipped on purpose."""

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pyarrow as pa

from audit_pipeline.cli import main
from audit_pipeline.runner import dagster_instance
from audit_pipeline.schemas import INGEST_LOG


def _fail_a_file(pipeline, day) -> None:
    pipeline.lake.append("ingest_log", pa.Table.from_pylist([{
        "source": "app_logs", "source_file": "logs/app/broken.jsonl.gz", "partition": day.isoformat(),
        "status": "failed", "error": "logs/app/broken.jsonl.gz: not a gzipped file", "rows_read": 0,
        "rows_accepted": 0, "rows_quarantined": 0, "rows_duplicate": 0, "ingested_at": datetime.now(UTC),
        "run_id": "test"}], schema=INGEST_LOG))


def test_an_export_or_a_report_over_a_day_with_an_unreadable_file_is_refused_naming_it(
        local_pipeline_copy, monkeypatch):
    pipeline = local_pipeline_copy
    for name, value in {**pipeline.environment, "AUDIT_SIGNING_KEY": "incomplete days test key"}.items():
        monkeypatch.setenv(name, value)
    days = pipeline.days
    _fail_a_file(pipeline, days[1])
    assert main(["export", "--from", str(days[0]), "--to", str(days[-1])]) == 1
    assert main(["report", "--date", str(days[1])]) == 1
    instance = dagster_instance(pipeline.settings)
    failures = [record.event_log_entry.dagster_event.step_failure_data.error.message
                for run in instance.get_runs(limit=2)
                for record in instance.get_records_for_run(run.run_id,
                                                           of_type=dg.DagsterEventType.STEP_FAILURE).records]
    assert len(failures) == 2 and all("broken.jsonl.gz" in f and "refused" in f for f in failures)
    assert not list(Path(pipeline.settings.exports).glob("*"))  # nothing was exported
    monkeypatch.setenv("AUDIT_SKIP_UNREADABLE_FILES", "true")  # the operator goes on without it, on purpose
    assert main(["export", "--from", str(days[0]), "--to", str(days[-1])]) == 0
