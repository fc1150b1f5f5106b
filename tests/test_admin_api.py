"""Pull mode against a local HTTP server serving the documented response shapes."""

import json
import logging
import threading
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import parse_qs, urlparse

import pytest

from audit_pipeline.admin_api import Puller, PullError
from audit_pipeline.lake import Lake
from audit_pipeline.landing import Landing
from audit_pipeline.loads.billing import load_billing
from audit_pipeline.sources.anthropic_billing import ADMIN_API as ANTHROPIC
from audit_pipeline.sources.openai_billing import ADMIN_API as OPENAI
from tests.conftest import FIXTURES

ADMIN_KEY = "sk-admin-" + "x" * 40  # what a real admin key looks like; must never land
DAY = date(2025, 10, 5)
NOW = datetime(2025, 10, 6, 2, tzinfo=UTC)


class FakeAdminApi(BaseHTTPRequestHandler):
    """Serves pages per path; a scripted list of responses per path, last one repeats."""

    script: ClassVar[dict[str, list[tuple[int, bytes]]]] = {}
    seen: ClassVar[list[tuple[str, dict, dict]]] = []

    def do_GET(self):
        url = urlparse(self.path)
        FakeAdminApi.seen.append((url.path, parse_qs(url.query), dict(self.headers)))
        responses = FakeAdminApi.script[url.path]
        status, body = responses.pop(0) if len(responses) > 1 else responses[0]
        self.send_response(status)
        if status == 429:
            self.send_header("Retry-After", "0")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def api_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeAdminApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeAdminApi.seen = []
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def _page(document: dict, *, has_more: bool, cursor: str | None) -> bytes:
    return json.dumps({**document, "has_more": has_more, "next_page": cursor}).encode()


def test_openai_pages_are_fetched_through_a_429_and_saved_as_returned(api_server, tmp_path, caplog):
    usage = json.loads((FIXTURES / "openai/usage_page.json").read_text())
    first_half = {"object": "page", "data": usage["data"][:2]}
    second_half = {"object": "page", "data": usage["data"][2:]}  # an empty bucket only
    costs = json.loads((FIXTURES / "openai/costs_page.json").read_text())
    FakeAdminApi.script = {
        "/v1/organization/usage/completions": [
            (429, b'{"error": "rate limited"}'),
            (200, _page(first_half, has_more=True, cursor="page_2")),
            (200, _page(second_half, has_more=False, cursor=None)),
        ],
        "/v1/organization/costs": [(503, b"busy"), (200, json.dumps(costs).encode())],
    }
    landing = Landing(str(tmp_path / "landing"))
    caplog.set_level(logging.DEBUG)
    puller = Puller(OPENAI, ADMIN_KEY, api_server, sleep=lambda _: None)
    result = puller.pull(landing, DAY, DAY, NOW)

    assert result.retries == 2
    assert result.pages == [
        "billing/openai/usage/pull-20251006T020000Z/page-001.json",
        "billing/openai/usage/pull-20251006T020000Z/page-002.json",
        "billing/openai/costs/pull-20251006T020000Z/page-001.json",
    ]
    saved = (tmp_path / "landing" / result.pages[1]).read_bytes()
    assert saved == _page(second_half, has_more=False, cursor=None)  # byte for byte
    paths_and_queries = [(p, q) for p, q, _ in FakeAdminApi.seen]
    assert paths_and_queries[2][1]["page"] == ["page_2"]
    assert paths_and_queries[0][1]["group_by"] == ["project_id", "api_key_id", "model"]
    assert all(h["Authorization"] == f"Bearer {ADMIN_KEY}" for _, _, h in FakeAdminApi.seen)
    everything = "".join(p.read_text() for p in (tmp_path / "landing").rglob("*.json")) + caplog.text
    assert ADMIN_KEY not in everything

    lake = Lake(str(tmp_path / "lake"))
    reports = {r.source: r for r in load_billing(landing, lake, date(2025, 10, 5), date(2025, 10, 5), NOW)}
    assert reports["openai_usage"].total("rows_accepted") == 2


def test_anthropic_uses_its_headers_and_bracketed_array_parameters(api_server, tmp_path):
    report = (FIXTURES / "anthropic/usage_page.json").read_bytes()
    FakeAdminApi.script = {
        "/v1/organizations/usage_report/messages": [(200, _page(json.loads(report), has_more=False, cursor=None))],
        "/v1/organizations/cost_report": [(200, (FIXTURES / "anthropic/cost_page.json").read_bytes())],
    }
    Puller(ANTHROPIC, ADMIN_KEY, api_server, sleep=lambda _: None).pull(
        Landing(str(tmp_path / "landing")), DAY, DAY, NOW)
    path, query, headers = FakeAdminApi.seen[0]
    assert path == "/v1/organizations/usage_report/messages"
    assert headers["x-api-key"] == ADMIN_KEY and headers["anthropic-version"] == "2023-06-01"
    assert query["group_by[]"] == ["api_key_id", "workspace_id", "model"]
    assert query["starting_at"] == ["2025-10-05T00:00:00Z"] and query["ending_at"] == ["2025-10-06T00:00:00Z"]


def test_a_malformed_page_is_saved_as_evidence_and_stops_the_pull(api_server, tmp_path):
    FakeAdminApi.script = {"/v1/organization/usage/completions": [(200, b'{"data": [ truncated')]}
    with pytest.raises(PullError, match="not JSON") as error:
        Puller(OPENAI, ADMIN_KEY, api_server, sleep=lambda _: None).pull(
            Landing(str(tmp_path / "landing")), DAY, DAY, NOW)
    assert ADMIN_KEY not in str(error.value)
    [saved] = (tmp_path / "landing").rglob("page-001.json")
    assert saved.read_bytes() == b'{"data": [ truncated'


def test_retries_are_bounded(api_server, tmp_path):
    FakeAdminApi.script = {"/v1/organization/usage/completions": [(500, b"down")]}
    waits = []
    with pytest.raises(PullError, match="HTTP 500 after 5 attempts"):
        Puller(OPENAI, ADMIN_KEY, api_server, sleep=waits.append).pull(
            Landing(str(tmp_path / "landing")), DAY, DAY, NOW)
    assert waits == [1.0, 2.0, 4.0, 8.0]  # exponential, then it gives up


def test_a_client_error_is_not_retried_and_names_no_key(api_server, tmp_path):
    FakeAdminApi.script = {"/v1/organization/usage/completions": [(401, b'{"error": "invalid key"}')]}
    with pytest.raises(PullError, match="HTTP 401") as error:
        Puller(OPENAI, ADMIN_KEY, api_server, sleep=lambda _: None).pull(
            Landing(str(tmp_path / "landing")), DAY, DAY, NOW)
    assert ADMIN_KEY not in str(error.value) and len(FakeAdminApi.seen) == 1
