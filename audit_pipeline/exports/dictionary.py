"""The data dictionary an export carries: every exported column with its type, meaning and
source, from the table declarations (`tables.py`, `schemas.py`)."""

from __future__ import annotations

import csv
import io

from audit_pipeline.exports.contents import EXPORTED_TABLES
from audit_pipeline.schemas import meaning, source
from audit_pipeline.tables import SPECS

HEADER = ("table", "column", "type", "meaning", "source")


def meanings() -> dict[tuple[str, str], tuple[str, str]]:
    """(table, exported column) → (meaning, source); a free-text column is exported as its hash."""
    described = {}
    for exported in EXPORTED_TABLES:
        for field in SPECS[exported.name].schema:
            if field.name in exported.hashed:
                described[(exported.name, f"{field.name}_sha256")] = (
                    f"sha256 of `{field.name}`, {meaning(field)}", source(field))
            else:
                described[(exported.name, field.name)] = (meaning(field), source(field))
    return described


def undocumented() -> list[str]:
    """Exported columns without a meaning, as `table.column`."""
    known = meanings()
    return [f"{t.name}.{f.name}" for t in EXPORTED_TABLES for f in t.schema if not known.get((t.name, f.name), ("",))[0]]


def dictionary_csv() -> bytes:
    """The export's data_dictionary.csv, in table and column order."""
    known = meanings()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for exported in EXPORTED_TABLES:
        for field in exported.schema:
            meaning_text, source_text = known[(exported.name, field.name)]
            writer.writerow([exported.name, field.name, str(field.type), meaning_text, source_text])
    return out.getvalue().encode()
