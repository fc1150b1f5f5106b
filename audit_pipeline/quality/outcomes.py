"""One expectation's results over slices of a batch, combined into its result over the whole.

The suites hold per-row rules and uniqueness of a key; validated over consecutive key ranges
(every copy of a key in one range, each range in key order), their counts add up, a rule
passes when it passes on every slice, and the first unexpected values of the slices in order
are the first of the whole. GX runs over no more than one slice at a time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

EXAMPLES = 5
"""Unexpected values kept per failed expectation (enough to find the rows, never a dump)."""


@dataclass(frozen=True)
class Outcome:
    """One expectation's result on one batch."""

    expectation: str
    """Its GX type and arguments, e.g. `expect_column_values_to_be_unique(column=event_id)`."""
    column: str | None
    critical: bool
    """Set in the expectation's `meta` by its suite: a failure blocks downstream assets."""
    success: bool
    observed: str
    """What GX measured, in words: `0 of 412 unexpected` or the observed value."""
    element_count: int | None
    unexpected_count: int | None
    examples: str | None
    """Up to EXAMPLES unexpected values as JSON, secrets masked."""


def _sum(values: list[int | None]) -> int | None:
    return None if any(v is None for v in values) else sum(values)


def _examples(parts: list[Outcome]) -> str | None:
    values = [v for p in parts if p.examples for v in json.loads(p.examples)][:EXAMPLES]
    return json.dumps(values, default=str) if values else None


def combine(slices: list[list[Outcome]]) -> list[Outcome]:
    """Per expectation (the suite's order), its outcome over all `slices`."""
    combined = []
    for parts in zip(*slices, strict=True):
        elements, unexpected = _sum([p.element_count for p in parts]), _sum([p.unexpected_count for p in parts])
        counted = elements is not None and unexpected is not None
        failed = [p for p in parts if not p.success]
        observed = f"{unexpected} of {elements} unexpected" if counted else (failed or parts)[0].observed
        combined.append(replace(parts[0], success=not failed, observed=observed, element_count=elements,
                                unexpected_count=unexpected, examples=_examples(parts)))
    return combined
