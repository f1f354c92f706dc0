"""SLA arithmetic: deadlines from a policy, and the next deadline a case must meet.

A case carries up to three deadlines: first response (until someone answers), follow-up
(a promise made to the customer) and resolution.  ``next_due`` is the earliest deadline
still pending; it is indexed with the status so that "open cases due soonest" is one index
range scan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from scrm.core.schemas import SlaPolicy

__all__ = ["Deadlines", "deadlines", "next_due"]

_CLOSED = ("resolved", "closed")


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


def deadlines(policy: SlaPolicy | None, start: datetime) -> Deadlines:
    """Return the deadlines ``policy`` sets for a case opened at ``start``."""
    if policy is None:
        return Deadlines(None, None)
    return Deadlines(
        first_response=start + policy.first_response if policy.first_response else None,
        resolution=start + policy.resolution if policy.resolution else None,
    )


def next_due(case: _CaseClock) -> datetime | None:
    """Return the earliest deadline ``case`` still has to meet, or None."""
    if case.status in _CLOSED:
        return None
    pending = [case.resolution_due, case.follow_up_due]
    if case.first_response_at is None:
        pending.append(case.first_response_due)
    dues = [d for d in pending if d is not None]
    return min(dues) if dues else None
