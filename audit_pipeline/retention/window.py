"""The retention clocks as dates: where the floor starts, where the ceiling cuts.

Every date here is a UTC day. The floor is computed generously (§7.3 of
docs/reference/eu-ai-act-logging.md: the earlier of "same day N months back" and
"N × 184/6 days back"), the ceiling strictly, and a deletion cutoff is never later than the
floor start, so no arithmetic slip can make a row inside the floor deletable.
"""

from __future__ import annotations

import calendar
import math
from datetime import date, timedelta

from audit_pipeline.policy import LogRetention


def months_back(day: date, months: int) -> date:
    """The same day `months` calendar months earlier (clamped to the month's last day)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def floor_start(as_of: date, floor_months: int) -> date:
    """The first day the floor protects on `as_of`: six months is "the earlier of same day
    six months back and as_of − 184 days"; other lengths scale the 184 days."""
    return min(months_back(as_of, floor_months), as_of - timedelta(days=math.ceil(floor_months * 184 / 6)))


def deletion_cutoff(as_of: date, retention: LogRetention) -> date | None:
    """Rows of days before this are past the ceiling on `as_of`; None when the policy sets no
    ceiling. Never after the floor start, whatever the policy says."""
    if retention.ceiling_months is None:
        return None
    return min(months_back(as_of, retention.ceiling_months), floor_start(as_of, retention.floor_months))
