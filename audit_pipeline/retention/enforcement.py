"""Retention enforcement: delete log rows past each system's ceiling, never rows inside the
floor or under an active legal hold, then vacuum so the files go too; every action logged.

A deletion outside policy is impossible by construction: the only predicates this module
runs are built by `plan_erasure` from the validated policy, the cutoff comes from
`window.deletion_cutoff` (never after the floor start, and the policy refuses a ceiling below
its floor), and every active hold on the system is excluded inside the predicate itself.
`enforce` re-checks each predicate against the floor and the holds before deleting.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import pyarrow as pa

from audit_pipeline.lake import Lake, date_range_predicate, sql_quote
from audit_pipeline.policy import LegalHold, Policy
from audit_pipeline.retention.window import deletion_cutoff, floor_start
from audit_pipeline.schemas import ERASURE_LOG

EVENT_TABLES = ("llm_calls", "output_lineage")
"""Tables whose rows are one AI system's logs (`ai_system`, `event_date`)."""
QUARANTINE = "quarantine"
"""Rejected input lines (raw excerpts of logs) cannot be tied to one system: kept until the
longest ceiling of all systems has passed and no active hold covers their day."""
DEFAULT_SAFETY_HOURS = 168
"""Vacuum keeps files any version of the last seven days still needs (delta-rs's default),
so time travel and as-of reports reach back that far after a deletion."""


class PolicyViolation(RuntimeError):
    """A planned deletion would touch a row the policy protects: nothing is deleted."""


@dataclass(frozen=True)
class ErasureAction:
    table: str
    ai_system: str | None
    cutoff: date
    floor_start: date
    holds: tuple[LegalHold, ...]
    day_column: str

    def _held(self, hold: LegalHold) -> str:
        return date_range_predicate(self.day_column, hold.first_day, hold.last_day)

    @property
    def predicate(self) -> str:
        """Rows before the cutoff, of this system, outside every active hold."""
        day = self.day_column
        parts = [f"{day} < '{self.cutoff.isoformat()}'"]
        if self.ai_system is not None:
            parts.insert(0, f"ai_system = {sql_quote(self.ai_system)}")
        else:  # quarantine's day is text, `undated` for rows with no readable day
            parts.append(f"{day} <> 'undated'")
        parts += [f"NOT ({self._held(h)})" for h in self.holds]
        return " AND ".join(parts)

    @property
    def protected(self) -> str:
        """Rows the policy protects: inside the floor or under an active hold."""
        parts = [f"{self.day_column} >= '{self.floor_start.isoformat()}'", *(f"({self._held(h)})" for h in self.holds)]
        return f"({self.predicate}) AND ({' OR '.join(parts)})"


def plan_erasure(policy: Policy, today: date, now: datetime) -> list[ErasureAction]:
    """What the policy allows deleting on `today`: per system with a ceiling, its event tables;
    quarantine once every system's ceiling has passed. Holds active at `now` are excluded."""
    active = [h for h in policy.legal_holds if h.active_on(now)]
    actions = []
    cutoffs = []
    for system in policy.systems:
        cutoff = deletion_cutoff(today, system.log_retention)
        cutoffs.append(cutoff)
        if cutoff is None:
            continue
        holds = tuple(h for h in active if h.system == system.id)
        first_kept = floor_start(today, system.log_retention.floor_months)
        actions += [ErasureAction(table, system.id, cutoff, first_kept, holds, "event_date") for table in EVENT_TABLES]
    if cutoffs and None not in cutoffs:
        latest_floor = min(floor_start(today, s.log_retention.floor_months) for s in policy.systems)
        actions.append(ErasureAction(QUARANTINE, None, min(cutoffs), latest_floor, tuple(active), "partition"))
    return actions


def _count(lake: Lake, action: ErasureAction, predicate: str) -> int:
    # One narrow column streamed: counting must not load the rows.
    return sum(batch.num_rows for batch in lake.scan(action.table, where=predicate, columns=[action.day_column]))


def enforce(lake: Lake, actions: list[ErasureAction], *, dry_run: bool, safety_hours: int, run_id: str,
            now: datetime) -> pa.Table:
    """Run (or, dry, count) each action, vacuum the tables (unless dry), and return the
    erasure_log rows written.

    Every real run vacuums every table it may delete from, not only the ones that lost rows
    now: files of rows deleted in an earlier run go once they leave the safety window."""
    for action in actions:
        if lake.exists(action.table) and _count(lake, action, action.protected):
            raise PolicyViolation(f"{action.table}: the erasure predicate selects protected rows: {action.predicate}")
    rows = []
    for action in actions:
        if not lake.exists(action.table):
            continue
        deleted = _count(lake, action, action.predicate) if dry_run else lake.delete(action.table,
                                                                                         action.predicate)
        rows.append({"table_name": action.table, "ai_system": action.ai_system, "action": "delete",
                     "predicate": action.predicate, "rows_deleted": deleted, "files_removed": 0,
                     "cutoff_date": action.cutoff,
                     "reason": "past the retention ceiling" + ("" if action.ai_system else " of every system"),
                     "hold_checked": ",".join(h.id for h in action.holds) or "none active",
                     "dry_run": dry_run, "deleted_at": now, "run_id": run_id})
    for table in [] if dry_run else dict.fromkeys(a.table for a in actions if lake.exists(a.table)):
        rows.append({"table_name": table, "ai_system": None, "action": "vacuum",
                     "predicate": f"files unreferenced for {safety_hours} h", "rows_deleted": 0,
                     "files_removed": lake.vacuum(table, safety_hours), "cutoff_date": None,
                     "reason": "remove the deleted rows' files", "hold_checked": None, "dry_run": False,
                     "deleted_at": now, "run_id": run_id})
    ledger = pa.Table.from_pylist(rows, schema=ERASURE_LOG)
    if ledger.num_rows:
        lake.append("erasure_log", ledger)
    return ledger

