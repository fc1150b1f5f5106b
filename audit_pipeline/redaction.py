"""Secrets never land: the one redaction step every stored or shown string passes.

Where it runs: every table write (`Lake` masks every string column of what it writes, so the
lake, the reports and the exports built from it never hold a secret), every quarantine
excerpt and error message (they are table rows), and every Dagster metadata value and log
line the assets emit (`defs/redacted.py`, `redact`). Parsers need not remember to call it.

What it finds (docs/reliability.md lists the corpus that proves it): LLM providers' keys
(OpenAI `sk-`, `sk-proj-`, `sk-admin-`, `sk-svcacct-`; Anthropic `sk-ant-`; Google `AIza`;
Hugging Face `hf_`; Bedrock `ABSK`), AWS access key ids and a 40-character secret named
beside them, GitHub, GitLab, Slack (tokens and webhooks), Stripe and Twilio keys, JWTs,
private-key blocks, bearer tokens, passwords in URLs, and the value of any field, header
or `name=value` pair named like a secret, token, password or key (Azure OpenAI keys travel
as an `api-key` header: they have no shape of their own). A value is checked as decoded:
JSON `\\u    r"eyJ", r"[Bb]earer", r"://[^/\\s@]+:[^@/\\s]+@", "(?i:" + _KEYWORD + ")", r"\\u[0-9a-fA-F]{4}",
    r"%[0-9a-fA-F]{2}",XXX` escapes and URL `%XX` escapes are undone first, so `sk\\u002dproj…` is found.

How: a cheap RE2 prefilter runs over whole Arrow columns (`pyarrow.compute`, no Python per
row); only the rare candidates it flags are confirmed and rewritten in Python. A secret is
replaced by `[REDACTED/<kind>/<8 hex>]`, the hex being the start of its SHA-256, so an
investigator can match two occurrences (or a key they hold) without seeing it.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.compute as pc

_KEYWORD = r"(?:secret|token|password|passwd|pwd|api[_-]?key|apikey|access[_-]?key|private[_-]?key|auth|credential)"

TOKEN_PATTERNS: dict[str, str] = {
    "private_key": r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?:[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY-----|[\s\S]*)",
    "anthropic_key": r"sk-ant-[A-Za-z0-9_\-]{8,}",
    "openai_key": r"\bsk-(?:proj-|admin-|svcacct-|None-)?[A-Za-z0-9_\-]{16,}",
    "aws_access_key_id": r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA)[0-9A-Z]{16}\b",
    "bedrock_api_key": r"\bABSK[A-Za-z0-9+/=]{20,}",
    "google_api_key": r"\bAIza[0-9A-Za-z_\-]{35}",
    "huggingface_token": r"\bhf_[A-Za-z0-9]{30,}",
    "github_token": r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})",
    "gitlab_token": r"\bglpat-[A-Za-z0-9_\-]{20,}",
    "slack_token": r"\bxox[abposr]-[A-Za-z0-9\-]{10,}",
    "slack_webhook": r"https://hooks\.slack\.com/services/[A-Za-z0-9/]+",
    "stripe_key": r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}",
    "twilio_key": r"\b(?:SK|AC)[0-9a-f]{32}\b",
    "jwt": r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}",
    "bearer_token": r"\b[Bb]earer\s+[A-Za-z0-9_\-\.=~+/]{12,}",
}
"""Secrets recognisable by their own shape: the whole match is replaced."""

CONTEXT_PATTERNS: dict[str, str] = {
    "url_password": r"(?P<keep>\b[A-Za-z][A-Za-z0-9+.\-]*://[^:/\s@\"']+:)(?P<secret>[^@/\s\"']+)(?=@)",
    "aws_secret_access_key": r"(?i)(?P<keep>aws_?secret_?(?:access_?)?key[\"']?\s*[:=]\s*[\"']?)"
                             r"(?P<secret>[A-Za-z0-9/+]{40})",
    "named_secret": r"(?i)(?P<keep>[\"']?[A-Za-z0-9_.\-]*" + _KEYWORD + r"[\"']?\s*[:=]\s*[\"']?)"
                    r"(?P<secret>[^\s\"'&,;}{\]\[]{6,})",
}
"""Secrets recognised by what names them: only the `secret` group is replaced. `named_secret`
spares values that are ids or counts: the name must end in the keyword (so `api_key_id`,
`input_tokens` and `token_type` are not secrets) and the value be 6 characters or more."""

CANDIDATE_PATTERN = "|".join([
    r"-----BEGIN", r"sk-", r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA)", r"ABSK", r"AIza", r"hf_", r"gh[pousr]_",
    r"github_pat_", r"glpat-", r"xox[abposr]-", r"hooks\.slack\.com", r"_(?:live|test)_", r"\b(?:SK|AC)[0-9a-f]{32}",
    r"eyJ", r"[Bb]earer", r"://[^/\s@]+:[^@/\s]+@", "(?i:" + _KEYWORD + ")", r"\\u[0-9a-fA-F]{4}",
    r"%[0-9a-fA-F]{2}",
])
"""RE2 prefilter: every string holding a secret (escaped or not) matches it; most others do not."""

_TOKENS = [(kind, re.compile(pattern)) for kind, pattern in TOKEN_PATTERNS.items()]
_CONTEXTS = [(kind, re.compile(pattern)) for kind, pattern in CONTEXT_PATTERNS.items()]
_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")
_CANDIDATE = re.compile(CANDIDATE_PATTERN)


def contains_secret(text: str) -> bool:
    """Whether redaction would change `text`: a stored value for which this holds leaked."""
    return redact(text) != text


def fingerprint(secret: str) -> str:
    """The first 8 hex of the secret's SHA-256: matches the same secret, reveals nothing."""
    return hashlib.sha256(secret.encode()).hexdigest()[:8]


