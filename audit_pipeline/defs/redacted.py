"""The redaction step for what an asset tells Dagster: every metadata value of every
materialization and check result it yields or returns (previews, failed expectations,
unknown field names, errors) passes `redaction.redact` before Dagster stores it in the
event log, so no secret reaches the UI or the instance's database."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import dagster as dg

from audit_pipeline.redaction import redact

_TEXT_VALUES = ((dg.MarkdownMetadataValue, dg.MetadataValue.md), (dg.TextMetadataValue, dg.MetadataValue.text),
                (dg.PathMetadataValue, dg.MetadataValue.path), (dg.UrlMetadataValue, dg.MetadataValue.url))


def _clean_value(value: Any) -> Any:
    if isinstance(value, dg.MetadataValue):  # before tuples: Dagster's values are records
        for kind, make in _TEXT_VALUES:
            if isinstance(value, kind):
                return make(redact(value.value))
        if isinstance(value, dg.JsonMetadataValue):
            return dg.MetadataValue.json(_clean_value(value.value))
        return value
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact(str(k)): _clean_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean_value(v) for v in value]
    return value


def redact_metadata(metadata: dict | None) -> dict:
    return {redact(key): _clean_value(value) for key, value in (metadata or {}).items()}


def _clean(event: Any) -> Any:
    if isinstance(event, dg.MaterializeResult):
        return event._replace(metadata=redact_metadata(event.metadata),
                              check_results=[_clean(c) for c in event.check_results or []])
    if isinstance(event, dg.AssetCheckResult):
        return event._replace(metadata=redact_metadata(event.metadata))
    if isinstance(event, dg.AssetCheckEvaluation):
        return dg.AssetCheckEvaluation(
            asset_key=event.asset_key, check_name=event.check_name, passed=event.passed,
            metadata=redact_metadata(event.metadata), target_materialization_data=event.target_materialization_data,
            severity=event.severity, description=event.description, blocking=event.blocking,
            partition=event.partition)
    return event


def redacted(fn: Callable) -> Callable:
    """Wrap an asset's function so every event it yields or returns is redacted."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def generator(*args, **kwargs):
            for event in fn(*args, **kwargs):
                yield _clean(event)
        return generator

    @functools.wraps(fn)
    def function(*args, **kwargs):
        return _clean(fn(*args, **kwargs))
    return function
