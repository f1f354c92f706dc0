"""Case lifecycle: the one table of allowed transitions, and the functions that change a case.

``new -> acknowledged -> contacted -> investigating -> solution_proposed -> resolved -> closed``,
and ``reopened`` (back into investigation) when the customer is not satisfied.  Steps may be
skipped forward (a question can be answered and resolved at once); anything not in
:data:`TRANSITIONS` is refused with a message that lists what is allowed.

Every change writes a :class:`~scrm.core.models.CaseEvent`.  Functions here take a session
and never commit: the caller owns the transaction and fires after-commit hooks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, object_session

from scrm.core import sla
from scrm.core.db import utcnow
from scrm.core.errors import N_, NotFound, Refused, ScrmError
from scrm.core.events import CaseTransitioned
from scrm.core.models import Brand, Case, CaseEvent
from scrm.core.schemas import CaseInfo, CaseStatus, Kind, Priority, SlaPolicy
from scrm.core.tenancy import DEFAULT_BRAND_ID, DEFAULT_BRAND_KEY, brand_scope

__all__ = [
    "OPEN_STATUSES",
    "TRANSITIONS",
    "CaseChange",
    "Conflict",
    "TransitionError",
    "add_event",
    "apply_sla",
    "brand_key",
    "case_info",
    "lock_case",
    "transition",
]

S = CaseStatus
TRANSITIONS: dict[CaseStatus, tuple[CaseStatus, ...]] = {
    S.NEW: (
        S.ACKNOWLEDGED,
        S.CONTACTED,
        S.INVESTIGATING,
        S.SOLUTION_PROPOSED,
        S.RESOLVED,
        S.CLOSED,
    ),
    S.ACKNOWLEDGED: (S.CONTACTED, S.INVESTIGATING, S.SOLUTION_PROPOSED, S.RESOLVED, S.CLOSED),
    S.CONTACTED: (S.INVESTIGATING, S.SOLUTION_PROPOSED, S.RESOLVED, S.CLOSED),
    S.INVESTIGATING: (S.CONTACTED, S.SOLUTION_PROPOSED, S.RESOLVED),
    S.SOLUTION_PROPOSED: (S.INVESTIGATING, S.RESOLVED, S.REOPENED),
    S.RESOLVED: (S.CLOSED, S.REOPENED),
    S.REOPENED: (S.CONTACTED, S.INVESTIGATING, S.SOLUTION_PROPOSED, S.RESOLVED),
    S.CLOSED: (S.REOPENED,),
}
#: Statuses in which the case still needs work (SLA clocks run, new messages attach).
OPEN_STATUSES: tuple[str, ...] = tuple(
    s.value for s in CaseStatus if s not in (S.RESOLVED, S.CLOSED)
)


class TransitionError(Refused):
    """A transition not in :data:`TRANSITIONS` was asked for."""

    code = "invalid_transition"


class Conflict(ScrmError):
    """Someone changed the case since the caller read it (optimistic concurrency)."""

    code = "version_conflict"
    http_status = 409
    field = "version"

    def __init__(self, case_id: int, expected: int, current: int) -> None:
        super().__init__(
            N_("case %(id)s is at version %(current)s, not %(expected)s: reload it and try again"),
            id=case_id,
            current=current,
            expected=expected,
        )
        self.case_id, self.expected, self.current = case_id, expected, current


@dataclass(frozen=True)
class CaseChange:
    """A transition, handed to the ``case_transitioned`` hook once committed."""

    case: CaseInfo
    old_status: str
    new_status: str
    actor: str

    def event(self) -> CaseTransitioned:
        """The domain event of this transition."""
        return CaseTransitioned(
            case=self.case, old_status=self.old_status, new_status=self.new_status, actor=self.actor
        )


def add_event(
    session: Session,
    case: Case,
    action: str,
    *,
    actor: str,
    at: datetime | None = None,
    from_value: str | None = None,
    to_value: str | None = None,
    note: str | None = None,
    data: dict[str, object] | None = None,
) -> CaseEvent:
    """Append an audit event to ``case`` (a new case gets its id when the session flushes)."""
    event = CaseEvent(
        case=case,
        at=at or utcnow(),
        actor=actor,
        action=action,
        from_value=from_value,
        to_value=to_value,
        note=note,
        data=data or {},
    )
    session.add(event)
    return event


def lock_case(session: Session, case_id: int, expected_version: int | None = None) -> Case:
    """The case ``case_id``, locked for the transaction on PostgreSQL (a change follows).

    :raises NotFound: when there is no such case.
    :raises Conflict: when ``expected_version`` is given and the case is at another one.
    """
    locking = session.get_bind().dialect.name == "postgresql"
    case = session.get(Case, case_id, with_for_update=locking)
    if case is None:
        raise NotFound(N_("no case %(id)s"), id=case_id)
    if expected_version is not None and case.version != expected_version:
        raise Conflict(case_id, expected_version, case.version)
    return case


def allowed_from(status: str) -> tuple[CaseStatus, ...]:
    return TRANSITIONS[CaseStatus(status)]


def transition(
    session: Session,
    case: Case,
    to: CaseStatus | str,
    *,
    actor: str,
    note: str | None = None,
    at: datetime | None = None,
) -> CaseChange:
    """Move ``case`` to status ``to``, recording an event; refuse transitions not in the table.

    :raises TransitionError: naming the current state and what is allowed from it.
    """
    to = CaseStatus(to)
    current = CaseStatus(case.status)
    if to not in TRANSITIONS[current]:
        allowed = ", ".join(s.value for s in TRANSITIONS[current]) or "nothing"
        raise TransitionError(
            N_("case %(id)s is %(status)s: it cannot go to %(to)s; allowed: %(allowed)s"),
            id=case.id,
            status=current.value,
            to=to.value,
            allowed=allowed,
        )
    at = at or utcnow()
    # A status is not a response: ``first_response_at`` is set when a brand message is
    # delivered (recorded on the case by ingest), never by leaving ``new``.
    if to is S.RESOLVED:
        case.resolved_at = at
    elif to is S.CLOSED:
        case.closed_at = at
        case.resolved_at = case.resolved_at or at
    elif to is S.REOPENED:
        case.reopen_count += 1
        case.resolved_at = None
        case.closed_at = None
    case.status = to.value
    case.last_activity_at = max(case.last_activity_at, at)
    case.version += 1
    case.next_due = sla.next_due(case)
    add_event(
        session,
        case,
        "status",
        actor=actor,
        at=at,
        from_value=current.value,
        to_value=to.value,
        note=note,
    )
    return CaseChange(case_info(case), current.value, to.value, actor)


def apply_sla(case: Case, policy: SlaPolicy | None) -> None:
    """Set the case's SLA deadlines from ``policy``, counted from when the case opened."""
    deadlines = sla.deadlines(policy, case.opened_at)
    case.sla_policy = policy.name if policy else None
    case.first_response_due = deadlines.first_response
    case.resolution_due = deadlines.resolution
    case.next_due = sla.next_due(case)


def brand_key(case: Case) -> str:
    """The key of ``case``'s brand (of its session's brand while it is not yet flushed)."""
    session = object_session(case)
    brand_id = case.brand_id
    if brand_id is None and session is not None:
        brand_id = brand_scope(session)
    if brand_id is None or brand_id == DEFAULT_BRAND_ID or session is None:
        return DEFAULT_BRAND_KEY
    with session.no_autoflush:
        row = session.get(Brand, brand_id)
    return row.key if row is not None else DEFAULT_BRAND_KEY


def case_info(
    case: Case, department_code: str | None = None, brand: str | None = None
) -> CaseInfo:
    """Return the frozen view of ``case`` that hooks receive.

    :param department_code: the code of its department (default: read from the case).
    :param brand: the key of its brand (default: read from the case).
    """
    if department_code is None and case.department is not None:
        department_code = case.department.code
    if brand is None:
        brand = brand_key(case)
    return CaseInfo(
        id=case.id,
        customer_id=case.customer_id,
        channel=case.channel,
        department=department_code,
        kind=Kind(case.kind),
        category=case.category,
        priority=Priority(case.priority),
        status=CaseStatus(case.status),
        language=case.language,
        opened_at=case.opened_at,
        brand=brand,
    )
