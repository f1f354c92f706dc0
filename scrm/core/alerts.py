"""Alerts: the domain events a person must see at once, and who acknowledged them.

A viral crisis (``crisis_detected``), a spike of mentions (``spike_detected``) and a burst of
coordinated complaints (``coordinated_detected``) are stored like every domain event
(:mod:`scrm.core.dispatch`); this module reads them back as a feed, newest first, and records
an agent's acknowledgement (an ``alert_acks`` row and an ``alert.acknowledge`` audit entry, in
the caller's transaction).  Nothing here detects anything: the plugins that emit the events
decide what an alert is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from scrm.core import audit
from scrm.core.db import utcnow
from scrm.core.errors import Refused
from scrm.core.events import (
    EVENT_TYPES,
    CoordinatedDetected,
    CrisisDetected,
    Event,
    SpikeDetected,
)
from scrm.core.models import AlertAck, Case, EventBatch, StoredEvent
from scrm.core.queries import NotFound
from scrm.core.tenancy import brand_scope

__all__ = ["ALERT_TYPES", "AlertOut", "AlreadyAcknowledged", "acknowledge", "list_alerts", "unacknowledged"]  # fmt: skip

#: The event types that are alerts, and how each is named.
ALERT_TYPES = {
    CrisisDetected.hook: "crisis",
    SpikeDetected.hook: "spike",
    CoordinatedDetected.hook: "coordinated",
}


class AlreadyAcknowledged(Refused):
    """The alert was acknowledged before (by someone, at some time)."""


@dataclass(frozen=True)
class AlertOut:
    """One alert as the console shows it."""

    id: int
    """The stored event's id."""
    kind: str
    """``crisis``, ``spike`` or ``coordinated``."""
    at: datetime
    summary: str
    case_ids: tuple[int, ...]
    details: dict[str, Any]
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None


def _summary(event: Event) -> tuple[str, tuple[int, ...], dict[str, Any]]:
    if isinstance(event, CrisisDetected):
        case = event.case.id
        return (
            f"Viral crisis on case #{case}: risk {event.score:.2f}",
            (case,) if case is not None else (),
            event.evidence,
        )
    if isinstance(event, CoordinatedDetected):
        return (
            f"Suspected coordinated complaints: {len(event.case_ids)} cases",
            tuple(event.case_ids),
            event.evidence,
        )
    assert isinstance(event, SpikeDetected)
    return (
        f"Spike of {event.metric} in {event.scope}: {event.count} in an hour "
        f"(baseline {event.baseline:.1f}, p={event.p_value:.2g})",
        (),
        {"hour": event.hour.isoformat(), "count": event.count, "baseline": event.baseline},
    )


def list_alerts(
    session: Session, *, limit: int = 50, open_only: bool = False, since_id: int = 0
) -> list[AlertOut]:
    """Return alerts newest first; ``open_only`` keeps those nobody acknowledged yet, and
    ``since_id`` those stored after the event of that id."""
    q = (
        sa.select(StoredEvent.id, StoredEvent.type, StoredEvent.payload, EventBatch.created_at,
                  AlertAck.actor, AlertAck.at)
        .join(EventBatch, EventBatch.id == StoredEvent.batch_id)
        .outerjoin(AlertAck, AlertAck.event_id == StoredEvent.id)
        .where(StoredEvent.type.in_(list(ALERT_TYPES)), StoredEvent.id > since_id)
        .order_by(StoredEvent.id.desc())
        .limit(limit)
    )  # fmt: skip
    if open_only:
        q = q.where(AlertAck.event_id.is_(None))
    scoped = brand_scope(session) is not None
    if scoped:  # alerts of other brands are skipped below: read on past them
        q = q.limit(None)
    out = []
    for event_id, kind, payload, at, actor, acked_at in session.execute(q):
        summary, cases, details = _summary(EVENT_TYPES[kind].model_validate_json(payload))
        if scoped and not _sees(session, cases):
            continue
        out.append(
            AlertOut(event_id, ALERT_TYPES[kind], at, summary, cases, details, actor, acked_at)
        )
        if len(out) == limit:
            break
    return out


def _sees(session: Session, case_ids: tuple[int, ...]) -> bool:
    """Whether a brand-scoped session sees an alert about ``case_ids``: an alert belongs to
    its cases' brand; one about no case (a spike in all mentions) is the agency's."""
    wanted = set(case_ids)
    if not wanted:
        return False
    found = session.scalar(sa.select(sa.func.count(Case.id)).where(Case.id.in_(wanted)))
    return found == len(wanted)


def unacknowledged(session: Session) -> int:
    """How many alerts nobody has acknowledged."""
    if brand_scope(session) is not None:
        return len(list_alerts(session, limit=10_000, open_only=True))
    q = (
        sa.select(sa.func.count())
        .select_from(StoredEvent)
        .outerjoin(AlertAck, AlertAck.event_id == StoredEvent.id)
        .where(StoredEvent.type.in_(list(ALERT_TYPES)), AlertAck.event_id.is_(None))
    )
    return session.scalar(q) or 0


def acknowledge(session: Session, event_id: int, *, actor: str, note: str | None = None) -> AlertAck:
    """Record that ``actor`` has seen alert ``event_id`` and taken it on, with its audit entry.

    :raises NotFound: if no alert has that id.
    :raises AlreadyAcknowledged: if someone acknowledged it already.
    """
    found = session.execute(
        sa.select(StoredEvent.type, StoredEvent.payload).where(StoredEvent.id == event_id)
    ).first()
    kind = found[0] if found is not None else None
    if found is None or kind not in ALERT_TYPES:
        raise NotFound(f"no alert {event_id}")
    if brand_scope(session) is not None:
        _, cases, _ = _summary(EVENT_TYPES[kind].model_validate_json(found[1]))
        if not _sees(session, cases):
            raise NotFound(f"no alert {event_id}")
    done = session.get(AlertAck, event_id)
    if done is not None:
        raise AlreadyAcknowledged(f"alert {event_id} was already acknowledged by {done.actor}")
    ack = AlertAck(event_id=event_id, actor=actor[:64], at=utcnow(), note=note)
    try:
        with session.begin_nested():  # two agents at the same moment: one wins
            session.add(ack)
    except IntegrityError:
        raise AlreadyAcknowledged(f"alert {event_id} was already acknowledged") from None
    audit.record(
        session,
        actor=actor,
        action="alert.acknowledge",
        target_type="alert",
        target_id=event_id,
        details={"kind": ALERT_TYPES[kind], "note": note},
    )
    session.flush()
    return ack
