"""CODEOWNERS: who owns a prompt file (GitHub/GitLab syntax, last matching rule wins)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from audit_pipeline.sources.globs import glob_body

CODEOWNERS_PATHS = ("CODEOWNERS", ".github/CODEOWNERS", "docs/CODEOWNERS", ".gitlab/CODEOWNERS")


@dataclass(frozen=True)
class OwnerRule:
    pattern: re.Pattern[str]
    owners: tuple[str, ...]


def _pattern_to_regex(pattern: str) -> re.Pattern[str]:
    """gitignore-style pattern → regex over repository-relative paths."""
    anchored = pattern.startswith("/") or "/" in pattern.rstrip("/")
    directory = pattern.endswith("/")
    core = glob_body(pattern.strip("/"))
    prefix = "^" if anchored else "^(?:.*/)?"
    # A pattern matches the path itself or anything below it (a directory).
    suffix = "/.*$" if directory else "(?:/.*)?$"
    return re.compile(prefix + core + suffix)


def parse_codeowners(text: str) -> list[OwnerRule]:
    rules = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or line.startswith("["):
            continue
        pattern, *owners = line.split()
        rules.append(OwnerRule(_pattern_to_regex(pattern), tuple(owners)))
    return rules


def owners_of(path: str, rules: list[OwnerRule]) -> str | None:
    """Comma-separated owners of `path`, or None when no rule matches."""
    for rule in reversed(rules):
        if rule.pattern.match(path):
            return ",".join(rule.owners) or None
    return None
