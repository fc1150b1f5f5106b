"""The retention policy in `audit.yaml` (AUDIT_CONFIG): AI systems, retention, legal holds.

What the file says is a compliance decision, so it is validated whole on load and every
problem is reported at once, each naming its key (`systems[1].log_retention.ceiling_months`).
Defaults follow the AI Act (docs/reference/eu-ai-act-logging.md §2 and §4): logs are
kept at least six months (Art. 19, Art. 26(6)); prompt history and the model inventory,
which are technical documentation, ten years (Art. 18). A ceiling below its floor is
refused: deleting inside the floor would breach the legal obligation the floor encodes.

Shape (every key except `systems[].id`, `purpose`, `risk_class` and `role` is optional):

    systems:
      - id: cv-screener                  # the `ai_system` value in the logs
        purpose: Ranks job applications for recruiters
        risk_class: high                 # high | limited | minimal
        annex_iii_point: "4(a)"          # required when high
        role: deployer                   # provider | deployer
        log_retention:
          floor_months: 6                # default 6
          ceiling_months: 12             # none: kept until a person decides
          ceiling_purpose: Contest window for hiring decisions   # required with a ceiling
        documentation_retention_years: 10                       # default 10
    legal_holds:
      - id: LH-2026-001
        trigger: Art. 73 serious incident 2026-14
        system: cv-screener
        from: 2026-11-01                 # first and last UTC day the hold covers
        to: 2026-11-15
        placed_by: dpo@example.com
        placed_at: 2026-11-20T10:00:00Z
        review_due: 2027-02-20
        released_at: null                # set when released; the hold then no longer applies
    thresholds:                          # what turns a retention report AMBER or RED (§7.12)
      coverage_target_pct: 99.0          # a day below: AMBER
      coverage_floor_pct: 50.0           # a day below: the day counts as missing (floor test RED)
      traceability_target_pct: 99.0     # outputs with both prompt version and model snapshot
      retirement_warning_days: 30        # a model in use this close to its retirement: AMBER
      deletion_grace_days: 7             # past the ceiling this long and still present: RED
      report_period_days: 30             # a report's period ends on its report date
    model_catalog:                       # add to or correct the shipped model lifecycle catalog
      - provider: openai
        snapshot: gpt-4o-2024-08-06
        deprecated_on: 2026-06-01
        retires_on: 2026-12-01
        replacement: gpt-4.1-2025-04-14
        source: https://platform.openai.com/docs/deprecations

    reconciliation:                      # billed versus logged (spend_reconciliation)
      token_tolerance_pct: 1.0           # billed and logged tokens this close: within tolerance
      cost_tolerance_pct: 1.0            # billed and computed cost this close (relative) ...
      cost_tolerance_usd: 0.0001         # ... or this close (absolute): within tolerance
      business_hours_utc: [7, 19]        # off-hours share of calls: outside 07:00-19:00 UTC
    acknowledged_findings:               # security findings a person has looked at
      - id: 3f2a9c0d1e4b5a6f7c8d       # security_findings.finding_id
        by: secops@example.com
        reason: Load test agreed with the vendor
    prices:                              # add to or correct the shipped price catalog
      - provider: openai
        model: gpt-4o-2024-08-06
        token_type: output               # uncached_input | cache_read | cache_write | output
        usd_per_million: "12.00"
        effective_from: 2027-01-01
        source: contract amendment 7

Each system may also name `in_service_from` (a date): the floor test then requires logs from
that day on; without it, from the system's first logged record.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

RISK_CLASSES = ("high", "limited", "minimal")
TOKEN_TYPES = ("uncached_input", "cache_read", "cache_write", "output")
"""Billed token types after normalisation (docs/reference/billing-formats.md §7.6)."""
ROLES = ("provider", "deployer")
DEFAULT_FLOOR_MONTHS = 6
"""AI Act Art. 19(1) (providers) and Art. 26(6) (deployers): at least six months."""
DEFAULT_DOCUMENTATION_YEARS = 10
"""AI Act Art. 18(1): technical documentation kept ten years after placing on the market."""


@dataclass(frozen=True)
class Thresholds:
    """The report's RAG rules (docs/reference/eu-ai-act-logging.md §7.12)."""

    coverage_target_pct: float = 99.0
    coverage_floor_pct: float = 50.0
    traceability_target_pct: float = 99.0
    retirement_warning_days: int = 30
    deletion_grace_days: int = 7
    report_period_days: int = 30


