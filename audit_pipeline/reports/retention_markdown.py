"""Retention reports as Markdown: the overview shown in the Dagster UI and printed by the demo."""

from __future__ import annotations

from audit_pipeline.reports.markdown import markdown_table


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}%"


def render_overview(reports: list[dict]) -> str:
    """One line per system (status, coverage, floor, ceiling, traceability), then each
    system's exceptions."""
    rows = [[r["ai_system"], r["status"], r["risk_class"], _pct(r["coverage_pct"]),
             "intact" if r["floor_intact"] else "FAILING: " + ", ".join(d.isoformat() for d in r["failing_days"]),
             f"{r['due_for_deletion']} due / {r['blocked_by_hold']} held / {r['deleted_this_period']} deleted",
             _pct(r["pct_both"]), len(r["exceptions"])] for r in reports]
    lines = [markdown_table(["system", "status", "risk", "coverage", "floor test", "past ceiling",
                             "traced (prompt + snapshot)", "exceptions"], rows)]
    for r in reports:
        if r["exceptions"]:
            lines.append(f"\n**{r['ai_system']}**")
            lines += [f"- {e['status']} `{e['rule']}`: {e['detail'][:300]}" for e in r["exceptions"]]
    return "\n".join(lines)
