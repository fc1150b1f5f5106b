"""Secret patterns that must never reach a table, report, export or log line.

Keys are kept only as the provider's key id (`key_…`, `apikey_…`) or a fingerprint; the
secret itself (`sk-…`, `sk-ant-…`, AWS access keys, bearer tokens) is replaced where found.
The pattern is a plain regular expression so DuckDB (RE2) and Python share it.
"""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc

SECRET_PATTERN = (
    r"(sk-ant-[A-Za-z0-9_\-]{8,}"
    r"|sk-(proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{16,}"
    r"|AKIA[0-9A-Z]{16}"
    r"|[Bb]earer\s+[A-Za-z0-9_\-\.=]{12,})"
)
REDACTED = "[REDACTED]"
SECRET_MARKERS = ("sk-", "AKIA", "earer")
"""A fixed substring every match of SECRET_PATTERN contains (for a cheap prefilter)."""

_SECRET_RE = re.compile(SECRET_PATTERN)


def redact(text: str) -> str:
    """Replace every secret in `text` (for excerpts, error messages and log lines)."""
    return _SECRET_RE.sub(REDACTED, text)


def mask_secrets_sql(expression: str) -> str:
    """DuckDB SQL for `expression` with every secret replaced. The regular expression runs
    only where a secret's fixed part occurs: three substring scans cost a third of one
    regex scan (measured on 200,000 log lines)."""
    prefilter = " OR ".join(f"contains({expression}, '{marker}')" for marker in SECRET_MARKERS)
    return (f"CASE WHEN ({prefilter}) THEN regexp_replace({expression}, '{SECRET_PATTERN}', '{REDACTED}', 'g') "
            f"ELSE {expression} END")


def mask_secrets(table: pa.Table) -> pa.Table:
    """Every text column of a (small) table with secrets replaced."""
    for index, field in enumerate(table.schema):
        if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
            masked = pc.replace_substring_regex(table.column(index), SECRET_PATTERN, REDACTED)
            table = table.set_column(index, field, masked)
    return table
