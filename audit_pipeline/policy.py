"""The policy in `audit.yaml` (AUDIT_CONFIG): AI systems and their retention, legal holds,
report thresholds, and the spend rules (prices, tolerances, acknowledged findings).

What the file says is a compliance decision, so it is validated whole on load: each concern is
a pydantic model that forbids unknown keys, and every problem is reported at once with its key
path and the value found (`systems[1].log_retention.ceiling_months: 9 is below the floor…`).
The models are the schema; `audit.yaml` in the repository is the annotated example.

Defaults follow the AI Act (docs/reference/eu-ai-act-logging.md §2 and §4): logs are kept at
least six months (Art. 19, Art. 26(6)); prompt history and the model inventory, which are
technical documentation, ten years (Art. 18). A ceiling below its floor is refused: deleting
inside the floor would breach the legal obligation the floor encodes.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from audit_pipeline.sources.prompt_collections import CollectionSpec

TOKEN_TYPES = ("uncached_input", "cache_read", "cache_write", "output")
"""Billed token types after normalisation (docs/reference/billing-formats.md §7.6)."""
PRICED_TYPES = (*TOKEN_TYPES, "cache_write_1h", "web_search")
"""What the price catalog prices: the token types, the 1-hour part of cache writes (priced
above the 5-minute writes; reconciled within cache_write), and web searches (per search)."""
PRICE_TIERS = ("standard", "batch", "flex", "priority")
"""The service tiers a price can be for (pricing.py `price_tier` maps the providers' names)."""
DEFAULT_FLOOR_MONTHS = 6
"""AI Act Art. 19(1) (providers) and Art. 26(6) (deployers): at least six months."""
DEFAULT_DOCUMENTATION_YEARS = 10
"""AI Act Art. 18(1): technical documentation kept ten years after placing on the market."""


def _problem(message: str) -> PydanticCustomError:
    return PydanticCustomError("policy", message)


def _text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _problem(f"expected text, got {type(value).__name__}")
    if not str(value).strip():
        raise _problem("required")
    return str(value).strip()


def _whole(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise _problem(f"expected a whole number above 0, got {value!r}")
    return value


def _percent(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
        raise _problem(f"expected a percentage from 0 to 100, got {value!r}")
    return float(value)


def _day(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise _problem(f"expected a date (YYYY-MM-DD), got {value!r}") from None


def _moment(value: Any) -> datetime:
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if not isinstance(value, datetime):
        try:
            value = datetime.fromisoformat(str(value))
        except ValueError:
            raise _problem(f"expected a UTC time (YYYY-MM-DDTHH:MM:SSZ), got {value!r}") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _decimal(value: Any) -> Decimal:
    """A non-negative decimal, given as text or a number (a float goes through its text)."""
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        number = None
    if isinstance(value, bool) or number is None or not number.is_finite() or number < 0:
        raise _problem(f"expected a decimal number of at least 0, got {value!r}")
    return number


def _hours(value: Any) -> tuple[int, int]:
    if (not isinstance(value, list | tuple) or len(value) != 2 or not all(type(v) is int for v in value)
            or not 0 <= value[0] < value[1] <= 24):
        raise _problem(f"expected [first hour, end hour] with 0 <= first < end <= 24, got {value!r}")
    return value[0], value[1]


def _choice(*choices: str):
    def check(value: Any) -> str:
        text = _text(value)
        if text not in choices:
            raise _problem(f"{text!r} is not one of {', '.join(choices)}")
        return text
    return check


Text = Annotated[str, BeforeValidator(_text)]
Whole = Annotated[int, BeforeValidator(_whole)]
Percent = Annotated[float, BeforeValidator(_percent)]
Day = Annotated[date, BeforeValidator(_day)]
Moment = Annotated[datetime, BeforeValidator(_moment)]
Money = Annotated[Decimal, BeforeValidator(_decimal)]
RiskClass = Annotated[Literal["high", "limited", "minimal"], BeforeValidator(_choice("high", "limited", "minimal"))]
Role = Annotated[Literal["provider", "deployer"], BeforeValidator(_choice("provider", "deployer"))]
TokenType = Annotated[str, BeforeValidator(_choice(*PRICED_TYPES))]
PriceTier = Annotated[str, BeforeValidator(_choice(*PRICE_TIERS))]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LogRetention(_Section):
    """How long an AI system's logs are kept: never less than the floor, and deleted after the
    ceiling (when there is one) for the purpose it names."""

    floor_months: Whole = DEFAULT_FLOOR_MONTHS
    ceiling_months: Whole | None = None
    ceiling_purpose: Text | None = Field(None, validate_default=True)

    @field_validator("floor_months")
    @classmethod
    def _at_least_the_legal_minimum(cls, floor: int) -> int:
        if floor < DEFAULT_FLOOR_MONTHS:
            raise _problem(f"{floor} is below the AI Act minimum of {DEFAULT_FLOOR_MONTHS} months (Art. 19, 26(6))")
        return floor

    @field_validator("ceiling_months")
    @classmethod
    def _not_below_the_floor(cls, ceiling: int | None, info: ValidationInfo) -> int | None:
        floor = info.data.get("floor_months")
        if ceiling is not None and floor is not None and ceiling < floor:
            raise _problem(f"{ceiling} is below the floor of {floor} months: rows inside the floor cannot be deleted")
        return ceiling

    @field_validator("ceiling_purpose")
    @classmethod
    def _a_ceiling_names_its_purpose(cls, purpose: str | None, info: ValidationInfo) -> str | None:
        if purpose is None and info.data.get("ceiling_months") is not None:
            raise _problem("required")
        return purpose


class AISystemPolicy(_Section):
    """One AI system (its `ai_system` value in the logs) and the obligations that follow from
    its risk class and role."""

    id: Text
    purpose: Text
    risk_class: RiskClass
    annex_iii_point: Text | None = Field(None, validate_default=True)
    """Required for a high-risk system: the Annex III point that makes it high-risk."""
    role: Role
    log_retention: LogRetention = LogRetention()
    documentation_retention_years: Whole = DEFAULT_DOCUMENTATION_YEARS
    in_service_from: Day | None = None
    """The floor test requires logs from this day on; without it, from the first record."""

    @field_validator("annex_iii_point")
    @classmethod
    def _high_risk_names_its_annex_point(cls, point: str | None, info: ValidationInfo) -> str | None:
        if point is None and info.data.get("risk_class") == "high":
            raise _problem("required")
        return point

    @field_validator("log_retention", mode="before")
    @classmethod
    def _empty_is_default(cls, value: Any) -> Any:
        return {} if value is None else value


class LegalHold(_Section):
    """Rows of a system's days that no deletion may touch while the hold is active."""

    id: Text
    trigger: Text
    system: Text
    first_day: Day = Field(alias="from")
    last_day: Day = Field(alias="to")
    placed_by: Text
    placed_at: Moment
    review_due: Day | None = None
    released_at: Moment | None = None

    @field_validator("system")
    @classmethod
    def _names_a_system(cls, system: str, info: ValidationInfo) -> str:
        if system not in (info.context or {}).get("system_ids", {system}):
            raise _problem(f"{system!r} is not a system in `systems`")
        return system

    @field_validator("last_day")
    @classmethod
    def _not_before_the_first_day(cls, last: date, info: ValidationInfo) -> date:
        first = info.data.get("first_day")
        if first is not None and last < first:
            raise _problem(f"{last} is before `from` ({first})")
        return last

    @field_validator("released_at")
    @classmethod
    def _not_released_before_placed(cls, released: datetime | None, info: ValidationInfo) -> datetime | None:
        placed = info.data.get("placed_at")
        if released is not None and placed is not None and released < placed:
            raise _problem("is before placed_at")
        return released

    def active_on(self, moment: datetime) -> bool:
        """Placed by `moment` and not released by then."""
        return self.placed_at <= moment and (self.released_at is None or moment < self.released_at)

    def status_on(self, moment: datetime) -> str:
        if self.active_on(moment):
            return "active"
        return "released" if self.released_at is not None and self.released_at <= moment else "not yet placed"


class Thresholds(_Section):
    """What turns a retention report AMBER or RED (docs/reference/eu-ai-act-logging.md §7.12)."""

    coverage_target_pct: Percent = 99.0
    """A day below: AMBER."""
    coverage_floor_pct: Percent = 50.0
    """A day below counts as missing (the floor test turns RED)."""
    traceability_target_pct: Percent = 99.0
    """Outputs with both a prompt version and a model snapshot."""
    retirement_warning_days: Whole = 30
    """A model in use this close to its retirement: AMBER."""
    deletion_grace_days: Whole = 7
    """Past the ceiling this long and still present: RED."""
    report_period_days: Whole = 30
    """A report's period ends on its report date."""

    @field_validator("coverage_floor_pct")
    @classmethod
    def _floor_not_above_target(cls, floor: float, info: ValidationInfo) -> float:
        target = info.data.get("coverage_target_pct", cls.model_fields["coverage_target_pct"].default)
        if floor > target:
            raise _problem("is above coverage_target_pct")
        return floor


class CatalogEntry(_Section):
    """One model snapshot's lifecycle, added to or correcting the shipped model catalog."""

    provider: Text
    snapshot: Text
    deprecated_on: Day | None = None
    retires_on: Day | None = None
    replacement: Text | None = None
    source: Text | None = None

    @field_validator("retires_on")
    @classmethod
    def _not_before_deprecation(cls, retires: date | None, info: ValidationInfo) -> date | None:
        deprecated = info.data.get("deprecated_on")
        if retires is not None and deprecated is not None and retires < deprecated:
            raise _problem(f"{retires} is before deprecated_on ({deprecated})")
        return retires


class Tolerances(_Section):
    """How far billed and logged figures may differ and still reconcile (`reconciliation:`)."""

    token_tolerance_pct: Percent = 1.0
    cost_tolerance_pct: Percent = 1.0
    cost_tolerance_usd: Money = Decimal("0.0001")
    """A hundredth of a cent: providers round line items, and small days must still show a
    mispriced token type (25 % of $0.005 is $0.00125)."""
    business_hours_utc: Annotated[tuple[int, int], BeforeValidator(_hours)] = (7, 19)
    """Calls from the first hour up to (not including) the second are in business hours."""


class Acknowledgement(_Section):
    """A security finding a person looked at: still reported, marked as acknowledged."""

    finding_id: Text = Field(alias="id")
    by: Text
    reason: Text


class PriceEntry(_Section):
    """A price the user adds or corrects: USD per million tokens (or searches) from
    `effective_from`, for one service tier and optionally one prompt-length band and one
    inference geography (left out: every band, anywhere)."""

    provider: Text
    model: Text
    token_type: TokenType
    price_tier: PriceTier = "standard"
    context_window: Text | None = None
    inference_geo: Text | None = None
    usd_per_million: Money
    effective_from: Day
    effective_to: Day | None = None
    source: Text | None = None

    @field_validator("effective_to")
    @classmethod
    def _after_the_start(cls, last: date | None, info: ValidationInfo) -> date | None:
        first = info.data.get("effective_from")
        if last is not None and first is not None and last <= first:
            raise _problem(f"{last} is not after effective_from ({first})")
        return last


class PromptCollection(_Section):
    """A repository file holding several prompts (`prompt_collections:`): each entry is its
    own prompt id, `<file's prompt id>/<entry id>`, with its own versions and content hash."""

    path: Text
    """A glob relative to the prompt repository (`**` crosses folders)."""
    format: Literal["yaml", "json", "csv", "prompty"]
    id_field: Text | None = Field(None, validate_default=True)
    """For a list of entries or a CSV: the field naming each entry (`.prompty`: default `name`)."""
    text_field: Text | None = None
    """The field holding the prompt text, hashed; without it the whole entry is hashed."""

    @field_validator("id_field")
    @classmethod
    def _csv_needs_an_id(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and info.data.get("format") == "csv":
            raise _problem("a CSV collection needs id_field, the column naming each prompt")
        return value

    def spec(self) -> CollectionSpec:
        return CollectionSpec(self.path, self.format, self.id_field, self.text_field)


class Policy(_Section):
    """The whole file. Sections left out take their defaults; only `systems` is required."""

    systems: tuple[AISystemPolicy, ...]
    legal_holds: tuple[LegalHold, ...] = ()
    thresholds: Thresholds = Thresholds()
    model_catalog: tuple[CatalogEntry, ...] = ()
    reconciliation: Tolerances = Tolerances()
    prices: tuple[PriceEntry, ...] = ()
    acknowledged_findings: tuple[Acknowledgement, ...] = ()
    prompt_collections: tuple[PromptCollection, ...] = ()
    _sha256: str = PrivateAttr(default="")

    @field_validator("legal_holds", "model_catalog", "prices", "acknowledged_findings", "thresholds",
                     "reconciliation", "prompt_collections", mode="before")
    @classmethod
    def _empty_is_default(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None:
            return {} if info.field_name in ("thresholds", "reconciliation") else ()
        return value

    @property
    def sha256(self) -> str:
        """The sha256 of the file's bytes this policy was read from: reports and exports name
        the exact policy they applied."""
        return self._sha256

    def system(self, system_id: str) -> AISystemPolicy | None:
        return next((s for s in self.systems if s.id == system_id), None)


class _DatesAsText(yaml.SafeLoader):
    """YAML without implicit timestamps: PyYAML would turn `2026-13-01` into an exception that
    names neither the file nor the key; as text, the models check it and name both."""


_DatesAsText.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class PolicyError(ValueError):
    """An `audit.yaml` that cannot be used; `problems` names each wrong key and its value."""

    def __init__(self, path: str, problems: list[str]):
        self.problems = problems
        super().__init__(f"{path}: " + "; ".join(problems))


def load_policy(path: str | Path) -> Policy:
    """Read and validate `path`; PolicyError names the file and lists every problem."""
    path = str(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError as exc:
        raise PolicyError(path, ["file not found (set AUDIT_CONFIG, or copy audit.yaml)"]) from exc
    try:
        document = yaml.load(raw, Loader=_DatesAsText)
    except yaml.YAMLError as exc:
        raise PolicyError(path, [f"not YAML: {exc}"]) from exc
    policy = parse_policy(document, path)
    policy._sha256 = hashlib.sha256(raw).hexdigest()
    return policy


def parse_policy(document: Any, path: str = "audit.yaml") -> Policy:
    if not isinstance(document, dict):
        raise PolicyError(path, ["expected a mapping with `systems` (and optionally `legal_holds`)"])
    system_ids = {str(s["id"]) for s in _listed(document, "systems") if s.get("id") is not None}
    problems: list[tuple[str, str]] = []
    try:
        policy = Policy.model_validate(document, context={"system_ids": system_ids})
    except ValidationError as exc:
        policy = None
        problems = _explained(exc)
    # Ids are unique within their list: a rule over the document, reported beside the others.
    problems += [(key, f"id {duplicate!r} appears more than once")
                 for key in ("systems", "legal_holds") for duplicate in _repeated_ids(document, key)]
    if problems:
        sections = list(Policy.model_fields)
        problems.sort(key=lambda p: sections.index(p[0].split("[")[0].split(".")[0])
                      if p[0].split("[")[0].split(".")[0] in sections else -1)
        raise PolicyError(path, [f"{key}: {message}" for key, message in problems])
    return policy


def _listed(document: dict, key: str) -> list[dict]:
    items = document.get(key)
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def _repeated_ids(document: dict, key: str) -> list[str]:
    ids = [str(i["id"]) for i in _listed(document, key) if i.get("id") is not None]
    return sorted({i for i in ids if ids.count(i) > 1})


def _key_path(loc: tuple) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")


def _model_at(loc: tuple) -> type[BaseModel]:
    """The section model that holds the key at `loc` (for listing its known keys)."""
    model: type[BaseModel] = Policy
    for part in loc[:-1]:
        if isinstance(part, str):
            field = model.model_fields[next(n for n, f in model.model_fields.items() if (f.alias or n) == part)]
            annotation = field.annotation
            args = getattr(annotation, "__args__", ())
            model = next((a for a in (annotation, *args) if isinstance(a, type) and issubclass(a, BaseModel)), model)
    return model


def _explained(exc: ValidationError) -> list[tuple[str, str]]:
    """(key path, message) per problem, in the file's order: a mapping's unknown keys first,
    then its keys in the order the model declares them."""
    explained: list[tuple[tuple, str]] = []
    for error in exc.errors(include_url=False):
        loc = error["loc"]
        if error["type"] == "missing":
            message = "required"
        elif error["type"] == "extra_forbidden":
            known = sorted(f.alias or n for n, f in _model_at(loc).model_fields.items())
            message = f"unknown key (expected one of {', '.join(known)})"
            parent = loc[:-1]
            first_sibling = next((i for i, (other, _) in enumerate(explained) if other[:len(parent)] == parent),
                                 len(explained))
            explained.insert(first_sibling, (loc, message))
            continue
        elif error["type"] == "policy":
            message = error["msg"]
        elif error["type"] in ("tuple_type", "list_type"):
            message = f"expected a list, got {type(error['input']).__name__}"
        elif error["type"] == "model_type":
            message = f"expected a mapping, got {type(error['input']).__name__}"
        else:
            message = f"{error['msg']}, got {error['input']!r}"
        explained.append((loc, message))
    return [(_key_path(loc), message) for loc, message in explained]
