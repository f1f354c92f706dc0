"""SLA arithmetic: deadlines from a policy, business time, pauses, and the next deadline.

A case carries up to three deadlines: first response (until someone answers), follow-up
(the earliest open promise made to the customer) and resolution.  With a
:class:`~scrm.core.schemas.BusinessCalendar` durations count only during opening hours, so
"4 hours" from Friday 17:00 on a 09:00-18:00 calendar is Monday 12:00.  ``next_due`` is the
earliest pending deadline; it is indexed with the status, so "open cases due soonest" is one
index range scan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from scrm.core.schemas import BusinessCalendar, SlaPolicy

__all__ = [
    "CLOCKS",
    "Deadlines",
    "add_time",
    "deadlines",
    "next_due",
    "pending_clocks",
    "time_between",
]

_CLOSED = ("resolved", "closed")
CLOCKS = ("first_response", "follow_up", "resolution")
_MAX_DAYS = 3660  # a calendar open less than this often is a configuration error


@dataclass(frozen=True)
class Deadlines:
    first_response: datetime | None
    resolution: datetime | None


class _CaseClock(Protocol):
    status: str
    first_response_at: datetime | None
    first_response_due: datetime | None
    follow_up_due: datetime | None
    resolution_due: datetime | None


def _open_intervals(calendar: BusinessCalendar, start: datetime) -> object:
    """Yield (open, close) UTC intervals of the calendar from ``start`` on, day by day."""
    zone = ZoneInfo(calendar.timezone)
    day = start.astimezone(zone).date()
    holidays = set(calendar.holidays)
    for _ in range(_MAX_DAYS):
        if day not in holidays:
            for a, b in calendar.ranges(day.weekday()):
                midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
                lo = (midnight + timedelta(minutes=a)).astimezone(UTC)
                hi = (midnight + timedelta(minutes=b)).astimezone(UTC)
                if hi > start:
                    yield max(lo, start), hi
        day += timedelta(days=1)
    raise ValueError("the business calendar has no opening hours within ten years")


def add_time(start: datetime, duration: timedelta, calendar: BusinessCalendar | None) -> datetime:
    """Return the instant ``duration`` of (business) time after ``start``."""
    if calendar is None:
        return start + duration
    left = duration
    last = start
    for lo, hi in _open_intervals(calendar, start):  # type: ignore[attr-defined]
        span = hi - lo
        if left <= span:
            return lo + left
        left -= span
        last = hi
    return last  # unreachable: _open_intervals raises first


def time_between(a: datetime, b: datetime, calendar: BusinessCalendar | None) -> timedelta:
    """Return how much (business) time passes from ``a`` to ``b`` (zero if ``b`` is earlier)."""
    if b <= a:
        return timedelta(0)
    if calendar is None:
        return b - a
    total = timedelta(0)
    for lo, hi in _open_intervals(calendar, a):  # type: ignore[attr-defined]
        if lo >= b:
            break
        total += min(hi, b) - lo
    return total


def deadlines(policy: SlaPolicy | None, start: datetime) -> Deadlines:
    """Return the deadlines ``policy`` sets for a case opened at ``start``."""
    if policy is None:
        return Deadlines(None, None)
    cal = policy.calendar
    return Deadlines(
        first_response=add_time(start, policy.first_response, cal)
        if policy.first_response
        else None,
        resolution=add_time(start, policy.resolution, cal) if policy.resolution else None,
    )


def pending_clocks(case: _CaseClock) -> dict[str, datetime]:
    """Return the deadlines ``case`` still has to meet, by clock name."""
    if case.status in _CLOSED:
        return {}
    pending = {"resolution": case.resolution_due, "follow_up": case.follow_up_due}
    if case.first_response_at is None:
        pending["first_response"] = case.first_response_due
    return {k: v for k, v in pending.items() if v is not None}


def next_due(case: _CaseClock) -> datetime | None:
    """Return the earliest deadline ``case`` still has to meet, or None."""
    dues = pending_clocks(case).values()
    return min(dues) if dues else None
