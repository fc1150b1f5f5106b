"""What a provider's admin API is: where it lives, which environment variables hold its key and
an override of its address, how it authenticates, how a report endpoint is asked for a range
of days, and how its pages chain. Declarations only: `admin_api.Puller` does the HTTP."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any


def has_more_cursor(page: dict[str, Any]) -> str | None:
    """OpenAI's and Anthropic's pagination: `has_more` and the `next_page` cursor."""
    return page.get("next_page") if page.get("has_more") else None


@dataclass(frozen=True)
class AdminApi:
    provider: str
    base_url: str
    key_variable: str
    """The environment variable holding the admin key: set, pull mode is on for the provider."""
    base_url_variable: str
    """The environment variable that overrides `base_url` (a proxy, or a local test server)."""
    headers: Callable[[str], dict[str, str]]
    """The request headers for an admin key (the key travels in a header only)."""
    next_page: Callable[[dict[str, Any]], str | None] = has_more_cursor
    page_parameter: str = "page"
    """The query parameter that carries the cursor to the next page."""


@dataclass(frozen=True)
class Endpoint:
    """One report endpoint of an admin API."""

    api: AdminApi
    path: str
    params: Callable[[date, date], list[tuple[str, str]]]
    """Query parameters for the days [first, last] (array parameters repeat their key)."""
