"""The retention report: per AI system and report date, the sections of §7 our data supports.

Sections (docs/reference/eu-ai-act-logging.md §7): header (7.1), daily coverage against
an independent count from the provider's billing (7.2), the floor test (7.3), ceiling and
disposal ledger (7.4), legal-hold register (7.5), traceability (7.6), model inventory (7.7),
prompt change history (7.8) and exceptions with GREEN / AMBER / RED (7.12).

Everything is computed from `Evidence` (small aggregates of the lake as of one moment) and
the policy, deterministically: the same evidence and policy give the same figures.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from importlib.metadata import version

import pyarrow as pa

from audit_pipeline.policy import AISystemPolicy, Policy
from audit_pipeline.retention.evidence import Evidence
from audit_pipeline.retention.window import deletion_cutoff, floor_start
from audit_pipeline.schemas import RETENTION_REPORT

GREEN, AMBER, RED = "GREEN", "AMBER", "RED"
GENERATOR = f"audit-lineage {version('audit-lineage')}"
REQUESTS, OUTPUT_TOKENS = "billed requests", "billed output tokens"
_EMAIL = re.compile(r"<([^>]+)>")


def _pct(part: int | None, whole: int | None) -> float | None:
    return None if part is None or not whole else round(100 * part / whole, 3)


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _email(person: str | None) -> str | None:
    """`Alice Martin <alice@example.com>` or a bare address → the address, lower case."""
    if not person:
        return None
    match = _EMAIL.search(person)
    return (match.group(1) if match else person).strip().lower()


@dataclass
class _Day:
    records: int = 0
    outputs: int = 0
    required_ok: int = 0
    late_records: int = 0
    orphan_prompt_outputs: int = 0
    output_tokens: int = 0
    billed_requests: int = 0
    billed_rows_without_requests: int = 0
    billed_output_tokens: int = 0
    billed_rows: int = 0
    traced: int = 0
    with_prompt: int = 0
    with_snapshot: int = 0
    with_both: int = 0
    alias_only: int = 0


class _Systems:
    """The evidence regrouped per system and day (small: days × systems)."""

    def __init__(self, evidence: Evidence):
        self.days: dict[str, dict[date, _Day]] = defaultdict(lambda: defaultdict(_Day))
        self.earliest: dict[str, datetime] = {}
        key_owner: dict[tuple, set[str]] = defaultdict(set)
        project_owner: dict[tuple, set[str]] = defaultdict(set)
        for row in evidence.calls_daily.to_pylist():
            day = self.days[row["ai_system"]][row["day"]]
            for name in ("records", "outputs", "required_ok", "late_records", "orphan_prompt_outputs",
                         "output_tokens"):
                setattr(day, name, getattr(day, name) + (row[name] or 0))
            if row["api_key_id"] is not None:
                key_owner[row["provider"], row["api_key_id"]].add(row["ai_system"])
            if row["project_id"] is not None:
                project_owner[row["provider"], row["project_id"]].add(row["ai_system"])
            known = self.earliest.get(row["ai_system"])
            self.earliest[row["ai_system"]] = row["earliest"] if known is None else min(known, row["earliest"])
        # A billed row counts for a system when its key (or, for providers without a key
        # dimension, its project) was logged by that system alone.
        for row in evidence.billed_daily.to_pylist():
            owners = (key_owner.get((row["provider"], row["api_key_id"])) if row["api_key_id"] is not None
                      else project_owner.get((row["provider"], row["project_id"])))
            if owners is None or len(owners) != 1:
                continue
            day = self.days[next(iter(owners))][row["day"]]
            day.billed_rows += 1
            day.billed_requests += row["requests"] or 0
            day.billed_rows_without_requests += row["rows_without_requests"] or 0
            day.billed_output_tokens += row["output_tokens"] or 0
        for row in evidence.lineage_daily.to_pylist():
            day = self.days[row["ai_system"]][row["day"]]
            for name in ("traced", "with_prompt", "with_snapshot", "with_both", "alias_only"):
                setattr(day, name, getattr(day, name) + (row[name] or 0))

    def reference_kind(self, system: str) -> str | None:
        """Billed requests when the provider reports them for every billed row, else billed
        output tokens; None when nothing billed can be attributed to the system."""
        days = self.days[system].values()
        if not any(d.billed_rows for d in days):
            return None
        return REQUESTS if not any(d.billed_rows_without_requests for d in days) else OUTPUT_TOKENS


@dataclass(frozen=True)
class ReportContext:
    policy: Policy
    policy_sha256: str
    run_id: str
    generated_at: datetime
    as_of_requested: bool = False
    """True when a person asked for the report as of a past moment (not the scheduled run)."""


def build_reports(evidence: Evidence, context: ReportContext, report_dates: list[date]) -> pa.Table:
    """One row per (AI system in the policy, report date), typed as RETENTION_REPORT."""
    systems = _Systems(evidence)
    rows = [_SystemReport(system, report_date, evidence, systems, context).row()
            for report_date in report_dates for system in context.policy.systems]
    return pa.Table.from_pylist(rows, schema=RETENTION_REPORT)


def _coverage(day: _Day, kind: str | None) -> tuple[int | None, float | None]:
    if kind == REQUESTS:
        return day.billed_requests, _pct(day.outputs, day.billed_requests)
    if kind == OUTPUT_TOKENS:
        return day.billed_output_tokens, _pct(day.output_tokens, day.billed_output_tokens)
    return None, None


class _SystemReport:
    """One system's report for one date: each method computes one section's columns and
    records its exceptions."""

    def __init__(self, system: AISystemPolicy, report_date: date, evidence: Evidence, systems: _Systems,
                 context: ReportContext):
        self.system, self.report_date, self.evidence, self.context = system, report_date, evidence, context
        self.thresholds = context.policy.thresholds
        self.by_day = systems.days[system.id]
        self.earliest = systems.earliest.get(system.id)
        self.kind = systems.reference_kind(system.id)
        self.period = _days(report_date - timedelta(days=self.thresholds.report_period_days - 1), report_date)
        self.exceptions: list[dict] = []
        logged = [d for d, f in self.by_day.items() if f.records and d <= report_date]
        self.start = system.in_service_from or min(logged, default=None)
        """The first day the system must have logs: in_service_from, else its first logged day."""
        self.total = _Day()
        """The period's figures summed."""
        for day in self.period:
            figures = self.by_day.get(day, _Day())
            for name in self.total.__dataclass_fields__:
                setattr(self.total, name, getattr(self.total, name) + getattr(figures, name))

    def exception(self, status: str, rule: str, detail: str) -> None:
        self.exceptions.append({"status": status, "rule": rule, "detail": detail})

    def row(self) -> dict:
        system, thresholds = self.system, self.thresholds
        sections = {**self.floor_test(), **self.coverage(), **self.disposal(), **self.traceability()}
        sections["model_inventory"] = _model_inventory(system.id, self.report_date, self.evidence,
                                                       thresholds.retirement_warning_days, self.exception)
        sections["prompt_changes"] = _prompt_changes(system.id, self.report_date, self.evidence, self.exception)
        status = RED if any(e["status"] == RED for e in self.exceptions) else AMBER if self.exceptions else GREEN
        return {
            "ai_system": system.id, "report_date": self.report_date, "status": status, "as_of": self.evidence.as_of,
            "period_start": self.period[0], "period_end": self.report_date, "purpose": system.purpose,
            "risk_class": system.risk_class, "annex_iii_point": system.annex_iii_point, "role": system.role,
            "floor_months": system.log_retention.floor_months, "ceiling_months": system.log_retention.ceiling_months,
            "ceiling_purpose": system.log_retention.ceiling_purpose, "policy_sha256": self.context.policy_sha256,
            "generator_version": GENERATOR, "table_versions": json.dumps(self.evidence.versions, sort_keys=True),
            **sections, "exceptions": self.exceptions, "as_of_requested": self.context.as_of_requested,
            "html_sha256": None, "generated_at": self.context.generated_at, "run_id": self.context.run_id,
        }

    def day_status(self, day: date) -> str:
        """RED: no records, or coverage under the floor threshold; AMBER: under the target."""
        figures = self.by_day.get(day, _Day())
        coverage = _coverage(figures, self.kind)[1]
        if figures.records == 0 or (coverage is not None and coverage < self.thresholds.coverage_floor_pct):
            return RED
        return AMBER if coverage is not None and coverage < self.thresholds.coverage_target_pct else GREEN

    def floor_test(self) -> dict:
        """§7.3: every day from the floor start (or the system's start, if later) is present."""
        first = floor_start(self.report_date, self.system.log_retention.floor_months)
        window_start = max(first, self.start) if self.start else None
        failing = [d for d in _days(window_start, self.report_date) if self.day_status(d) == RED] \
            if window_start else []
        if window_start is None:
            self.exception(RED, "floor_not_intact", "no records retained for this system")
        elif failing:
            self.exception(RED, "floor_not_intact", f"{len(failing)} day(s) in the floor window missing or under "
                           f"{self.thresholds.coverage_floor_pct}% coverage: "
                           + ", ".join(d.isoformat() for d in failing))
        return {"floor_start": first, "window_start": window_start, "earliest_record": self.earliest,
                "floor_intact": window_start is not None and not failing, "failing_days": failing}

    def coverage(self) -> dict:
        """§7.2 over the period; per day only from the system's start (before it, a day
        without logs is not a gap)."""
        daily = []
        for day in (d for d in self.period if self.start is not None and d >= self.start):
            figures = self.by_day.get(day, _Day())
            reference, coverage = _coverage(figures, self.kind)
            daily.append({"day": day, "records": figures.records, "outputs": figures.outputs,
                          "reference_count": reference, "coverage_pct": coverage,
                          "required_fields_pct": _pct(figures.required_ok, figures.records),
                          "late_records": figures.late_records,
                          "pct_prompt_version": _pct(figures.with_prompt, figures.traced),
                          "pct_model_snapshot": _pct(figures.with_snapshot, figures.traced),
                          "pct_both": _pct(figures.with_both, figures.traced), "status": self.day_status(day)})
        below_target = [d["day"].isoformat() for d in daily if d["status"] == AMBER]
        if below_target:
            self.exception(AMBER, "coverage_below_target", f"coverage under {self.thresholds.coverage_target_pct}% "
                           f"of {self.kind} on " + ", ".join(below_target))
        total = self.total
        reference, coverage = _coverage(total, self.kind)
        return {"records": total.records, "outputs": total.outputs, "reference_count": reference,
                "reference_kind": self.kind, "coverage_pct": coverage,
                "required_fields_pct": _pct(total.required_ok, total.records), "late_records": total.late_records,
                "daily_coverage": daily}

    def disposal(self) -> dict:
        """§7.4 and §7.5, judged on the as_of day: what the lake holds past the ceiling,
        what holds block, what was deleted in the period, and the hold register."""
        as_of = self.evidence.as_of
        holds = [h for h in self.context.policy.legal_holds if h.system == self.system.id]
        active = [h for h in holds if h.active_on(as_of)]

        def held(day: date) -> bool:
            return any(h.first_day <= day <= h.last_day for h in active)

        cutoff = deletion_cutoff(as_of.date(), self.system.log_retention)
        past = {d: f.records for d, f in self.by_day.items() if cutoff and d < cutoff and f.records}
        blocked = sum(n for d, n in past.items() if held(d))
        grace = self.thresholds.deletion_grace_days
        overdue = sum(n for d, n in past.items() if not held(d) and d < cutoff - timedelta(days=grace))
        if overdue:
            self.exception(RED, "overdue_deletions", f"{overdue} records past the ceiling and the {grace}-day grace "
                           "period are still present with no hold")
        erasures = [e for e in self.evidence.erasure_log.to_pylist()
                    if e["ai_system"] == self.system.id and self.period[0] <= e["deleted_at"].date() <= self.report_date]
        return {
            "ceiling_cutoff": cutoff, "past_ceiling": sum(past.values()), "blocked_by_hold": blocked,
            "due_for_deletion": sum(past.values()) - blocked, "overdue_deletions": overdue,
            "deleted_this_period": sum(e["rows_deleted"] or 0 for e in erasures
                                       if e["action"] == "delete" and not e["dry_run"]),
            "erasures": [{k: e[k] for k in ("table_name", "action", "rows_deleted", "dry_run", "deleted_at", "run_id")}
                         for e in erasures],
            "legal_holds": [{"hold_id": h.id, "trigger": h.trigger, "first_day": h.first_day, "last_day": h.last_day,
                             "placed_by": h.placed_by, "placed_at": h.placed_at, "review_due": h.review_due,
                             "released_at": h.released_at, "status": h.status_on(as_of),
                             "records_under_hold": sum(f.records for d, f in self.by_day.items()
                                                       if h.first_day <= d <= h.last_day)} for h in holds],
        }

    def traceability(self) -> dict:
        """§7.6 over the period."""
        total, target = self.total, self.thresholds.traceability_target_pct
        pct_both = _pct(total.with_both, total.traced)
        if pct_both is not None and pct_both < target:
            self.exception(AMBER, "traceability_below_target", f"{pct_both}% of outputs have both a prompt version "
                           f"and a model snapshot (target {target}%); {total.alias_only} name only a model alias")
        if total.orphan_prompt_outputs:
            self.exception(RED, "prompt_version_not_in_history", f"{total.orphan_prompt_outputs} outputs name a "
                           "prompt version that the prompt repository does not contain")
        return {"pct_prompt_version": _pct(total.with_prompt, total.traced),
                "pct_model_snapshot": _pct(total.with_snapshot, total.traced), "pct_both": pct_both,
                "orphan_prompt_outputs": total.orphan_prompt_outputs, "alias_only_outputs": total.alias_only}


