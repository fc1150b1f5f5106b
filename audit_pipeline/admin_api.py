"""Pull usage and cost reports from providers' admin APIs into the landing zone.

Which APIs and endpoints exist is declared in the source registry (each page source names
its endpoint); this module only does the HTTP.

Each page is saved exactly as the API returned it (the landing file is the evidence)
before anything reads it; parsing happens later, from the landing zone, like any other
page. Requests follow `has_more` / `next_page`, and a 429 or 5xx answer is retried with a
bounded exponential backoff that honours `Retry-After`. The admin key is sent in a header
only: it is never written to a file, an exception message or a log line.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

import requests

from audit_pipeline.landing import Landing
from audit_pipeline.sources import registry
from audit_pipeline.sources.pull import AdminApi

RETRYABLE = {429, 500, 502, 503, 504}


class PullError(RuntimeError):
    """A pull that could not complete; the message names the endpoint, never the key."""


@dataclass
class PullResult:
    pages: list[str] = field(default_factory=list)
    retries: int = 0


@dataclass
class Puller:
    """Fetches an API's endpoints page by page and saves every page into the landing zone."""

    api: AdminApi
    admin_key: str
    base_url: str | None = None
    max_attempts: int = 5
    backoff_seconds: float = 1.0
    timeout_seconds: float = 60.0
    sleep: Callable[[float], None] = time.sleep

    def _get(self, url: str, params: list[tuple[str, str]], result: PullResult) -> bytes:
        problem = "no attempt"
        for attempt in range(1, self.max_attempts + 1):
            wait = None
            try:
                response = requests.get(url, params=params, headers=self.api.headers(self.admin_key),
                                        timeout=self.timeout_seconds)
            except requests.RequestException as exc:
                problem = type(exc).__name__  # the exception text could echo request details
            else:
                if response.status_code == 200:
                    return response.content
                if response.status_code not in RETRYABLE:
                    raise PullError(f"{self.api.provider} {url}: HTTP {response.status_code}")
                problem = f"HTTP {response.status_code}"
                wait = _retry_after(response.headers.get("Retry-After"))
            if attempt < self.max_attempts:
                result.retries += 1
                self.sleep(wait if wait is not None else self.backoff_seconds * 2 ** (attempt - 1))
        raise PullError(f"{self.api.provider} {url}: {problem} after {self.max_attempts} attempts")

    def pull(self, landing: Landing, first: date, last: date, pulled_at: datetime) -> PullResult:
        """Fetch every endpoint for the days [first, last]; pages land under `pull-<time>/`."""
        result = PullResult()
        folder = f"pull-{pulled_at:%Y%m%dT%H%M%SZ}"
        for endpoint, prefix in registry.endpoints(self.api):
            url = (self.base_url or self.api.base_url).rstrip("/") + endpoint.path
            params = endpoint.params(first, last)
            for number in range(1, 10_000):
                raw = self._get(url, params, result)
                path = f"{prefix}/{folder}/page-{number:03d}.json"
                landing.write_bytes(path, raw)  # evidence first, then read the cursor
                result.pages.append(path)
                cursor = self.api.next_page(_page(raw, path))
                if cursor is None:
                    break
                parameter = self.api.page_parameter
                params = [p for p in endpoint.params(first, last) if p[0] != parameter] + [(parameter, cursor)]
        return result


def _retry_after(value: str | None) -> float | None:
    try:
        return min(float(value), 60.0) if value is not None else None
    except ValueError:
        return None


def _page(raw: bytes, path: str) -> dict:
    try:
        page = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise PullError(f"{path}: the API returned a page that is not JSON; it was saved as evidence") from exc
    if not isinstance(page, dict):
        raise PullError(f"{path}: the API returned a page that is not an object; it was saved")
    return page
