"""The lake: partition replace touches only its days; tables are created from the schema."""

from datetime import UTC, date, datetime

import pyarrow as pa

from audit_pipeline.lake import Lake, date_range_predicate
from audit_pipeline.schemas import BILLING_USAGE, TABLES


def _usage(day: date, provider: str) -> pa.Table:
    row = dict.fromkeys(BILLING_USAGE.names)
    row.update(usage_date=day, provider=provider, output_tokens=1)
    return pa.Table.from_pylist([row], schema=BILLING_USAGE)


def _replace(lake: Lake, day: date, provider: str) -> None:
    lake.replace_where("billing_usage", _usage(day, provider), date_range_predicate("usage_date", day, day))


def test_replacing_a_partition_leaves_the_other_partitions_unchanged(tmp_path):
    lake = Lake(str(tmp_path))
    first, second = date(2026, 11, 1), date(2026, 11, 2)
    _replace(lake, first, "openai")
    _replace(lake, second, "anthropic")
    _replace(lake, first, "aws_bedrock")
    _replace(lake, first, "aws_bedrock")
    rows = sorted((r["usage_date"], r["provider"]) for r in lake.read("billing_usage").to_pylist())
    assert rows == [(first, "aws_bedrock"), (second, "anthropic")]


def test_a_table_never_written_reads_empty_with_its_declared_schema(tmp_path):
    lake = Lake(str(tmp_path))
    assert not lake.exists("llm_calls")
    empty = lake.read("llm_calls")
    assert empty.num_rows == 0 and empty.schema == TABLES["llm_calls"]


def test_an_empty_replace_creates_the_table_with_date_partitions(tmp_path):
    lake = Lake(str(tmp_path))
    day = date(2026, 11, 1)
    lake.replace_where("billing_usage", BILLING_USAGE.empty_table(), date_range_predicate("usage_date", day, day))
    assert lake.version("billing_usage") is not None
    assert lake.read("billing_usage").schema.field("usage_date").type == pa.date32()


def test_time_travel_reads_an_earlier_version(tmp_path):
    lake = Lake(str(tmp_path))
    day = date(2026, 11, 1)
    _replace(lake, day, "openai")
    before = lake.version("billing_usage")
    _replace(lake, day, "anthropic")
    assert lake.read("billing_usage", version=before).column("provider").to_pylist() == ["openai"]
    assert lake.read("billing_usage").column("provider").to_pylist() == ["anthropic"]


def test_an_unchanged_restatement_adds_no_version_and_a_changed_one_does(tmp_path):
    from datetime import UTC, datetime

    lake = Lake(str(tmp_path))
    day = date(2026, 11, 1)
    predicate = date_range_predicate("usage_date", day, day)
    assert lake.replace_where_if_changed("billing_usage", _usage(day, "openai"), predicate)
    version = lake.version("billing_usage")
    later = _usage(day, "openai").set_column(  # the same rows, ingested again later
        BILLING_USAGE.get_field_index("ingested_at"), "ingested_at",
        pa.array([datetime(2026, 11, 27, tzinfo=UTC)], BILLING_USAGE.field("ingested_at").type))
    assert not lake.replace_where_if_changed("billing_usage", later, predicate)
    assert lake.version("billing_usage") == version
    assert lake.replace_where_if_changed("billing_usage", _usage(day, "anthropic"), predicate)
    assert lake.version("billing_usage") == version + 1
    assert lake.read("billing_usage", columns=["provider"])["provider"].to_pylist() == ["anthropic"]


def test_a_table_written_before_a_column_was_declared_gains_it_on_the_next_write(tmp_path):
    from deltalake import write_deltalake

    from audit_pipeline.schemas import INGEST_LOG, plain

    lake = Lake(str(tmp_path))
    older = plain(INGEST_LOG)
    older = pa.schema([f for f in older if f.name not in ("rows_superseded", "rows_skipped", "skipped_reasons")])
    row = dict.fromkeys(older.names)
    row.update(source="app_logs", source_file="logs/a/2026-11-01/x.jsonl", partition="2026-11-01", rows_read=3)
    write_deltalake(lake.uri("ingest_log"), pa.Table.from_pylist([row], schema=older), partition_by=["partition"])
    new = dict.fromkeys(INGEST_LOG.names)
    new.update(source="app_logs", source_file="logs/a/2026-11-02/x.jsonl", partition="2026-11-02", rows_read=2,
               rows_skipped=2, skipped_reasons="not_a_model_call: 2")
    lake.replace_where("ingest_log", pa.Table.from_pylist([new], schema=INGEST_LOG), "partition = '2026-11-02'")
    rows = {r["partition"]: r for r in lake.read("ingest_log").to_pylist()}
    assert (rows["2026-11-01"]["rows_read"], rows["2026-11-01"]["rows_skipped"]) == (3, None)  # kept, column added
    assert (rows["2026-11-02"]["rows_skipped"], rows["2026-11-02"]["skipped_reasons"]) == (2, "not_a_model_call: 2")


def test_comparing_lakes_ignores_run_columns_and_finds_a_changed_or_repeated_row(tmp_path):
    from audit_pipeline.lake_compare import compare_lakes

    first, second = Lake(str(tmp_path / "a")), Lake(str(tmp_path / "b"))
    day = date(2026, 11, 1)
    rows = [_usage(day, "openai"), _usage(day, "anthropic")]
    first.replace_where("billing_usage", pa.concat_tables(rows), date_range_predicate("usage_date", day, day))
    later = [t.set_column(t.schema.get_field_index("ingested_at"), "ingested_at",
                          pa.array([datetime(2026, 12, 1, tzinfo=UTC)], t.schema.field("ingested_at").type))
             for t in rows]  # another run's moment: not a difference
    second.replace_where("billing_usage", pa.concat_tables(later), date_range_predicate("usage_date", day, day))
    [same] = compare_lakes(first, second)
    assert same.table == "billing_usage" and same.rows == 2 and same.equal

    repeated = pa.concat_tables([rows[0], rows[0]])  # openai twice, anthropic gone
    second.replace_where("billing_usage", repeated, date_range_predicate("usage_date", day, day))
    [changed] = compare_lakes(first, second)
    assert not changed.equal
    assert [('"anthropic"' in r) for r in changed.only_first] == [True]
    assert [('"openai"' in r) for r in changed.only_second] == [True]
