"""What runs is readable: static SQL lives in `.sql` files beside its module, and SQL generated
from field lists is pinned by snapshots in tests/fixtures/sql/ (a change shows in review).

To accept a deliberate change: UPDATE_SQL_SNAPSHOTS=1 .venv/bin/pytest tests/test_sql.py
"""

import os
from pathlib import Path

import pytest

from audit_pipeline.sources import export_files, registry
from audit_pipeline.sql import load_sql

SNAPSHOTS = Path(__file__).parent / "fixtures" / "sql"
PACKAGE = Path(__file__).parent.parent / "audit_pipeline"


def _generated() -> dict[str, str]:
    """name → SQL text the code builds from its field lists."""
    queries = {}
    for source in registry.line_sources():
        line_format = source.line_format
        for part in ("checked_sql", "accepted_sql", "unknown_fields_sql", "bulk_checked_sql"):
            if getattr(line_format, part):
                queries[f"{source.name}.{part}"] = getattr(line_format, part)
    for part in ("COSTS_SQL", "USAGE_SQL", "REJECTED_SQL"):
        queries[f"export_files.{part}"] = getattr(export_files, part)
    return queries


@pytest.mark.parametrize("name", sorted(_generated()))
def test_generated_sql_matches_its_reviewed_snapshot(name):
    text = _generated()[name].strip() + "\n"
    snapshot = SNAPSHOTS / f"{name}.sql"
    if os.environ.get("UPDATE_SQL_SNAPSHOTS"):
        snapshot.parent.mkdir(parents=True, exist_ok=True)
        snapshot.write_text(text)
    assert snapshot.read_text() == text, f"{name} changed: review it, then update the snapshot (module docstring)"


def test_every_sql_file_is_loaded_by_name_and_none_is_left_unused():
    files = sorted(PACKAGE.glob("*/sql/*.sql"))
    assert files
    for path in files:
        package = "audit_pipeline." + path.parent.parent.name
        assert load_sql(package, path.stem) == path.read_text()
        used = any(f'"{path.stem}"' in module.read_text() for module in path.parent.parent.glob("*.py"))
        assert used, f"{path} is not loaded by any module beside it"
