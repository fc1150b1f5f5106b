"""The data-quality suites, kept as code: one per table, each a list of GX expectations.

An expectation is **critical** when a failure means the table cannot be trusted at all: ids
missing or repeated, a row filed under another day, a negative token count, a lineage
resolution outside its enum. Its asset check is blocking, so no downstream asset is built
on top of it. The others are **advisory**: a failure is shown in the Dagster UI and kept in
`dq_results`, and the pipeline goes on (an unknown currency must not stop lineage).

Expectations read a projection of the table (`projection`, DuckDB over the registered
`rows`): only the columns a suite needs leave Delta, and derived columns (the UTC day of a
timestamp, a prompt version's key) are computed there, in SQL, not per row in Python.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

from audit_pipeline.lake import Lake
from audit_pipeline.loads.lineage import MODEL_STATUSES, RESOLUTIONS
from audit_pipeline.providers import KNOWN_PROVIDERS

if TYPE_CHECKING:
    import great_expectations.expectations as gxe
else:
    class _Lazy:
        """`great_expectations.expectations`, imported on first use: GX takes about 2.5 s
        to import, and a run whose tables and suites are unchanged never needs it."""

        def __getattr__(self, name: str):
            return getattr(importlib.import_module("great_expectations.expectations"), name)

    gxe = _Lazy()

Expectations = Callable[[Lake], list["gxe.Expectation"]]


@dataclass(frozen=True)
class Suite:
    table: str
    columns: tuple[str, ...]
    """The columns read from Delta."""
    projection: str
    """DuckDB SELECT over `rows` giving the columns the expectations read, in a fixed order
    (GX reports the first unexpected values it meets: the same data gives the same examples)."""
    expectations: Expectations
    """Built per run: referential rules read their reference set from the lake."""
    partition_column: str | None = None
    """Validated one UTC day at a time when set; the whole table otherwise."""
    slice_key: str | None = None
    """A day larger than GX is given at once is validated in ranges of this column (the one
    the projection orders by and the suite's uniqueness rule is on); None: never sliced."""
    references: tuple[str, ...] = ()
    """Tables the rules read a reference set from: a new version of one re-runs the suite."""


def critical(expectation: gxe.Expectation) -> gxe.Expectation:
    expectation.meta = {**(expectation.meta or {}), "critical": True}
    return expectation


@cache
def iso_currencies() -> tuple[str, ...]:
    """ISO 4217 codes a bill can be in (shipped in reference/currencies.csv)."""
    text = (resources.files("audit_pipeline.reference") / "currencies.csv").read_text()
    rows = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return tuple(rows[1:])  # after the header


def _id_rules(column: str) -> list[gxe.Expectation]:
    return [critical(gxe.ExpectColumnValuesToNotBeNull(column=column)),
            critical(gxe.ExpectColumnValuesToBeUnique(column=column))]


def _same_day(partition_column: str, day_column: str) -> gxe.Expectation:
    """Every row is filed under the UTC day of its own timestamp."""
    return critical(gxe.ExpectColumnPairValuesToBeEqual(column_A=partition_column, column_B=day_column))


def _not_negative(*columns: str, is_critical: bool = True) -> list[gxe.Expectation]:
    rules = [gxe.ExpectColumnValuesToBeBetween(column=c, min_value=0) for c in columns]
    return [critical(r) for r in rules] if is_critical else rules


def _non_empty(column: str, required: bool = True) -> list[gxe.Expectation]:
    rules = [gxe.ExpectColumnValueLengthsToBeBetween(column=column, min_value=1)]
    return [gxe.ExpectColumnValuesToNotBeNull(column=column), *rules] if required else rules


def _known_provider() -> gxe.Expectation:
    return gxe.ExpectColumnValuesToBeInSet(column="provider", value_set=sorted(KNOWN_PROVIDERS))


CALL_TOKENS = ("input_tokens", "output_tokens", "cached_input_tokens", "cache_write_tokens",
               "reasoning_tokens")

LLM_CALLS_SUITE = Suite(
    table="llm_calls",
    partition_column="event_date",
    slice_key="event_id",
    columns=("event_id", "event_date", "timestamp", "ai_system", "provider", "request_model",
             "response_model", *CALL_TOKENS, "latency_ms"),
    projection=f"""SELECT event_id, event_date, CAST("timestamp" AS DATE) AS timestamp_day, ai_system,
                          provider, request_model, response_model, {", ".join(CALL_TOKENS)}, latency_ms
                   FROM rows ORDER BY event_id""",
    expectations=lambda lake: [
        *_id_rules("event_id"),
        _same_day("event_date", "timestamp_day"),
        *_not_negative(*CALL_TOKENS),
        gxe.ExpectColumnValuesToNotBeNull(column="ai_system"),
        _known_provider(),
        *_non_empty("request_model"),
        *_non_empty("response_model", required=False),
        *_not_negative("latency_ms", is_critical=False),
    ],
)

USAGE_TOKENS = ("uncached_input_tokens", "cache_read_tokens", "cache_write_tokens",
                "cache_write_1h_tokens", "output_tokens", "requests")

BILLING_USAGE_SUITE = Suite(
    table="billing_usage",
    partition_column="usage_date",
    columns=("usage_date", "bucket_start", "bucket_end", "provider", "model", *USAGE_TOKENS),
    projection=f"""SELECT usage_date, CAST(bucket_start AS DATE) AS bucket_day, bucket_start, bucket_end,
                          provider, model, {", ".join(USAGE_TOKENS)}
                   FROM rows ORDER BY ALL""",
    expectations=lambda lake: [
        critical(gxe.ExpectColumnValuesToNotBeNull(column="provider")),
        _same_day("usage_date", "bucket_day"),
        critical(gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="bucket_end", column_B="bucket_start", or_equal=True)),
        *_not_negative(*USAGE_TOKENS),
        _known_provider(),
        *_non_empty("model"),
    ],
)

