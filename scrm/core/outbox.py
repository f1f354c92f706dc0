"""The outbox: replies that are never lost and never sent twice.

A reply is written to ``outbox`` in the same transaction as the case change that caused it.
Delivery then goes in three committed steps: *claim* (status ``sending`` with a lease),
*send* (the channel plugin), *settle* (``sent`` with the channel's id, or back to ``pending``
with a backoff, or ``failed``).  A crash leaves the row ``sending``; when its lease runs out
the row is *reconciled*: the channel is asked whether the message went out (``Channel.
reconcile``); if it did, the row is settled as sent without sending again; if it did not,
it goes back to ``pending``; if the channel cannot tell, the row is marked ``failed`` with
that explanation, visible and retryable by a person, and is never re-sent on a guess.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from scrm.core.models import OutboxMessage
from scrm.core.schemas import OutboundMessage

__all__ = [
    "MAX_ATTEMPTS",
    "backoff",
    "claim",
    "enqueue",
    "expired",
    "settle_failed",
    "settle_retry",
    "settle_sent",
    "to_message",
]

MAX_ATTEMPTS = 8
LEASE = timedelta(minutes=5)


def backoff(attempts: int) -> timedelta:
    """Delay before retry number ``attempts`` (30 s, 1 min, 2 min... capped at 1 h)."""
    return min(timedelta(seconds=30 * 2 ** max(attempts - 1, 0)), timedelta(hours=1))


def enqueue(
    session: Session, *, idempotency_key: str, now: datetime, **fields: Any
) -> tuple[OutboxMessage, bool]:
    """Queue a reply unless one with ``idempotency_key`` exists; return it and whether it is new."""
    existing = session.scalar(
        sa.select(OutboxMessage).where(OutboxMessage.idempotency_key == idempotency_key)
    )
    if existing is not None:
        return existing, False
    row = OutboxMessage(
        idempotency_key=idempotency_key, status="pending", attempts=0, next_attempt_at=now, **fields
    )
    session.add(row)
    session.flush()
    return row, True


def claim(
    session: Session, *, now: datetime, limit: int = 100, lease: timedelta | None = None
) -> list[OutboxMessage]:
    """Take up to ``limit`` due rows for delivery; other workers skip rows already taken.

    :param lease: how long the rows are this worker's (default :data:`LEASE`, read at call
        time); a worker that dies holding them gives them back when it runs out.
    """
    lease = lease if lease is not None else LEASE
    q = (
        sa.select(OutboxMessage)
        .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True)
    rows = list(session.scalars(q))
    for row in rows:
        row.status = "sending"
        row.attempts += 1
        row.lease_until = now + lease
    return rows


def expired(session: Session, *, now: datetime) -> list[OutboxMessage]:
    """Rows whose delivery was interrupted (their lease ran out while ``sending``)."""
    q = sa.select(OutboxMessage).where(
        OutboxMessage.status == "sending", OutboxMessage.lease_until < now
    )
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True)
    return list(session.scalars(q))


def settle_sent(row: OutboxMessage, external_id: str, now: datetime) -> None:
    row.status, row.external_id, row.sent_at, row.lease_until, row.last_error = (
        "sent",
        external_id,
        now,
        None,
        None,
    )


def settle_retry(
    row: OutboxMessage, error: str, now: datetime, retry_after: float | None = None
) -> None:
    if row.attempts >= MAX_ATTEMPTS:
        settle_failed(row, f"gave up after {row.attempts} attempts: {error}")
        return
    delay = timedelta(seconds=retry_after) if retry_after else backoff(row.attempts)
    row.status, row.next_attempt_at, row.lease_until, row.last_error = (
        "pending",
        now + delay,
        None,
        error,
    )


def settle_failed(row: OutboxMessage, error: str) -> None:
    row.status, row.lease_until, row.last_error = "failed", None, error


def to_message(row: OutboxMessage) -> OutboundMessage:
    """The channel's view of a queued reply."""
    return OutboundMessage(
        channel=row.channel,
        text=row.text,
        public=row.public,
        to=row.recipient,
        in_reply_to=row.in_reply_to,
        thread_key=row.thread_key,
        subject=row.subject,
        idempotency_key=row.idempotency_key,
        case_id=row.case_id,
        metadata=dict(row.meta),
    )
