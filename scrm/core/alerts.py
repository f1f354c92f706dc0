"""Alerts: the domain events a person must see at once, and who acknowledged them.

A viral crisis (``crisis_detected``), a spike of mentions (``spike_detected``) and a burst of
coordinated complaints (``coordinated_detected``) are stored like every domain event
(:mod:`scrm.core.dispatch`); this module reads them back as a feed, newest first, and records
an agent's acknowledgement (an ``alert_acks`` row and an ``alert.acknowledge`` audit entry, in
the caller's transaction).  An agent limited to departments sees only the alerts about
their cases (a spike, about no case, concerns everyone).  A caller limited to a brand sees
the alerts about its cases and the spikes of its messages.  Nothing here detects anything: the plugins that emit the events
decide what an alert is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from scrm.core import audit
from scrm.core.db import utcnow
from scrm.core.errors import N_, Refused
from scrm.core.events import (
    EVENT_TYPES,
    CoordinatedDetected,
    CrisisDetected,
    Event,
    SpikeDetected,
)
from scrm.core.models import AlertAck, Brand, Case, Department, EventBatch, StoredEvent
from scrm.core.queries import NotFound
from scrm.core.tenancy import brand_scope

__all__ = ["ALERT_TYPES", "AlertOut", "AlreadyAcknowledged", "acknowledge", "check_alert",
           "list_alerts", "unacknowledged"]  # fmt: skip

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
    details: dict[str, Any] = {
        "hour": event.hour.isoformat(),
        "count": event.count,
        "baseline": event.baseline,
    }
    if event.brand is not None:
        details["brand"] = event.brand
    return (
        f"Spike of {event.metric} in {event.scope}: {event.count} in an hour "
        f"(baseline {event.baseline:.1f}, p={event.p_value:.2g})",
        (),
        details,
    )


def _query(open_only: bool, since_id: int, before_id: int | None) -> Any:
    q = (
        sa.select(StoredEvent.id, StoredEvent.type, StoredEvent.payload, EventBatch.created_at,
                  AlertAck.actor, AlertAck.at)
        .join(EventBatch, EventBatch.id == StoredEvent.batch_id)
        .outerjoin(AlertAck, AlertAck.event_id == StoredEvent.id)
        .where(StoredEvent.type.in_(list(ALERT_TYPES)), StoredEvent.id > since_id)
        .order_by(StoredEvent.id.desc())
    )  # fmt: skip
    if before_id is not None:
        q = q.where(StoredEvent.id < before_id)
    if open_only:
        q = q.where(AlertAck.event_id.is_(None))
    return q


def _departments_of(session: Session, case_ids: set[int]) -> dict[int, str | None]:
    rows = session.execute(
        sa.select(Case.id, Department.code)
        .outerjoin(Department, Department.id == Case.department_id)
        .where(Case.id.in_(sorted(case_ids)))
    )
    return {case_id: code for case_id, code in rows}


def _for_departments(
    session: Session, found: list[AlertOut], departments: Sequence[str]
) -> list[AlertOut]:
    """The alerts that concern a case of ``departments``, showing only those cases; an alert
    about no case (a spike of mentions) concerns everyone."""
    codes = _departments_of(session, {c for a in found for c in a.case_ids})
    kept = []
    for a in found:
        mine = tuple(c for c in a.case_ids if codes.get(c, "") in departments)
        if not a.case_ids or mine:
            kept.append(replace(a, case_ids=mine))
    return kept


def list_alerts(
    session: Session,
    *,
    limit: int = 50,
    open_only: bool = False,
    since_id: int = 0,
    departments: Sequence[str] | None = None,
) -> list[AlertOut]:
    """Return alerts newest first; ``open_only`` keeps those nobody acknowledged yet, and
    ``since_id`` those stored after the event of that id.

    :param departments: keep only the alerts that concern a case of these departments (and
        of their cases only those), as an agent key limited to them sees; None: every alert.
    """
    out: list[AlertOut] = []
    before: int | None = None
    scoped = brand_scope(session) is not None
    while len(out) < limit:
        page = 200 if departments is not None or scoped else limit
        rows = session.execute(_query(open_only, since_id, before).limit(page)).all()
        found = []
        for event_id, kind, payload, at, actor, acked_at in rows:
            event = EVENT_TYPES[kind].model_validate_json(payload)
            if scoped and not _sees(session, event):
                continue  # alerts of other brands are skipped: read on past them
            summary, cases, details = _summary(event)
            found.append(
                AlertOut(event_id, ALERT_TYPES[kind], at, summary, cases, details, actor, acked_at)
            )
        out += found if departments is None else _for_departments(session, found, departments)
        if len(rows) < page:
            break
        before = rows[-1][0]
    return out[:limit]


def _sees(session: Session, event: Event) -> bool:
    """Whether a brand-scoped session sees an alert: an alert belongs to its cases' brand, a
    spike to the brand whose messages were counted; one about no case and no brand (a spike
    of a deployment's campaign, over every brand) is the agency's."""
    if isinstance(event, SpikeDetected):
        own = sa.select(Brand.key).where(Brand.id == brand_scope(session))
        return event.brand is not None and session.scalar(own) == event.brand
    wanted = set(_summary(event)[1])
    if not wanted:
        return False
    found = session.scalar(sa.select(sa.func.count(Case.id)).where(Case.id.in_(wanted)))
    return found == len(wanted)


def unacknowledged(session: Session, *, departments: Sequence[str] | None = None) -> int:
    """How many alerts nobody has acknowledged (of those ``departments`` see, if given)."""
    if departments is not None or brand_scope(session) is not None:
        return len(list_alerts(session, limit=10_000, open_only=True, departments=departments))
    q = (
        sa.select(sa.func.count())
        .select_from(StoredEvent)
        .outerjoin(AlertAck, AlertAck.event_id == StoredEvent.id)
        .where(StoredEvent.type.in_(list(ALERT_TYPES)), AlertAck.event_id.is_(None))
    )
    return session.scalar(q) or 0


def check_alert(session: Session, event_id: int, departments: Sequence[str] | None) -> None:
    """Raise NotFound unless alert ``event_id`` exists and concerns ``departments`` (None:
    any alert), as a case of another department answers 404."""
    row = session.execute(_query(False, event_id - 1, event_id + 1)).first()
    if row is None:
        raise NotFound(N_("no alert %(id)s"), id=event_id)
    scoped = brand_scope(session) is not None
    if scoped and not _sees(session, EVENT_TYPES[row[1]].model_validate_json(row[2])):
        raise NotFound(N_("no alert %(id)s"), id=event_id)
    if departments is not None:
        _, cases, _ = _summary(EVENT_TYPES[row[1]].model_validate_json(row[2]))
        codes = _departments_of(session, set(cases))
        if cases and not any(codes.get(c, "") in departments for c in cases):
            raise NotFound(N_("no alert %(id)s"), id=event_id)


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
        raise NotFound(N_("no alert %(id)s"), id=event_id)
    scoped = brand_scope(session) is not None
    if scoped and not _sees(session, EVENT_TYPES[kind].model_validate_json(found[1])):
        raise NotFound(N_("no alert %(id)s"), id=event_id)
    done = session.get(AlertAck, event_id)
    if done is not None:
        raise AlreadyAcknowledged(
            N_("alert %(id)s was already acknowledged by %(actor)s"), id=event_id, actor=done.actor
        )
    ack = AlertAck(event_id=event_id, actor=actor[:64], at=utcnow(), note=note)
    try:
        with session.begin_nested():  # two agents at the same moment: one wins
            session.add(ack)
    except IntegrityError:
        raise AlreadyAcknowledged(
            N_("alert %(id)s was already acknowledged"), id=event_id
        ) from None
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