BILLING_COSTS_SUITE = Suite(
    table="billing_costs",
    partition_column="usage_date",
    columns=("usage_date", "charge_period_start", "charge_period_end", "provider", "billed_cost",
             "billing_currency", "model"),
    projection="""SELECT usage_date, CAST(charge_period_start AS DATE) AS charge_day, charge_period_start,
                         charge_period_end, provider, billed_cost, typeof(billed_cost) AS billed_cost_type,
                         billing_currency, model
                  FROM rows ORDER BY ALL""",
    expectations=lambda lake: [
        critical(gxe.ExpectColumnValuesToNotBeNull(column="provider")),
        critical(gxe.ExpectColumnValuesToNotBeNull(column="billed_cost")),
        # Money is an exact decimal, never a float (docs/contract.md): the stored type, as DuckDB names it.
        critical(gxe.ExpectColumnValuesToMatchRegex(column="billed_cost_type", regex=r"^DECIMAL\(")),
        _same_day("usage_date", "charge_day"),
        critical(gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="charge_period_end", column_B="charge_period_start", or_equal=True)),
        _known_provider(),
        gxe.ExpectColumnValuesToBeInSet(column="billing_currency", value_set=list(iso_currencies())),
        *_not_negative("billed_cost", is_critical=False),
    ],
)


def _prompt_version_keys(lake: Lake) -> list[str]:
    versions = lake.read("prompt_versions", columns=["prompt_id", "version"]).to_pylist()
    return sorted({f"{v['prompt_id']}@{v['version']}" for v in versions})


LINEAGE_TOKENS = ("input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens")

OUTPUT_LINEAGE_SUITE = Suite(
    table="output_lineage",
    partition_column="event_date",
    slice_key="event_id",
    columns=("event_id", "event_date", "timestamp", "prompt_id", "prompt_version", "resolution",
             "model_status", *LINEAGE_TOKENS, "computed_cost_usd"),
    # Cost as a double is exact enough for a sign test and 10× cheaper to hand to pandas.
    projection=f"""SELECT event_id, event_date, CAST("timestamp" AS DATE) AS timestamp_day, resolution,
                          CASE WHEN resolution <> 'unresolved' THEN prompt_id || '@' || prompt_version
                          END AS resolved_prompt_version,
                          model_status, {", ".join(LINEAGE_TOKENS)},
                          CAST(computed_cost_usd AS DOUBLE) AS computed_cost_usd
                   FROM rows ORDER BY event_id""",
    expectations=lambda lake: [
        *_id_rules("event_id"),
        _same_day("event_date", "timestamp_day"),
        critical(gxe.ExpectColumnValuesToNotBeNull(column="resolution")),
        critical(gxe.ExpectColumnValuesToBeInSet(column="resolution", value_set=list(RESOLUTIONS))),
        # Referential: a resolved output names a version the repository has.
        critical(gxe.ExpectColumnValuesToBeInSet(column="resolved_prompt_version",
                                                 value_set=_prompt_version_keys(lake))),
        *_not_negative(*LINEAGE_TOKENS),
        gxe.ExpectColumnValuesToBeInSet(column="model_status", value_set=list(MODEL_STATUSES)),
        *_not_negative("computed_cost_usd", is_critical=False),
    ],
    references=("prompt_versions",),
)

PROMPT_VERSIONS_SUITE = Suite(
    table="prompt_versions",
    columns=("prompt_id", "version", "content_sha256", "change_type", "valid_from", "valid_to"),
    projection="SELECT *, prompt_id || '@' || version AS version_key FROM rows ORDER BY ALL",
    expectations=lambda lake: [
        critical(gxe.ExpectColumnValuesToNotBeNull(column="prompt_id")),
        critical(gxe.ExpectColumnValuesToNotBeNull(column="version")),
        critical(gxe.ExpectColumnValuesToBeUnique(column="version_key")),
        critical(gxe.ExpectColumnValuesToBeInSet(
            column="change_type", value_set=["added", "modified", "renamed", "deleted"])),
        gxe.ExpectColumnValuesToMatchRegex(column="content_sha256", regex=r"^[0-9a-f]{64}$"),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="valid_to", column_B="valid_from",
                                                   or_equal=True, ignore_row_if="either_value_is_missing"),
    ],
)

PROMPT_COMMITS_SUITE = Suite(
    table="prompt_commits",
    columns=("commit_sha", "author_email", "committed_at"),
    projection="SELECT * FROM rows ORDER BY ALL",
    expectations=lambda lake: [
        *_id_rules("commit_sha"),
        critical(gxe.ExpectColumnValuesToMatchRegex(column="commit_sha", regex=r"^[0-9a-f]{40}$")),
        gxe.ExpectColumnValuesToNotBeNull(column="author_email"),
        gxe.ExpectColumnValuesToNotBeNull(column="committed_at"),
    ],
)

SUITES: dict[str, Suite] = {s.table: s for s in (
    LLM_CALLS_SUITE, BILLING_USAGE_SUITE, BILLING_COSTS_SUITE, OUTPUT_LINEAGE_SUITE,
    PROMPT_VERSIONS_SUITE, PROMPT_COMMITS_SUITE,
)}
"""Every silver and gold table's suite, by table name."""
