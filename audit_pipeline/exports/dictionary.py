"""The data dictionary an export carries: every exported column with its type, meaning and
source, from `reference/data_dictionary.csv` (a test keeps it complete)."""

from __future__ import annotations

import csv
import io
from importlib.resources import files

from audit_pipeline.exports.contents import EXPORTED_TABLES

HEADER = ("table", "column", "type", "meaning", "source")


def meanings() -> dict[tuple[str, str], tuple[str, str]]:
    """(table, column) → (meaning, source)."""
    text = files("audit_pipeline.reference").joinpath("data_dictionary.csv").read_text(encoding="utf-8")
    return {(r["table"], r["column"]): (r["meaning"], r["source"]) for r in csv.DictReader(io.StringIO(text))}


def undocumented() -> list[str]:
    """Exported columns the dictionary does not describe, as `table.column`."""
    known = meanings()
    return [f"{t.name}.{f.name}" for t in EXPORTED_TABLES for f in t.schema if (t.name, f.name) not in known]


def dictionary_csv() -> bytes:
    """The export's data_dictionary.csv, in table and column order."""
    known = meanings()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for exported in EXPORTED_TABLES:
        for field in exported.schema:
            meaning, source = known[(exported.name, field.name)]
            writer.writerow([exported.name, field.name, str(field.type), meaning, source])
    return out.getvalue().encode()
