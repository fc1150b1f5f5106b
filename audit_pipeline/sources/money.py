"""Money and time units shared by the billing parsers: decimals for money, UTC for time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext

MONEY_SCALE = Decimal("1e-12")
"""Tables store money as decimal128(38, 12); finer amounts are rounded half-to-even."""


def parse_amount(value: object, *, field: str, per_unit: int = 1) -> Decimal:
    """A currency amount from a JSON number or a (long-precision, maybe scientific) string.

    `per_unit` converts minor units (Anthropic reports cents: `per_unit=100`) before
    rounding to the table scale, so no precision is lost twice.
    """
    if isinstance(value, bool) or value is None:
        raise ValueError(f"field {field}: expected an amount, got {value!r}")
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"field {field}: not a decimal amount: {value!r}") from exc
    if not amount.is_finite():
        raise ValueError(f"field {field}: amount is not finite: {value!r}")
    with localcontext() as ctx:
        ctx.prec = 60
        return (amount / per_unit).quantize(MONEY_SCALE, rounding=ROUND_HALF_EVEN)


class TimestampError(ValueError):
    """A time field that cannot be read (quarantined as `bad_timestamp`)."""


MAX_UTC_OFFSET = timedelta(hours=18)
"""RFC 3339 / ISO 8601 offsets in use stay within ±14:00; ±18:00 is the widest any standard
library accepts. A larger one (`+25:00`) is a typo that would move a record a day."""
UTC_OFFSET_SQL_PATTERN = r"(Z|z|[+-](0\d|1[0-7]):?[0-5]\d|[+-]18:?00)$"
"""A timestamp's zone as the logs may write it (RE2, for DuckDB): Z, or an offset up to ±18:00."""


def utc_from_unix_seconds(value: object, *, field: str) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TimestampError(f"field {field}: expected Unix seconds, got {value!r}")
    return datetime.fromtimestamp(value, tz=UTC)


def utc_from_rfc3339(value: object, *, field: str) -> datetime:
    if not isinstance(value, str):
        raise TimestampError(f"field {field}: expected an RFC 3339 string, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError as exc:
        raise TimestampError(f"field {field}: not an RFC 3339 time: {value!r}") from exc
    if parsed.tzinfo is None:
        raise TimestampError(f"field {field}: timestamp has no time zone: {value!r}")
    if abs(parsed.utcoffset()) > MAX_UTC_OFFSET:
        raise TimestampError(f"field {field}: UTC offset beyond ±18:00: {value!r}")
    return parsed.astimezone(UTC)