@dataclass(frozen=True)
class CatalogEntry:
    """One model snapshot's lifecycle, as the user states it in `model_catalog`."""

    provider: str
    snapshot: str
    deprecated_on: date | None = None
    retires_on: date | None = None
    replacement: str | None = None
    source: str | None = None


@dataclass(frozen=True)
class Tolerances:
    """How far billed and logged figures may differ and still reconcile."""

    token_tolerance_pct: float = 1.0
    cost_tolerance_pct: float = 1.0
    cost_tolerance_usd: Decimal = Decimal("0.0001")
    """A hundredth of a cent: providers round line items, and small days must still show a
    mispriced token type (25 % of $0.005 is $0.00125)."""
    business_hours_utc: tuple[int, int] = (7, 19)
    """Calls from the first hour up to (not including) the second are in business hours."""


@dataclass(frozen=True)
class Acknowledgement:
    """A security finding a person looked at: still reported, marked as acknowledged."""

    finding_id: str
    by: str
    reason: str


@dataclass(frozen=True)
class PriceEntry:
    """A price the user adds or corrects: USD per million tokens from `effective_from`."""

    provider: str
    model: str
    token_type: str
    usd_per_million: Decimal
    effective_from: date
    effective_to: date | None = None
    source: str | None = None


class PolicyError(ValueError):
    """An `audit.yaml` that cannot be used; `problems` names each key that is wrong."""

    def __init__(self, path: str, problems: list[str]):
        self.problems = problems
        super().__init__(f"{path}: " + "; ".join(problems))


@dataclass(frozen=True)
class LogRetention:
    floor_months: int = DEFAULT_FLOOR_MONTHS
    ceiling_months: int | None = None
    ceiling_purpose: str | None = None


@dataclass(frozen=True)
class AISystemPolicy:
    id: str
    purpose: str
    risk_class: str
    role: str
    annex_iii_point: str | None = None
    log_retention: LogRetention = field(default_factory=LogRetention)
    documentation_retention_years: int = DEFAULT_DOCUMENTATION_YEARS
    in_service_from: date | None = None


@dataclass(frozen=True)
class LegalHold:
    id: str
    trigger: str
    system: str
    first_day: date
    last_day: date
    placed_by: str
    placed_at: datetime
    review_due: date | None = None
    released_at: datetime | None = None

    def active_on(self, moment: datetime) -> bool:
        """Placed by `moment` and not released by then."""
        return self.placed_at <= moment and (self.released_at is None or moment < self.released_at)

    def status_on(self, moment: datetime) -> str:
        if self.active_on(moment):
            return "active"
        return "released" if self.released_at is not None and self.released_at <= moment else "not yet placed"


@dataclass(frozen=True)
class Policy:
    systems: tuple[AISystemPolicy, ...]
    legal_holds: tuple[LegalHold, ...] = ()
    thresholds: Thresholds = field(default_factory=Thresholds)
    model_catalog: tuple[CatalogEntry, ...] = ()
    reconciliation: Tolerances = field(default_factory=Tolerances)
    prices: tuple[PriceEntry, ...] = ()
    acknowledged_findings: tuple[Acknowledgement, ...] = ()

    def system(self, system_id: str) -> AISystemPolicy | None:
        return next((s for s in self.systems if s.id == system_id), None)


