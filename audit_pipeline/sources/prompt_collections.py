"""Prompt collections: one repository file holding several prompts, each its own prompt id.

Teams keep prompt libraries as one YAML or JSON mapping (`{triage: "...", answer: {...}}`), a
list of entries with an id field, a CSV with an id column, or `.prompty` files whose front
matter names the prompt. Declared in audit.yaml (`prompt_collections`), such a file yields one
prompt per entry, `<file's prompt id>/<entry id>`, with a content hash of the entry's own text:
the `text_field` value when declared (and present), the entry itself when it is a string, else
its canonical JSON (sorted keys). Applications that log `prompt_sha256` hash the same text.

A version of the file that cannot be parsed as declared counts as one prompt (the file), so
its history is never lost; the asset reports how many versions that happened to.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass
from typing import Any

import yaml

from audit_pipeline.sources.globs import glob_body

FORMATS = ("yaml", "json", "csv", "prompty")


class CollectionError(ValueError):
    """A collection file that does not hold entries of the declared shape."""


@dataclass(frozen=True)
class CollectionSpec:
    """Which files are collections and how their entries are found."""

    path: str
    """A glob relative to the repository (`**` crosses folders)."""
    format: str
    id_field: str | None = None
    """For a list or a CSV: the field naming each entry."""
    text_field: str | None = None
    """The field holding the prompt text (hashed); without it the whole entry is."""

    def matches(self, path: str) -> bool:
        return re.fullmatch(glob_body(self.path), path) is not None


def _text(entry: Any, text_field: str | None) -> str:
    if isinstance(entry, str):
        return entry
    if text_field and isinstance(entry, dict) and isinstance(entry.get(text_field), str):
        return entry[text_field]
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), default=str)


def _keyed(document: Any, spec: CollectionSpec, where: str) -> dict[str, Any]:
    if isinstance(document, dict):
        return {str(k): v for k, v in document.items()}
    if isinstance(document, list):
        if not spec.id_field:
            raise CollectionError(f"{where}: a list of entries needs `id_field` in prompt_collections")
        keyed = {}
        for n, entry in enumerate(document):
            if not isinstance(entry, dict) or entry.get(spec.id_field) in (None, ""):
                raise CollectionError(f"{where}: entry {n}: no {spec.id_field!r}")
            keyed[str(entry[spec.id_field])] = entry
        return keyed
    raise CollectionError(f"{where}: expected a mapping or a list of entries")


def _front_matter(text: str, where: str) -> tuple[dict, str]:
    if not text.startswith("---"):
        raise CollectionError(f"{where}: a .prompty file starts with front matter between --- lines")
    _, _, rest = text.partition("\n")
    matter, separator, body = rest.partition("\n---")
    if not separator:
        raise CollectionError(f"{where}: front matter is not closed by ---")
    meta = yaml.safe_load(matter) or {}
    if not isinstance(meta, dict):
        raise CollectionError(f"{where}: front matter is not a mapping")
    return meta, body.partition("\n")[2]


def entry_hashes(spec: CollectionSpec, raw: bytes, where: str) -> dict[str, str]:
    """Entry id → sha256 of the entry's text, for one version of a collection file."""
    try:
        text = raw.decode("utf-8-sig")
        if spec.format == "csv":
            if not spec.id_field:
                raise CollectionError(f"{where}: a CSV collection needs `id_field`")
            rows = list(csv.DictReader(io.StringIO(text)))
            if rows and spec.id_field not in rows[0]:
                raise CollectionError(f"{where}: no column {spec.id_field!r}")
            entries = _keyed(rows, spec, where)
        elif spec.format == "prompty":
            meta, body = _front_matter(text, where)
            name = meta.get(spec.id_field or "name")
            if not name:
                raise CollectionError(f"{where}: front matter has no {spec.id_field or 'name'!r}")
            entries = {str(name): text if not spec.text_field else body}
        else:
            document = json.loads(text) if spec.format == "json" else yaml.safe_load(text)
            entries = _keyed(document, spec, where)
    except (UnicodeDecodeError, json.JSONDecodeError, yaml.YAMLError, csv.Error) as exc:
        raise CollectionError(f"{where}: not {spec.format}: {exc}") from exc
    return {key: hashlib.sha256(_text(entry, spec.text_field).encode()).hexdigest() for key, entry in entries.items()}
