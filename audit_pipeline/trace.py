"""`audit-pipeline trace ID`: the lineage of one output, as an auditor would ask for it."""

from __future__ import annotations

from typing import Protocol

import pyarrow as pa

from audit_pipeline.lake import sql_quote


class NotFound(LookupError):
    pass


class Tables(Protocol):
    """The lake, or an auditor export read back (exports/reader.py)."""

    def read(self, table: str, where: str | None = None) -> pa.Table: ...


def trace_output(lake: Tables, output_id: str) -> dict[str, object]:
    """Everything known about one output, by event_id or response_id, from the lake or from
    an export alone (which holds commit messages only as their sha256)."""
    key = sql_quote(output_id)
    found = lake.read("output_lineage", where=f"event_id = {key} OR response_id = {key}").to_pylist()
    if not found:
        raise NotFound(f"no output with event_id or response_id {output_id!r} in output_lineage")
    lineage = found[0]
    call = lake.read("llm_calls", where=f"event_id = {sql_quote(lineage['event_id'])}").to_pylist()
    commit = []
    if lineage["prompt_version"]:
        commit = lake.read("prompt_commits",
                           where=f"commit_sha = {sql_quote(lineage['prompt_version'])}").to_pylist()
    record: dict[str, object] = {
        "event_id": lineage["event_id"],
        "response_id": lineage["response_id"],
        "timestamp": lineage["timestamp"],
        "ai_system": lineage["ai_system"],
        "provider": lineage["provider"],
        "api_key_id": lineage["api_key_id"],
        "prompt_id": lineage["prompt_id"],
        "prompt_version": lineage["prompt_version"],
        "prompt_path": lineage["prompt_path"],
        "prompt_content_sha256": lineage["prompt_content_sha256"],
        "resolution": lineage["resolution"],
        "resolution_note": lineage["resolution_note"],
        "prompt_author": lineage["prompt_author"],
        "prompt_approved_by": lineage["prompt_approved_by"],
        "prompt_owners": lineage["prompt_owners"],
        "request_model": lineage["request_model"],
        "response_model": lineage["response_model"],
        "model_status": lineage["model_status"],
        "tokens (input/cached/cache write/output)": "/".join(
            str(lineage[k]) for k in ("input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens")),
        "computed_cost_usd": lineage["computed_cost_usd"],
        "price_id": lineage["price_id"],
    }
    if commit:
        if "message" in commit[0]:
            record["commit_message"] = commit[0]["message"].splitlines()[0]
        else:
            record["commit_message_sha256"] = commit[0]["message_sha256"]
        record["committed_at"] = commit[0]["committed_at"]
    if call:
        record["source"] = f"{call[0]['source_file']} line {call[0]['line_no']}"
    return record


def render_trace(record: dict[str, object]) -> str:
    width = max(len(k) for k in record)
    return "\n".join(f"{k.ljust(width)}  {'-' if v is None else v}" for k, v in record.items())