def _model_inventory(system: str, report_date: date, evidence: Evidence, warning_days: int, exception) -> list[dict]:
    """§7.7: every snapshot the system's outputs name, the aliases the application asked
    for, and its lifecycle from the catalog; outputs logged with only an alias are listed per
    alias (flag `alias_only`: no snapshot to check)."""
    catalog = {(r["provider"], r["snapshot"]): r for r in evidence.model_catalog.to_pylist()}
    used: dict[tuple, dict] = {}
    for row in evidence.models_used.to_pylist():
        if row["ai_system"] != system or row["day"] > report_date:
            continue
        key = (row["provider"], row["snapshot"] or "", "" if row["snapshot"] else row["alias"] or "")
        seen = used.setdefault(key, {"first_seen": row["day"], "last_seen": row["day"], "outputs": 0,
                                     "aliases": set()})
        seen["first_seen"], seen["last_seen"] = min(seen["first_seen"], row["day"]), max(seen["last_seen"], row["day"])
        seen["outputs"] += row["outputs"]
        seen["aliases"].add(row["alias"] or "")
    inventory = []
    for (provider, snapshot, _), seen in sorted(used.items(), key=lambda kv: (kv[0][1] == "", kv[0])):
        entry = catalog.get((provider, snapshot), {}) if snapshot else {}
        retires, flag = entry.get("retires_on"), None
        if not snapshot:
            flag = "alias_only"
        elif not entry:
            flag = "not_in_catalog"
            exception(RED, "model_not_in_inventory", f"{provider} {snapshot} is in use but has no catalog entry")
        elif retires and seen["last_seen"] >= retires:
            flag = "used_after_retirement"
            exception(RED, "model_used_after_retirement", f"{provider} {snapshot} retired on {retires} but served "
                      f"outputs until {seen['last_seen']}")
        elif retires and seen["last_seen"] >= retires - timedelta(days=warning_days):
            flag = "retiring_soon"
            exception(AMBER, "model_retiring_soon", f"{provider} {snapshot} retires on {retires} and was in use on "
                      f"{seen['last_seen']}")
        elif entry.get("deprecated_on") and seen["last_seen"] >= entry["deprecated_on"]:
            flag = "deprecated"
        inventory.append({"provider": provider, "snapshot": snapshot or None,
                          "aliases": ", ".join(sorted(a for a in seen.pop("aliases") if a)) or None, **seen,
                          "deprecated_on": entry.get("deprecated_on"), "retires_on": retires,
                          "replacement": entry.get("replacement"), "flag": flag})
    return inventory


