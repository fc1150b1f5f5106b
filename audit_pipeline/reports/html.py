"""Shared pieces of the HTML reports: one stylesheet, escaped tables and status badges."""

from __future__ import annotations

from datetime import date, datetime
from html import escape

from audit_pipeline.reports.charts import STATUS_COLOURS

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;
color:#1f2328;line-height:1.45;padding:0 1rem}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #d0d7de}
table{border-collapse:collapse;margin:.5rem 0;font-size:.85rem}th,td{border:1px solid #d0d7de;padding:3px 8px;
text-align:left;vertical-align:top}th{background:#f6f8fa}td.n{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:2px 10px;border-radius:10px;color:#fff;font-weight:600}
.muted{color:#57606a;font-size:.85rem}svg{max-width:100%;height:auto}
@media print{h2{page-break-after:avoid}}
"""


def text(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S UTC")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def badge(status: str | None) -> str:
    if not status:
        return ""
    return f'<span class="badge" style="background:{STATUS_COLOURS.get(status, "#888")}">{escape(status)}</span>'


def table(headers: list[str], rows: list[list], status_column: int | None = None) -> str:
    if not rows:
        return '<p class="muted">none</p>'
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for i, value in enumerate(row):
            if i == status_column:
                cells.append(f"<td>{badge(value)}</td>")
            else:
                numeric = isinstance(value, int | float) and not isinstance(value, bool)
                cells.append(f'<td{" class=n" if numeric else ""}>{escape(text(value))}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def facts(pairs: list[tuple[str, object]]) -> str:
    return table(["", ""], [[k, v] for k, v in pairs]).replace("<tr><th></th><th></th></tr>", "")


def page(title: str, body: list[str]) -> str:
    """A whole HTML document: the title escaped, the stylesheet inline, `body` as given."""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f"<style>{STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")
