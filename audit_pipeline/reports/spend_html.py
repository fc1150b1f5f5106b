"""The spend and security page: billed versus logged spend per provider and the findings,
one self-contained HTML file per report day (styles and chart inline, nothing fetched)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from html import escape

from audit_pipeline.reports.charts import spend_chart
from audit_pipeline.reports.html import facts, page, table, text

PERIOD_DAYS = 30
SEVERITY_COLOURS = {"high": "RED", "medium": "AMBER"}


def render_spend_html(day: date, reconciliation: list[dict], findings: list[dict], generated: str) -> str:
    """`reconciliation` and `findings`: the rows of the 30 days ending on `day`."""
    days = [day - timedelta(days=n) for n in range(PERIOD_DAYS - 1, -1, -1)]
    billed: dict[str, dict[date, float]] = defaultdict(lambda: defaultdict(float))
    computed: dict[str, dict[date, float]] = defaultdict(lambda: defaultdict(float))
    statuses: dict[str, int] = defaultdict(int)
    for r in reconciliation:
        statuses[r["status"]] += 1
        if r["billing_currency"] in (None, "USD"):
            billed[r["provider"]][r["usage_date"]] += float(r["billed_cost"] or 0)
        computed[r["provider"]][r["usage_date"]] += float(r["computed_cost"] or 0)
    first_day = min((r["usage_date"] for r in reconciliation), default=day)
    shown = [d for d in days if d >= first_day]
    chart = spend_chart(shown, {p: [series[d] for d in shown] for p, series in billed.items()},
                        {p: [series[d] for d in shown] for p, series in computed.items()}) if shown and billed else ""
    ranked = sorted(findings, key=lambda f: (f["severity"] != "high", f["acknowledged"], f["usage_date"]))
    sections = [
        f"<h1>Spend and security: {escape(day.isoformat())}</h1>",
        f'<p class="muted">Period {text(shown[0] if shown else day)} to {text(day)}. Generated {escape(generated)}. '
        "Billed = the providers' cost exports (USD); logged = the applications' logged tokens priced with "
        "the price catalog (spend_reconciliation.computed_cost).</p>",
        "<h2>Billed versus logged, per provider</h2>", chart,
        facts([(status, count) for status, count in sorted(statuses.items())]),
        "<h2>Security findings</h2>",
        table(["day", "severity", "type", "provider", "account", "what it means", "acknowledged", "id"],
               [[f["usage_date"], SEVERITY_COLOURS.get(f["severity"], f["severity"]), f["finding_type"],
                 f["provider"], f["api_key_id"], f["detail"],
                 f"{f['acknowledged_by']}: {f['acknowledgement']}" if f["acknowledged"] else "no", f["finding_id"]]
                for f in ranked[:50]], status_column=1),
    ]
    return page(f"Spend and security {day.isoformat()}", sections)