def _prompt_changes(system: str, report_date: date, evidence: Evidence, exception) -> list[dict]:
    """§7.8: every version of the prompts the system uses, its author and approver, and the
    outputs it served; a version approved by one of its own authors (any contributor, merged
    branches included) and unapproved versions are flagged; a shallow clone's history is
    said to be partial."""
    served: dict[tuple, int] = defaultdict(int)
    for row in evidence.prompts_used.to_pylist():
        if row["ai_system"] == system and row["day"] <= report_date:
            served[row["prompt_id"], row["version"]] += row["outputs"]
    prompt_ids = {prompt_id for prompt_id, _ in served}
    if evidence.history_starts is not None:
        exception(AMBER, "prompt_history_shallow", "the prompt repository is a shallow clone: its recorded history "
                  f"starts at {evidence.history_starts:%Y-%m-%d %H:%M} UTC, and versions made before are not known")
    changes = []
    for row in sorted(evidence.prompt_versions.to_pylist(), key=lambda r: (r["prompt_id"], r["committed_at"])):
        if row["prompt_id"] not in prompt_ids:
            continue
        author, approver = _email(row["author_email"]), _email(row["approved_by"])
        authors = {author, *(_email(c) for c in (row.get("contributors") or "").split(","))} - {None}
        flag = "unapproved" if approver is None else "self_approved" if approver in authors else None
        changes.append({"prompt_id": row["prompt_id"], "version": row["version"],
                        "content_sha256": row["content_sha256"], "committed_at": row["committed_at"],
                        "author": row["author_email"], "approver": row["approved_by"], "flag": flag,
                        "outputs": served.get((row["prompt_id"], row["version"]), 0)})
    for flag, rule, what in (("self_approved", "prompt_self_approved", "approved by their own author"),
                             ("unapproved", "prompt_unapproved", "committed to the main line with no Approved-by trailer and no merge")):
        versions = [f"{c['prompt_id']}@{c['version'][:8]}" for c in changes if c["flag"] == flag]
        if versions:
            exception(AMBER, rule, f"{len(versions)} prompt version(s) {what}: " + ", ".join(versions))
    return changes
