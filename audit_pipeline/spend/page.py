"""Write the spend and security HTML page of a day (reports/spend_html.py) to the report folder."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from audit_pipeline.lake import Lake, date_range_predicate
from audit_pipeline.landing import Landing
from audit_pipeline.reports.spend_html import PERIOD_DAYS, render_spend_html


def spend_page_path(day: date) -> str:
    return f"spend/{day.isoformat()}.html"


def publish_spend_page(lake: Lake, folder: Landing, day: date) -> str:
    """Render the 30 days ending on `day` and write `spend/<day>.html`; returns that path."""
    period = date_range_predicate("usage_date", day - timedelta(days=PERIOD_DAYS - 1), day)
    html = render_spend_html(day, lake.read("spend_reconciliation", where=period).to_pylist(),
                             lake.read("security_findings", where=period).to_pylist(),
                             f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC")
    path = spend_page_path(day)
    folder.write_bytes(path, html.encode())
    return path
