"""OTLP as real instrumentations write it (issue 16): the OpenTelemetry GenAI conventions,
OpenInference and the Vercel AI SDK (tests/fixtures/real/README.md says where each shape is
published). Every span is accounted for: a record, a rejection with its reason, or skipped
with its reason; none silently."""

from datetime import date

import pyarrow as pa
import pytest

from audit_pipeline.sources.lines import ParsedFile, parse_lines
from audit_pipeline.sources.otlp import OTLP_FORMAT
from tests.conftest import FIXTURES

DAY = date(2026, 6, 14)


def _parse(name: str) -> tuple[dict, list, ParsedFile]:
    result = ParsedFile()
    with (FIXTURES / "real" / "otlp" / name).open("rb") as stream:
        accepted = pa.concat_tables(parse_lines(stream, name, (DAY, DAY), OTLP_FORMAT, result, whole_document=True))
    rejected = [r for t in result.rejected for r in t.to_pylist()]
    return {r["event_id"].split("-")[1]: r for r in accepted.to_pylist()}, rejected, result


def test_vercel_ai_sdk_provider_calls_are_records_and_their_wrappers_are_skipped():
    rows, rejected, result = _parse("vercel-ai-sdk.json")
    assert rejected == []
    assert sorted(rows) == ["00f067aa0ba902b8", "00f067aa0ba902ba", "10f067aa0ba902b8"]  # the doGenerate/doStream
    first, second, stream = rows["00f067aa0ba902b8"], rows["00f067aa0ba902ba"], rows["10f067aa0ba902b8"]
    assert (first["provider"], first["request_model"], first["response_model"]) == (
        "openai", "gpt-4o-mini", "gpt-4o-mini-2024-07-18")  # provider id `openai.responses`
    assert (first["input_tokens"], first["output_tokens"], second["input_tokens"], second["output_tokens"]) == (
        120, 18, 190, 36)  # two billed calls; the wrapper's 310 / 54 is their sum, not a third call
    assert (stream["provider"], stream["input_tokens"], stream["output_tokens"]) == ("anthropic", 156, 423)
    assert stream["ttft_ms"] == pytest.approx(145.3) and stream["finish_reason"] == "stop"
    assert result.skipped == {"sdk_wrapper": 2, "tool_call": 1, "not_a_model_call": 1}
    assert result.rows_read == len(rows) + len(rejected) + sum(result.skipped.values()) == 7


def test_openinference_llm_spans_are_records_and_chains_and_retrievers_are_skipped():
    rows, rejected, result = _parse("openinference.json")
    assert rejected == []
    [call] = rows.values()
    assert (call["ai_system"], call["provider"], call["request_model"]) == ("support-rag", "openai", "gpt-4o-2024-08-06")
    assert (call["input_tokens"], call["output_tokens"], call["cached_input_tokens"], call["reasoning_tokens"]) == (
        1024, 64, 512, 16)
    assert result.skipped == {"not_a_model_call": 2}


def test_current_genai_conventions_read_cache_reasoning_and_time_to_first_chunk():
    rows, rejected, result = _parse("genai-conventions.json")
    assert rejected == []
    [chat] = rows.values()
    assert (chat["provider"], chat["request_model"], chat["response_model"]) == ("openai", "gpt-4.1",
                                                                                  "gpt-4.1-2025-04-14")
    assert (chat["input_tokens"], chat["cached_input_tokens"], chat["output_tokens"], chat["reasoning_tokens"]) == (
        900, 600, 210, 128)
    assert chat["ttft_ms"] == pytest.approx(420.0) and chat["finish_reason"] == "tool_calls"
    assert chat["service_tier"] == "default"  # the tier served (`openai.response.*`), not the one asked for
    # the agent span repeats its chat call's tokens: counting it would double them
    assert result.skipped == {"agent_span": 1, "tool_call": 1}


@pytest.mark.parametrize(("given", "canonical"), [
    ("openai.chat", "openai"), ("openai.responses", "openai"), ("anthropic.messages", "anthropic"),
    ("amazon-bedrock", "aws_bedrock"), ("google.vertex.chat", "gcp_vertex_ai"), ("google.generative-ai", "gcp_gemini"),
    ("azure.ai.openai", "azure_openai"), ("azure.ai.inference", "azure_ai_inference"), ("mistralai", "mistral_ai"),
    ("OpenAI", "openai"), ("someone.else", "someone.else")])
def test_provider_ids_of_every_vocabulary_map_to_one_name(given, canonical):
    import duckdb

    from audit_pipeline.providers import canonical_sql

    assert duckdb.sql(f"SELECT {canonical_sql('$p')}", params={"p": given}).fetchall()[0][0] == canonical


def test_mastra_chat_spans_are_records_and_its_agent_step_chunk_tool_and_workflow_spans_are_skipped():
    rows, rejected, result = _parse("mastra.json")
    assert rejected == []
    assert sorted(rows) == ["a1b2c3d4e5f60002", "a1b2c3d4e5f60006"]  # the two `chat <model>` spans
    openai, anthropic = rows["a1b2c3d4e5f60002"], rows["a1b2c3d4e5f60006"]
    assert (openai["provider"], openai["request_model"], openai["response_model"]) == (
        "openai", "gpt-4o-mini", "gpt-4o-mini-2024-07-18")  # provider id `openai.chat`, as Mastra passes it on
    assert (openai["input_tokens"], openai["cached_input_tokens"], openai["output_tokens"],
            openai["reasoning_tokens"]) == (812, 512, 96, 0)  # `gen_ai.usage.reasoning_tokens`, Mastra's name
    assert openai["ttft_ms"] == pytest.approx(320.0)  # mastra.completion_start_time − the span's start
    assert openai["finish_reason"] == "tool-calls"  # from the JSON array Mastra writes as a string
    assert (anthropic["provider"], anthropic["cache_write_tokens"], anthropic["finish_reason"]) == (
        "anthropic", 1200, "stop")
    assert result.skipped == {"agent_span": 1, "tool_call": 1, "not_a_model_call": 3}  # step, chunk, workflow
    assert result.rows_read == len(rows) + sum(result.skipped.values()) == 7
