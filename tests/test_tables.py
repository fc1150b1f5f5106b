"""Every table is one declaration: its docs, export contents, data dictionary and Dagster
column schema all come from it (audit_pipeline/tables.py)."""

from pathlib import Path

import dagster as dg
import pytest

from audit_pipeline.definitions import defs
from audit_pipeline.exports.contents import EXPORTED_TABLES
from audit_pipeline.exports.dictionary import undocumented
from audit_pipeline.schemas import TABLES, meaning, source
from audit_pipeline.tables import SPECS, TABLE_SPECS, tables_markdown

DOCS = Path(__file__).parent.parent / "docs" / "tables.md"
TABLE_ASSETS = ("llm_calls", "billing_usage", "billing_costs", "prompt_commits", "prompt_versions", "output_lineage",
                "price_catalog", "spend_reconciliation", "security_findings", "model_catalog", "retention_report")
"""Assets that are a Delta table of the same name (the others write logs and ledgers as they go)."""


def test_every_table_is_declared_once_and_every_column_says_what_it_means_and_where_it_comes_from():
    assert [s.name for s in TABLE_SPECS] == list(dict.fromkeys(s.name for s in TABLE_SPECS))
    assert set(SPECS) == set(TABLES)
    missing = [f"{s.name}.{f.name}" for s in TABLE_SPECS for f in s.schema if not meaning(f) or not source(f)]
    assert missing == []


def test_docs_tables_md_is_generated_from_the_declarations():
    assert DOCS.read_text() == tables_markdown(), "run: python -m audit_pipeline.tables > docs/tables.md"


def test_the_export_holds_the_declared_tables_in_order_with_free_text_hashed():
    assert [t.name for t in EXPORTED_TABLES] == [s.name for s in TABLE_SPECS if s.export]
    for exported in EXPORTED_TABLES:
        names = exported.schema.names
        for column in SPECS[exported.name].free_text:
            assert column not in names and f"{column}_sha256" in names
    assert undocumented() == []


@pytest.mark.parametrize("table", TABLE_ASSETS)
def test_each_table_asset_shows_its_declared_columns_in_dagster(table):
    spec = defs.resolve_asset_graph().get(dg.AssetKey(table))
    schema = spec.metadata["dagster/column_schema"]
    assert [(c.name, c.description) for c in schema.columns] == [(f.name, meaning(f)) for f in SPECS[table].schema]
    assert spec.metadata["dagster/uri"].endswith(f"/{table}")


def test_data_written_to_the_lake_carries_plain_types(tmp_path):
    from audit_pipeline.lake import Lake

    lake = Lake(str(tmp_path / "lake"))
    lake.append("erasure_log", TABLES["erasure_log"].empty_table())
    assert all(not f.metadata for f in lake.read("erasure_log").schema)
