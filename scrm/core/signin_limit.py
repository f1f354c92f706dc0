"""The limit on failed password sign-ins to the console, per username and per client address.

Each failure is a ``signin_failures`` row, so every server process (and worker) counts the
same failures.  While a username has had :data:`PER_USERNAME` failures within :data:`WINDOW`,
or an address :data:`PER_ADDRESS`, a sign-in is refused before its password is checked,
until the oldest of those failures leaves the window.  A username is counted as typed,
whether or not an agent has it, so the refusal tells nothing about which usernames exist.
A success forgets the username's failures (not the address's).  Two attempts at the same
instant may both pass the check: the limit slows guessing down, it is not a lock.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from scrm.core.models import SigninFailure

__all__ = ["PER_ADDRESS", "PER_USERNAME", "WINDOW", "blocked_until", "forget", "record_failure"]

#: Failed sign-ins that are counted: those of the last quarter hour.
WINDOW = timedelta(minutes=15)
#: Failures within the window after which a username is refused.
PER_USERNAME = 5
#: Failures within the window after which a client address is refused (an office behind one
#: address has several agents, so more than one person's share).
PER_ADDRESS = 20


def _key(username: str) -> str:
    return username.strip().lower()[:64]


def _until(session: Session, column: Any, value: str, limit: int, now: datetime) -> datetime | None:
    """When the failures of ``column == value`` fall under ``limit``; None if they are."""
    times = session.scalars(
        sa.select(SigninFailure.at)
        .where(column == value, SigninFailure.at > now - WINDOW)
        .order_by(SigninFailure.at.desc())
        .limit(limit)
    ).all()
    if len(times) < limit:
        return None
    oldest = times[-1]
    return (oldest if oldest.tzinfo else oldest.replace(tzinfo=now.tzinfo)) + WINDOW


def blocked_until(session: Session, username: str, address: str, now: datetime) -> datetime | None:
    """The time from which ``username`` may try again from ``address``; None: it may now."""
    found = [
        _until(session, SigninFailure.username, _key(username), PER_USERNAME, now),
        _until(session, SigninFailure.address, address[:64], PER_ADDRESS, now),
    ]
    waits = [t for t in found if t is not None]
    return max(waits) if waits else None


def record_failure(session: Session, username: str, address: str, now: datetime) -> None:
    """Count a failed sign-in; failures older than the window are deleted on the way."""
    session.execute(sa.delete(SigninFailure).where(SigninFailure.at <= now - WINDOW))
    session.add(SigninFailure(username=_key(username), address=address[:64], at=now))
    session.flush()


def forget(session: Session, username: str) -> None:
    """A successful sign-in: the username's failures no longer count."""
    session.execute(sa.delete(SigninFailure).where(SigninFailure.username == _key(username)))
