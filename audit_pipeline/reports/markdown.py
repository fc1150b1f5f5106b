"""Small Markdown tables for asset metadata and the demo summary."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")[:100]


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def preview(table: pa.Table, columns: Sequence[str], limit: int = 5) -> str:
    """The first `limit` rows of `columns` as a Markdown table."""
    head = table.select(list(columns)).slice(0, limit).to_pylist()
    return markdown_table(columns, [[row[c] for c in columns] for row in head])
