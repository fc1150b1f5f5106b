"""One retention report (a `retention_report` row) as a self-contained HTML page.

A compliance officer opens it in a browser with nothing else installed: styles and charts
are inline, there are no scripts and no links to fetch. Every value is escaped.
"""

from __future__ import annotations

import json
from html import escape

from audit_pipeline.reports.charts import coverage_chart, traceability_chart
from audit_pipeline.reports.html import badge, facts, page, table, text

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

def render_html(report: dict) -> str:
    r = report
    risk = (f"high-risk (Annex III point {r['annex_iii_point']})" if r["risk_class"] == "high"
            else f"{r['risk_class']} risk: not high-risk, report kept voluntarily")
    daily = r["daily_coverage"]
    days = [d["day"] for d in daily]
    versions = json.loads(r["table_versions"])
    sections = [
        f"<h1>Retention report: {escape(r['ai_system'])} {badge(r['status'])}</h1>",
        f'<p class="muted">Period {text(r["period_start"])} to {text(r["period_end"])}, as of '
        f'{text(r["as_of"])}. Generated {text(r["generated_at"])} by {escape(r["generator_version"])}, '
        f'run {escape(r["run_id"])}. Record-keeping under Regulation (EU) 2024/1689 (AI Act) Art. 12, 19 and 26(6); '
        'sections as in audit-lineage\'s docs/reference/eu-ai-act-logging.md §7.</p>',
        "<h2>Header (§7.1)</h2>",
        facts([("AI system", r["ai_system"]), ("intended purpose", r["purpose"]), ("risk class", risk),
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
        table(["status", "rule", "detail"], [[e["status"], e["rule"], e["detail"]] for e in r["exceptions"]],
               status_column=0),
        "<h2>Daily log coverage (§7.2)</h2>",
        facts([("records / outputs in the period", f"{r['records']:,} / {r['outputs']:,}"),
                ("independent reference", f"{r['reference_kind']}: {text(r['reference_count'])}"
                 if r["reference_kind"] else "none: no billed usage can be attributed to this system"),
                ("coverage", f"{text(r['coverage_pct'])} %"),
                ("records with every required field", f"{text(r['required_fields_pct'])} %"),
                ("late records (delivered in a later day's file)", r["late_records"])]),
        coverage_chart(days, [d["records"] for d in daily], [d["coverage_pct"] for d in daily],
                       [d["status"] for d in daily], r["reference_kind"]) if daily else NO_DAYS,
        table(["day", "records", "outputs", "reference", "coverage %", "required fields %", "late", "status"],
               [[d["day"], d["records"], d["outputs"], d["reference_count"], d["coverage_pct"],
                 d["required_fields_pct"], d["late_records"], d["status"]] for d in daily], status_column=7),
        "<h2>Retention window: the floor test (§7.3)</h2>",
        facts([("floor start (as of the report date)", r["floor_start"]),
                ("window tested from", r["window_start"]), ("earliest retained record", r["earliest_record"]),
                ("floor intact", r["floor_intact"]),
                ("failing days", ", ".join(d.isoformat() for d in r["failing_days"]) or "none")]),
        "<h2>Ceiling and disposal ledger (§7.4)</h2>",
        facts([("deletion cutoff (rows of earlier days are past the ceiling)", r["ceiling_cutoff"]),
                ("records past the ceiling", r["past_ceiling"]), ("due for deletion", r["due_for_deletion"]),
                ("blocked by a legal hold", r["blocked_by_hold"]), ("overdue deletions", r["overdue_deletions"]),
                ("deleted this period", r["deleted_this_period"])]),
        '<p class="muted">Erasure ledger entries in the period (erasure_log):</p>',
        table(["table", "action", "rows", "dry run", "at", "run"],
               [[e["table_name"], e["action"], e["rows_deleted"], e["dry_run"], e["deleted_at"], e["run_id"]]
                for e in r["erasures"]]),
        "<h2>Legal holds (§7.5)</h2>",
        table(["hold", "trigger", "from", "to", "placed by", "placed at", "review due", "released", "status",
                "records under hold"],
               [[h["hold_id"], h["trigger"], h["first_day"], h["last_day"], h["placed_by"], h["placed_at"],
                 h["review_due"], h["released_at"], h["status"], h["records_under_hold"]] for h in r["legal_holds"]]),
        "<h2>Traceability of outputs (§7.6)</h2>",
        facts([("with prompt version", f"{text(r['pct_prompt_version'])} %"),
                ("with model snapshot", f"{text(r['pct_model_snapshot'])} %"),
                ("with both (headline)", f"{text(r['pct_both'])} %"),
                ("outputs naming a prompt version missing from history", r["orphan_prompt_outputs"]),
                ("outputs naming only a model alias", r["alias_only_outputs"])]),
        traceability_chart(days, {"prompt version": [d["pct_prompt_version"] for d in daily],
                                  "model snapshot": [d["pct_model_snapshot"] for d in daily],
                                  "both": [d["pct_both"] for d in daily]}) if daily else NO_DAYS,
        "<h2>Model inventory (§7.7)</h2>",
        table(["provider", "snapshot", "asked for as", "first seen", "last seen", "outputs", "deprecated",
                "retires", "replacement", "flag"],
               [[m["provider"], m["snapshot"], m["aliases"], m["first_seen"], m["last_seen"], m["outputs"],
                 m["deprecated_on"], m["retires_on"], m["replacement"], m["flag"]] for m in r["model_inventory"]]),
        "<h2>Prompt change history (§7.8)</h2>",
        table(["prompt", "version", "content sha256", "committed", "author", "approver", "flag", "outputs"],
               [[p["prompt_id"], p["version"][:12], (p["content_sha256"] or "")[:16], p["committed_at"],
                 p["author"], p["approver"], p["flag"], p["outputs"]] for p in r["prompt_changes"]]),
        "<h2>Not covered by this report</h2>",
        table(["section", "why"], [list(row) for row in NOT_COVERED]),
    ]
    return page(f"Retention report {r['ai_system']} {text(r['report_date'])}", sections)
