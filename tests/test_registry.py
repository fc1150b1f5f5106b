"""A source is one declaration: a provider added as one module (tests/acme_billing.py) plus
one registry entry is listed, pulled, ingested, sensed and reconciled with no other edit."""

import json
import shutil
import threading
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs, urlparse

import dagster as dg
import pytest

from audit_pipeline.definitions import defs
from audit_pipeline.defs.resources import storage_from_settings
from audit_pipeline.runner import materialize_range
from audit_pipeline.settings import load_settings
from audit_pipeline.sources import registry
from audit_pipeline.storage import lake_for
from tests import acme_billing

ACME_KEY = "acme-admin-" + "k" * 32


class AcmeApi(BaseHTTPRequestHandler):
    """Acme's usage endpoint: one key's usage per requested day, over two pages."""

    seen: ClassVar[list[tuple[str, dict, str | None]]] = []

    def do_GET(self):
        url = urlparse(self.path)
        query = parse_qs(url.query)
        AcmeApi.seen.append((url.path, query, self.headers.get("X-Acme-Key")))
        first, last = date.fromisoformat(query["from"][0]), date.fromisoformat(query["to"][0])
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        half = (len(days) + 1) // 2
        chunk, more = (days[half:], False) if query.get("page") == ["2"] else (days[:half], True)
        page = {"data": [{"date": d.isoformat(), "results": [
            {"key_id": "key_acme_1", "model": "acme-large-2026-01-01", "tokens_in": 1000, "tokens_out": 200,
             "calls": 10}]} for d in chunk], "has_more": more, "next_page": "2" if more else None}
        self.send_response(200)
        self.end_headers()
        self.wfile.write(json.dumps(page).encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def acme(monkeypatch, sample_landing, tmp_path):
    """The one registry entry, Acme's key and address, and a copy of the sample landing zone."""
    monkeypatch.setattr(registry, "SOURCES", (*registry.SOURCES, acme_billing.SOURCE))
    server = ThreadingHTTPServer(("127.0.0.1", 0), AcmeApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    AcmeApi.seen = []
    landing = tmp_path / "landing"
    shutil.copytree(sample_landing[0], landing)
    yield load_settings({"AUDIT_LANDING": str(landing), "AUDIT_LAKE": str(tmp_path / "lake"),
                         "AUDIT_REPORTS": str(tmp_path / "reports"), "DAGSTER_HOME": str(tmp_path / "dagster_home"),
                         "ACME_ADMIN_KEY": ACME_KEY,
                         "AUDIT_ACME_API_BASE": f"http://127.0.0.1:{server.server_address[1]}/v2"}), sample_landing[1]
    server.shutdown()


def test_a_provider_added_as_one_module_and_one_entry_is_listed_pulled_ingested_sensed_and_reconciled(acme):
    settings, truth = acme
    days = [date.fromisoformat(d) for d in truth["days"]]
    # listed
    assert "acme_usage" in {s.name for s in registry.page_sources()}
    assert settings.admin_apis["acme"].endswith("/v2") and "acme" in settings.admin_keys
    # pulled, through Dagster, from the local server, both pages
    assert materialize_range(settings, days[0], days[-1]).success
    assert [(path, query.get("page"), key) for path, query, key in AcmeApi.seen] == [
        ("/v2/usage", None, ACME_KEY), ("/v2/usage", ["2"], ACME_KEY)]
    pages = sorted(p.relative_to(settings.landing).as_posix() for p in
                   Path(settings.landing, "billing/acme/usage").rglob("*.json"))
    assert len(pages) == 2 and all(p.startswith("billing/acme/usage/pull-") for p in pages)
    # ingested, with the file's counts
    lake = lake_for(settings)
    usage = lake.read("billing_usage", where="provider = 'acme'").to_pylist()
    assert sorted(r["usage_date"] for r in usage) == days and all(r["output_tokens"] == 200 for r in usage)
    log = lake.read("ingest_log", where="source = 'acme_usage'").to_pylist()
    assert sum(r["rows_accepted"] for r in log) == len(days) and all(r["status"] == "ok" for r in log)
    # reconciled: billed on a key no application logs
    rows = lake.read("spend_reconciliation", where="provider = 'acme'").to_pylist()
    assert {(r["usage_date"], r["token_type"], r["status"]) for r in rows} == {
        (d, t, "billed_not_logged") for d in days for t in ("uncached_input", "output")}
    # sensed: a new pull of Acme's pages asks for exactly the days they hold
    sensor = defs.resolve_sensor_def("landing_files")
    context = dg.build_sensor_context(resources={"storage": storage_from_settings(settings)})
    cursor = (sensor.evaluate_tick(context), context.cursor)[1]
    later = Path(settings.landing, "billing/acme/usage/pull-later/page-001.json")
    later.parent.mkdir(parents=True)
    later.write_text(json.dumps({"data": [{"date": days[1].isoformat(), "results": []}], "has_more": False}))
    [request] = sensor.evaluate_tick(dg.build_sensor_context(cursor=cursor, resources={
        "storage": storage_from_settings(settings)})).run_requests
    assert (request.tags["dagster/asset_partition_range_start"],
            request.tags["dagster/asset_partition_range_end"]) == (days[1].isoformat(), days[1].isoformat())
    # the admin key landed nowhere
    stored = "".join(p.read_text(errors="replace") for p in Path(settings.lake).rglob("*")
                     if p.is_file() and p.suffix in (".json", ".parquet"))
    assert ACME_KEY not in stored


def test_the_sample_generator_and_the_bad_input_corpus_iterate_over_the_registry():
    written = [s.name for s in registry.SOURCES if s.sample is not None]
    assert written == [s.name for s in registry.SOURCES]  # every source can make its sample files
    assert {s.fixtures for s in registry.SOURCES} == {"app", "otlp", "openai", "anthropic", "aws_cur", "focus"}
