"""One retention report (a `retention_report` row) as a self-contained HTML page.

A compliance officer opens it in a browser with nothing else installed: styles and charts
are inline, there are no scripts and no links to fetch. Every value is escaped.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from html import escape

from audit_pipeline.reports.charts import STATUS_COLOURS, coverage_chart, traceability_chart

NOT_COVERED = [
    ("7.2 sequence gaps, digests, WORM share, clock skew", "the logs carry no per-writer sequence numbers "
     "or digest files yet; completeness is measured against the providers' billing instead"),
    ("7.4 erasure requests (GDPR Art. 17)", "no request register is connected"),
    ("7.6 parameters, retrieval versions, reproducibility sample, human review",
     "the call logs do not record them"),
    ("7.9 integrity verification", "the auditor export (signed manifest, `audit-pipeline verify`) provides it"),
    ("7.10 access and chain of custody", "storage access logs are not ingested"),
    ("7.11 incidents and post-market monitoring", "no incident register is connected"),
    ("7.12 sign-off", "sign the printed report; owners and due dates of exceptions are kept outside this tool"),
]
"""§7 sections this report cannot support from the data it reads, and why."""

NO_DAYS = '<p class="muted">no day of the period is in service: no chart</p>'

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


def _text(value) -> str:
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


def _badge(status: str | None) -> str:
    if not status:
        return ""
    return f'<span class="badge" style="background:{STATUS_COLOURS.get(status, "#888")}">{escape(status)}</span>'


def _table(headers: list[str], rows: list[list], status_column: int | None = None) -> str:
    if not rows:
        return '<p class="muted">none</p>'
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for i, value in enumerate(row):
            if i == status_column:
                cells.append(f"<td>{_badge(value)}</td>")
            else:
                numeric = isinstance(value, int | float) and not isinstance(value, bool)
                cells.append(f'<td{" class=n" if numeric else ""}>{escape(_text(value))}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _facts(pairs: list[tuple[str, object]]) -> str:
    return _table(["", ""], [[k, v] for k, v in pairs]).replace("<tr><th></th><th></th></tr>", "")


def render_html(report: dict) -> str:
    r = report
    risk = (f"high-risk (Annex III point {r['annex_iii_point']})" if r["risk_class"] == "high"
            else f"{r['risk_class']} risk: not high-risk, report kept voluntarily")
    daily = r["daily_coverage"]
    days = [d["day"] for d in daily]
    versions = json.loads(r["table_versions"])
    sections = [
        f"<h1>Retention report: {escape(r['ai_system'])} {_badge(r['status'])}</h1>",
        f'<p class="muted">Period {_text(r["period_start"])} to {_text(r["period_end"])}, as of '
        f'{_text(r["as_of"])}. Generated {_text(r["generated_at"])} by {escape(r["generator_version"])}, '
        f'run {escape(r["run_id"])}. Structure: ../shared/reference/eu-ai-act-logging.md §7.</p>',
        "<h2>Header (§7.1)</h2>",
        _facts([("AI system", r["ai_system"]), ("intended purpose", r["purpose"]), ("risk class", risk),
                ("role", r["role"]),
                ("log retention floor", f"{r['floor_months']} months (AI Act Art. 19(1) / 26(6); GDPR Art. 6(1)(c))"),
                ("log retention ceiling", f"{r['ceiling_months']} months: {r['ceiling_purpose']}"
                 if r["ceiling_months"] else "none set: kept until a person decides"),
                ("policy (audit.yaml) sha256", r["policy_sha256"]),
                ("Delta table versions read", ", ".join(f"{k} v{v}" if v is not None else f"{k} (absent)"
                                                        for k, v in sorted(versions.items()))),
                ("log stores in scope", "application call logs and provider billing under our control "
                 "(AUDIT_LAKE); logs held only by model vendors are out of scope (Art. 19(1), 26(6))")]),
        "<h2>Exceptions (§7.12)</h2>",
        _table(["status", "rule", "detail"], [[e["status"], e["rule"], e["detail"]] for e in r["exceptions"]],
               status_column=0),
        "<h2>Daily log coverage (§7.2)</h2>",
        _facts([("records / outputs in the period", f"{r['records']:,} / {r['outputs']:,}"),
                ("independent reference", f"{r['reference_kind']}: {_text(r['reference_count'])}"
                 if r["reference_kind"] else "none: no billed usage can be attributed to this system"),
                ("coverage", f"{_text(r['coverage_pct'])} %"),
                ("records with every required field", f"{_text(r['required_fields_pct'])} %"),
                ("late records (delivered in a later day's file)", r["late_records"])]),
        coverage_chart(days, [d["records"] for d in daily], [d["coverage_pct"] for d in daily],
                       [d["status"] for d in daily], r["reference_kind"]) if daily else NO_DAYS,
        _table(["day", "records", "outputs", "reference", "coverage %", "required fields %", "late", "status"],
               [[d["day"], d["records"], d["outputs"], d["reference_count"], d["coverage_pct"],
                 d["required_fields_pct"], d["late_records"], d["status"]] for d in daily], status_column=7),
        "<h2>Retention window: the floor test (§7.3)</h2>",
        _facts([("floor start (as of the report date)", r["floor_start"]),
                ("window tested from", r["window_start"]), ("earliest retained record", r["earliest_record"]),
                ("floor intact", r["floor_intact"]),
                ("failing days", ", ".join(d.isoformat() for d in r["failing_days"]) or "none")]),
        "<h2>Ceiling and disposal ledger (§7.4)</h2>",
        _facts([("deletion cutoff (rows of earlier days are past the ceiling)", r["ceiling_cutoff"]),
                ("records past the ceiling", r["past_ceiling"]), ("due for deletion", r["due_for_deletion"]),
                ("blocked by a legal hold", r["blocked_by_hold"]), ("overdue deletions", r["overdue_deletions"]),
                ("deleted this period", r["deleted_this_period"])]),
        '<p class="muted">Erasure ledger entries in the period (erasure_log):</p>',
        _table(["table", "action", "rows", "dry run", "at", "run"],
               [[e["table_name"], e["action"], e["rows_deleted"], e["dry_run"], e["deleted_at"], e["run_id"]]
                for e in r["erasures"]]),
        "<h2>Legal holds (§7.5)</h2>",
        _table(["hold", "trigger", "from", "to", "placed by", "placed at", "review due", "released", "status",
                "records under hold"],
               [[h["hold_id"], h["trigger"], h["first_day"], h["last_day"], h["placed_by"], h["placed_at"],
                 h["review_due"], h["released_at"], h["status"], h["records_under_hold"]] for h in r["legal_holds"]]),
        "<h2>Traceability of outputs (§7.6)</h2>",
        _facts([("with prompt version", f"{_text(r['pct_prompt_version'])} %"),
                ("with model snapshot", f"{_text(r['pct_model_snapshot'])} %"),
                ("with both (headline)", f"{_text(r['pct_both'])} %"),
                ("outputs naming a prompt version missing from history", r["orphan_prompt_outputs"]),
                ("outputs naming only a model alias", r["alias_only_outputs"])]),
        traceability_chart(days, {"prompt version": [d["pct_prompt_version"] for d in daily],
                                  "model snapshot": [d["pct_model_snapshot"] for d in daily],
                                  "both": [d["pct_both"] for d in daily]}) if daily else NO_DAYS,
        "<h2>Model inventory (§7.7)</h2>",
        _table(["provider", "snapshot", "asked for as", "first seen", "last seen", "outputs", "deprecated",
                "retires", "replacement", "flag"],
               [[m["provider"], m["snapshot"], m["aliases"], m["first_seen"], m["last_seen"], m["outputs"],
                 m["deprecated_on"], m["retires_on"], m["replacement"], m["flag"]] for m in r["model_inventory"]]),
        "<h2>Prompt change history (§7.8)</h2>",
        _table(["prompt", "version", "content sha256", "committed", "author", "approver", "flag", "outputs"],
               [[p["prompt_id"], p["version"][:12], (p["content_sha256"] or "")[:16], p["committed_at"],
                 p["author"], p["approver"], p["flag"], p["outputs"]] for p in r["prompt_changes"]]),
        "<h2>Not covered by this report</h2>",
        _table(["section", "why"], [list(row) for row in NOT_COVERED]),
    ]
    body = "\n".join(sections)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>Retention report {escape(r['ai_system'])} {_text(r['report_date'])}</title>"
            f"<style>{STYLE}</style></head><body>\n{body}\n</body></html>\n")