def _masked(kind: str, secret: str) -> str:
    return f"[REDACTED/{kind}/{fingerprint(secret)}]"


def _decoded(text: str) -> str:
    """`text` with JSON \\uXXXX and URL %XX escapes undone (as a reader of the value would)."""
    text = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    return unquote(text) if "%" in text else text


def _replace_all(text: str) -> str:
    for kind, pattern in _TOKENS:
        text = pattern.sub(lambda m, kind=kind: _masked(kind, m.group(0)), text)
    for kind, pattern in _CONTEXTS:
        text = pattern.sub(lambda m, kind=kind: m.group("keep") + _masked(kind, m.group("secret")), text)
    return text


def redact(text: str) -> str:
    """`text` with every secret replaced. When only its decoded form reveals a secret, the
    decoded form is returned, masked (an escaped secret must not survive as escapes)."""
    if not text or not _CANDIDATE.search(text):
        return text
    masked = _replace_all(text)
    decoded = _decoded(masked)
    if decoded != masked:
        remasked = _replace_all(decoded)
        if remasked != decoded:
            return remasked
    return masked


def redact_array(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """A string column with every secret replaced: RE2 flags candidates over the whole column,
    and only those are confirmed and rewritten."""
    if isinstance(values, pa.ChunkedArray):
        return pa.chunked_array([redact_array(chunk) for chunk in values.chunks], type=values.type)
    flagged = pc.fill_null(pc.match_substring_regex(values, CANDIDATE_PATTERN), False)
    if not pc.any(flagged).as_py():
        return values
    indices = pc.indices_nonzero(flagged).to_pylist()
    originals = values.take(pa.array(indices)).to_pylist()
    rewritten = [redact(v) for v in originals]
    if rewritten == originals:
        return values
    # Put the candidates back in place, vectorised: the other rows are never touched.
    return pc.replace_with_mask(values, flagged, pa.array(rewritten, type=values.type))


def _is_text(dtype: pa.DataType) -> bool:
    return pa.types.is_string(dtype) or pa.types.is_large_string(dtype) or pa.types.is_string_view(dtype)


def mask_batch(batch: pa.RecordBatch | pa.Table) -> pa.RecordBatch | pa.Table:
    """Every text column of a batch or table with secrets replaced (nested values are built
    by the pipeline from masked columns and are left as they are)."""
    for index, field in enumerate(batch.schema):
        if _is_text(field.type):
            column = batch.column(index)
            masked = redact_array(column)
            if masked is not column:
                batch = batch.set_column(index, field, masked)
    return batch


def mask_reader(reader: pa.RecordBatchReader) -> pa.RecordBatchReader:
    return pa.RecordBatchReader.from_batches(reader.schema, (mask_batch(b) for b in reader))
