"""Secret patterns that must never reach a table, report, export or log line.

Keys are kept only as the provider's key id (`key_…`, `apikey_…`) or a fingerprint; the
secret itself (`sk-…`, `sk-ant-…`, AWS access keys, bearer tokens) is replaced where found.
The pattern is a plain regular expression so DuckDB (RE2) and Python share it.
"""

from __future__ import annotations

import re

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