def policy_sha256(path: str | Path) -> str:
    """The policy file's sha256: reports name the exact policy they applied."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_policy(path: str | Path) -> Policy:
    """Read and validate `path`; PolicyError lists every problem with its key."""
    path = str(path)
    try:
        document = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError as exc:
        raise PolicyError(path, ["file not found (set AUDIT_CONFIG, or copy audit.yaml)"]) from exc
    except yaml.YAMLError as exc:
        raise PolicyError(path, [f"not YAML: {exc}"]) from exc
    return parse_policy(document, path)


def parse_policy(document: Any, path: str = "audit.yaml") -> Policy:
    reader = _Reader()
    if not isinstance(document, dict):
        raise PolicyError(path, ["expected a mapping with `systems` (and optionally `legal_holds`)"])
    reader.unknown_keys(document, "", {"systems", "legal_holds", "thresholds", "model_catalog", "reconciliation",
                                       "prices", "acknowledged_findings"})
    items = reader.items(document, "systems", required=True)
    systems = tuple(reader.system(item, f"systems[{i}]") for i, item in enumerate(items))
    ids = reader.unique_ids(items, "systems")
    hold_items = reader.items(document, "legal_holds")
    holds = tuple(reader.hold(item, f"legal_holds[{i}]", ids) for i, item in enumerate(hold_items))
    reader.unique_ids(hold_items, "legal_holds")
    thresholds = reader.thresholds(document.get("thresholds") or {}, "thresholds")
    catalog = tuple(reader.catalog_entry(item, f"model_catalog[{i}]")
                    for i, item in enumerate(reader.items(document, "model_catalog")))
    tolerances = reader.tolerances(document.get("reconciliation") or {}, "reconciliation")
    prices = tuple(reader.price(item, f"prices[{i}]") for i, item in enumerate(reader.items(document, "prices")))
    acks = tuple(reader.acknowledgement(item, f"acknowledged_findings[{i}]")
                 for i, item in enumerate(reader.items(document, "acknowledged_findings")))
    if reader.problems:
        raise PolicyError(path, reader.problems)
    return Policy(systems, holds, thresholds, catalog, tolerances, prices, acks)  # type: ignore[arg-type]


class _Reader:
    """Collects every problem instead of stopping at the first."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def problem(self, key: str, message: str) -> None:
        self.problems.append(f"{key}: {message}")

    def unknown_keys(self, mapping: dict, where: str, known: set[str]) -> None:
        for key in sorted(set(mapping) - known):
            self.problem(f"{where}.{key}".lstrip("."), f"unknown key (expected one of {', '.join(sorted(known))})")

    def unique_ids(self, items: list, key: str) -> set[str]:
        """The `id`s of `items` (valid or not), each repeated one reported once."""
        ids = [str(item["id"]) for item in items if isinstance(item, dict) and item.get("id") is not None]
        for duplicate in sorted({i for i in ids if ids.count(i) > 1}):
            self.problem(key, f"id {duplicate!r} appears more than once")
        return set(ids)

    def items(self, document: dict, key: str, required: bool = False) -> list:
        value = document.get(key)
        if value is None:
            if required:
                self.problem(key, "required: a list")
            return []
        if not isinstance(value, list):
            self.problem(key, f"expected a list, got {type(value).__name__}")
            return []
        return value

    def text(self, mapping: dict, key: str, where: str, required: bool = True) -> str | None:
        value = mapping.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.problem(f"{where}.{key}", "required")
            return None
        if not isinstance(value, str | int | float):
            self.problem(f"{where}.{key}", f"expected text, got {type(value).__name__}")
            return None
        return str(value).strip()

    def choice(self, mapping: dict, key: str, where: str, choices: tuple[str, ...]) -> str | None:
        value = self.text(mapping, key, where)
        if value is not None and value not in choices:
            self.problem(f"{where}.{key}", f"{value!r} is not one of {', '.join(choices)}")
            return None
        return value

    def whole(self, mapping: dict, key: str, where: str, default: int | None) -> int | None:
        value = mapping.get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            self.problem(f"{where}.{key}", f"expected a whole number above 0, got {value!r}")
            return default
        return value

    def percent(self, mapping: dict, key: str, where: str, default: float) -> float:
        value = mapping.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
            self.problem(f"{where}.{key}", f"expected a percentage from 0 to 100, got {value!r}")
            return default
        return float(value)

    def day(self, mapping: dict, key: str, where: str, required: bool = True) -> date | None:
        value = mapping.get(key)
        if value is None:
            if required:
                self.problem(f"{where}.{key}", "required: a date (YYYY-MM-DD)")
            return None
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            self.problem(f"{where}.{key}", f"expected a date (YYYY-MM-DD), got {value!r}")
            return None

    def moment(self, mapping: dict, key: str, where: str, required: bool = True) -> datetime | None:
        value = mapping.get(key)
        if value is None:
            if required:
                self.problem(f"{where}.{key}", "required: a UTC time (YYYY-MM-DDTHH:MM:SSZ)")
            return None
        if isinstance(value, date) and not isinstance(value, datetime):
            value = datetime(value.year, value.month, value.day)
        if not isinstance(value, datetime):
            try:
                value = datetime.fromisoformat(str(value))
            except ValueError:
                self.problem(f"{where}.{key}", f"expected a UTC time, got {value!r}")
                return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def system(self, item: Any, where: str) -> AISystemPolicy | None:
        if not isinstance(item, dict):
            self.problem(where, "expected a mapping")
            return None
        self.unknown_keys(item, where, {"id", "purpose", "risk_class", "annex_iii_point", "role",
                                        "log_retention", "documentation_retention_years", "in_service_from"})
        risk_class = self.choice(item, "risk_class", where, RISK_CLASSES)
        annex = self.text(item, "annex_iii_point", where, required=risk_class == "high")
        retention = self.retention(item.get("log_retention") or {}, f"{where}.log_retention")
        system = AISystemPolicy(
            id=self.text(item, "id", where), purpose=self.text(item, "purpose", where),
            risk_class=risk_class, role=self.choice(item, "role", where, ROLES), annex_iii_point=annex,
            log_retention=retention,
            documentation_retention_years=self.whole(item, "documentation_retention_years", where,
                                                     DEFAULT_DOCUMENTATION_YEARS),
            in_service_from=self.day(item, "in_service_from", where, required=False),
        )
        return system if None not in (system.id, system.purpose, system.risk_class, system.role) else None

    def retention(self, item: Any, where: str) -> LogRetention:
        if not isinstance(item, dict):
            self.problem(where, "expected a mapping")
            return LogRetention()
        self.unknown_keys(item, where, {"floor_months", "ceiling_months", "ceiling_purpose"})
        floor = self.whole(item, "floor_months", where, DEFAULT_FLOOR_MONTHS)
        if floor is not None and floor < DEFAULT_FLOOR_MONTHS:
            self.problem(f"{where}.floor_months",
                         f"{floor} is below the AI Act minimum of {DEFAULT_FLOOR_MONTHS} months (Art. 19, 26(6))")
        ceiling = self.whole(item, "ceiling_months", where, None)
        purpose = self.text(item, "ceiling_purpose", where, required=ceiling is not None)
        if ceiling is not None and floor is not None and ceiling < floor:
            self.problem(f"{where}.ceiling_months",
                         f"{ceiling} is below the floor of {floor} months: rows inside the floor cannot be deleted")
        return LogRetention(floor or DEFAULT_FLOOR_MONTHS, ceiling, purpose)

    def hold(self, item: Any, where: str, systems: set[str]) -> LegalHold | None:
        if not isinstance(item, dict):
            self.problem(where, "expected a mapping")
            return None
        self.unknown_keys(item, where, {"id", "trigger", "system", "from", "to", "placed_by", "placed_at",
                                        "review_due", "released_at"})
        system = self.text(item, "system", where)
        if system is not None and system not in systems:
            self.problem(f"{where}.system", f"{system!r} is not a system in `systems`")
        first, last = self.day(item, "from", where), self.day(item, "to", where)
        if first and last and last < first:
            self.problem(f"{where}.to", f"{last} is before `from` ({first})")
        placed_at = self.moment(item, "placed_at", where)
        released_at = self.moment(item, "released_at", where, required=False)
        if placed_at and released_at and released_at < placed_at:
            self.problem(f"{where}.released_at", "is before placed_at")
        values = dict(id=self.text(item, "id", where), trigger=self.text(item, "trigger", where),
                      system=system, first_day=first, last_day=last,
                      placed_by=self.text(item, "placed_by", where), placed_at=placed_at,
                      review_due=self.day(item, "review_due", where, required=False), released_at=released_at)
        required = ("id", "trigger", "system", "first_day", "last_day", "placed_by", "placed_at")
        return None if any(values[k] is None for k in required) else LegalHold(**values)

    def thresholds(self, item: Any, where: str) -> Thresholds:
        if not isinstance(item, dict):
            self.problem(where, "expected a mapping")
            return Thresholds()
        defaults = Thresholds()
        self.unknown_keys(item, where, set(defaults.__dataclass_fields__))
        thresholds = Thresholds(
            coverage_target_pct=self.percent(item, "coverage_target_pct", where, defaults.coverage_target_pct),
            coverage_floor_pct=self.percent(item, "coverage_floor_pct", where, defaults.coverage_floor_pct),
            traceability_target_pct=self.percent(item, "traceability_target_pct", where,
                                                 defaults.traceability_target_pct),
            retirement_warning_days=self.whole(item, "retirement_warning_days", where,
                                               defaults.retirement_warning_days),
            deletion_grace_days=self.whole(item, "deletion_grace_days", where, defaults.deletion_grace_days),
            report_period_days=self.whole(item, "report_period_days", where, defaults.report_period_days),
        )
        if thresholds.coverage_floor_pct > thresholds.coverage_target_pct:
            self.problem(f"{where}.coverage_floor_pct", "is above coverage_target_pct")
        return thresholds

    def catalog_entry(self, item: Any, where: str) -> CatalogEntry | None:
        if not isinstance(item, dict):
            self.problem(where, "expected a mapping")
            return None
        self.unknown_keys(item, where, {"provider", "snapshot", "deprecated_on", "retires_on", "replacement",
                                        "source"})
        provider, snapshot = self.text(item, "provider", where), self.text(item, "snapshot", where)
        deprecated = self.day(item, "deprecated_on", where, required=False)
        retires = self.day(item, "retires_on", where, required=False)
        if deprecated and retires and retires < deprecated:
            self.problem(f"{where}.retires_on", f"{retires} is before deprecated_on ({deprecated})")
        if provider is None or snapshot is None:
            return None
        return CatalogEntry(provider, snapshot, deprecated, retires,
                            self.text(item, "replacement", where, required=False),
                            self.text(item, "source", where, required=False))

    def decimal(self, mapping: dict, key: str, where: str, default: Decimal | None = None) -> Decimal | None:
        """A non-negative decimal; given as text or a number (floats go through their text)."""
        value = mapping.get(key)
        if value is None:
            if default is None:
                self.problem(f"{where}.{key}", "required: a decimal number")
            return default
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            number = None
        if isinstance(value, bool) or number is None or not number.is_finite() or number < 0:
            self.problem(f"{where}.{key}", f"expected a decimal number of at least 0, got {value!r}")
            return default
        return number

    def tolerances(self, item: Any, where: str) -> Tolerances:
        if not isinstance(item, dict):
            self.problem(where, "expected a mapping")
            return Tolerances()
        defaults = Tolerances()
        self.unknown_keys(item, where, set(defaults.__dataclass_fields__))
        return Tolerances(
            token_tolerance_pct=self.percent(item, "token_tolerance_pct", where, defaults.token_tolerance_pct),
            cost_tolerance_pct=self.percent(item, "cost_tolerance_pct", where, defaults.cost_tolerance_pct),
            cost_tolerance_usd=self.decimal(item, "cost_tolerance_usd", where, defaults.cost_tolerance_usd),
            business_hours_utc=self.hours(item, "business_hours_utc", where, defaults.business_hours_utc),
        )

    def hours(self, mapping: dict, key: str, where: str, default: tuple[int, int]) -> tuple[int, int]:
        value = mapping.get(key, list(default))
        if (not isinstance(value, list) or len(value) != 2 or not all(type(v) is int for v in value)
                or not 0 <= value[0] < value[1] <= 24):
            self.problem(f"{where}.{key}", f"expected [first hour, end hour] with 0 <= first < end <= 24, got {value!r}")
            return default
        return value[0], value[1]

    def acknowledgement(self, item: Any, where: str) -> Acknowledgement | None:
        if not isinstance(item, dict):
            self.problem(where, "expected a mapping")
            return None
        self.unknown_keys(item, where, {"id", "by", "reason"})
        values = (self.text(item, "id", where), self.text(item, "by", where), self.text(item, "reason", where))
        return None if None in values else Acknowledgement(*values)

    def price(self, item: Any, where: str) -> PriceEntry | None:
        if not isinstance(item, dict):
            self.problem(where, "expected a mapping")
            return None
        self.unknown_keys(item, where, {"provider", "model", "token_type", "usd_per_million", "effective_from",
                                        "effective_to", "source"})
        first, last = self.day(item, "effective_from", where), self.day(item, "effective_to", where, required=False)
        if first and last and last <= first:
            self.problem(f"{where}.effective_to", f"{last} is not after effective_from ({first})")
        values = dict(provider=self.text(item, "provider", where), model=self.text(item, "model", where),
                      token_type=self.choice(item, "token_type", where, TOKEN_TYPES),
                      usd_per_million=self.decimal(item, "usd_per_million", where), effective_from=first,
                      effective_to=last, source=self.text(item, "source", where, required=False))
        required = ("provider", "model", "token_type", "usd_per_million", "effective_from")
        return None if any(values[k] is None for k in required) else PriceEntry(**values)
