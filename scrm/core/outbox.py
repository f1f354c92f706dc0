"""The outbox: replies that are never lost and never sent twice.

A reply is written to ``outbox`` in the same transaction as the case change that caused it.
Its row then goes ``pending`` -> ``sending`` (claimed, with a lease) -> ``accepted`` (the
channel took it: its id and the delivery time are stored at once) -> ``sent`` (recorded on
its case as the brand's message); or back to ``pending`` with a backoff, or ``failed`` with
its reason, also written on the case's timeline.  :mod:`scrm.core.delivery` runs the rounds,
one reply at a time.

A row left ``accepted`` by a killed worker is recorded by the next round once its lease runs
out, without asking anyone: its id is known.  A row left ``sending`` is *reconciled* once its lease runs out:
the channel is asked whether the message went out (``Channel.reconcile``); if it did, the
row is accepted without sending again; if it did not, it goes back to ``pending``; if the
channel cannot tell, the row is marked ``failed`` with that explanation, visible and
retryable by a person, and is never re-sent on a guess.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from scrm.core import cases as case_ops
from scrm.core.models import Case, OutboxMessage
from scrm.core.schemas import OutboundMessage

__all__ = [
    "MAX_ATTEMPTS",
    "STATUSES",
    "UNDELIVERED",
    "backoff",
    "claim",
    "enqueue",
    "expired",
    "settle_accepted",
    "settle_failed",
    "settle_retry",
    "settle_sent",
    "to_message",
    "unrecorded",
]

MAX_ATTEMPTS = 8
LEASE = timedelta(minutes=5)
#: Every status a reply goes through, in order (``failed`` may come from any before ``accepted``).
STATUSES = ("pending", "sending", "accepted", "sent", "failed")
#: Statuses of a reply the channel has not (yet) accepted: what the case board warns about.
UNDELIVERED = ("pending", "sending", "failed")


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


def _locked(session: Session, q: sa.Select[Any]) -> sa.Select[Any]:
    if session.get_bind().dialect.name == "postgresql":
        return q.with_for_update(skip_locked=True)
    return q


def claim(
    session: Session, *, now: datetime, limit: int = 1, lease: timedelta | None = None
) -> list[OutboxMessage]:
    """Take up to ``limit`` due rows for delivery; other workers skip rows already taken.

    Delivery claims one row at a time, so that a worker that dies holds one row at most.

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
    rows = list(session.scalars(_locked(session, q)))
    for row in rows:
        row.status = "sending"
        row.attempts += 1
        row.lease_until = now + lease
    return rows


def expired(session: Session, *, now: datetime, limit: int = 100) -> list[OutboxMessage]:
    """Rows whose delivery was interrupted (their lease ran out while ``sending``)."""
    q = (
        sa.select(OutboxMessage)
        .where(OutboxMessage.status == "sending", OutboxMessage.lease_until < now)
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    return list(session.scalars(_locked(session, q)))


def unrecorded(session: Session, *, now: datetime, limit: int = 100) -> list[OutboxMessage]:
    """Accepted rows a dead worker did not record (their lease ran out); taken for recording.

    A live worker records what it accepted within its lease, so its rows are left alone.
    """
    q = (
        sa.select(OutboxMessage)
        .where(OutboxMessage.status == "accepted", OutboxMessage.lease_until < now)
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    rows = list(session.scalars(_locked(session, q)))
    for row in rows:
        row.lease_until = now + LEASE
    return rows


def settle_accepted(
    row: OutboxMessage, external_id: str, now: datetime, account: str | None = None
) -> None:
    """The channel accepted the reply as ``external_id`` at ``now`` (its delivery time), sent
    from the brand's ``account`` (None: the channel has no accounts of its own).

    The worker keeps a lease on the row until it has recorded it on its case.
    """
    row.status, row.external_id, row.sent_at, row.lease_until, row.last_error, row.account = (
        "accepted",
        external_id,
        now,
        now + LEASE,
        None,
        account,
    )


def settle_sent(row: OutboxMessage) -> None:
    """The accepted reply is recorded on its case."""
    row.status, row.lease_until = "sent", None


def settle_retry(
    session: Session,
    row: OutboxMessage,
    error: str,
    now: datetime,
    retry_after: float | None = None,
) -> None:
    """Put ``row`` back in the queue after a backoff, or fail it once attempts run out."""
    if row.attempts >= MAX_ATTEMPTS:
        settle_failed(session, row, f"gave up after {row.attempts} attempts: {error}", now)
        return
    delay = timedelta(seconds=retry_after) if retry_after else backoff(row.attempts)
    row.status, row.next_attempt_at, row.lease_until, row.last_error = (
        "pending",
        now + delay,
        None,
        error,
    )


def settle_failed(session: Session, row: OutboxMessage, error: str, now: datetime) -> None:
    """Mark ``row`` failed with ``error``, and say so on its case's timeline."""
    row.status, row.lease_until, row.last_error = "failed", None, error
    case = session.get(Case, row.case_id) if row.case_id is not None else None
    if case is not None:
        case_ops.add_event(
            session,
            case,
            "reply_failed",
            actor="outbox",
            at=now,
            to_value=row.channel,
            note=error[:1000],
            data={"outbox_id": row.id, "attempts": row.attempts},
        )


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
        account=row.account,
        metadata=dict(row.meta),
    )
