"""Path globs as used by AUDIT_PROMPT_GLOBS and CODEOWNERS: `**` crosses folders, `*` does not."""

from __future__ import annotations

import re


def glob_body(glob: str) -> str:
    """The regular-expression body of `glob` (no anchors)."""
    out, i = [], 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif glob[i] == "*":
            out.append("[^/]*")
            i += 1
        elif glob[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(glob[i]))
            i += 1
    return "".join(out)
