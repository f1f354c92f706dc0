"""Read side: what the CLI, the REST API and embedding code ask of the database.

Functions take a session and return pydantic read models (``*Out``), so that what leaves
the core is the same for the CLI's ``--json``, HTTP responses and the Python API.
"""

from __future__ import annotations

import contextlib
import re
from base64 import b64encode
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, PlainSerializer
from sqlalchemy.orm import Session, selectinload

from scrm.core.cases import OPEN_STATUSES
from scrm.core.customers import family_ids
from scrm.core.db import utcnow
from scrm.core.errors import N_, InvalidInput, NotFound
from scrm.core.models import (
    Agent,
    Brand,
    Case,
    CaseEvent,
    Customer,
    Department,
    FollowUp,
    Identity,
    Incident,
    Interaction,
    OutboxMessage,
    Reject,
)
from scrm.core.outbox import UNDELIVERED
from scrm.core.schemas import Priority, normalize_email, normalize_phone

__all__ = [
    "CASE_SORTS",
    "CaseCounts",
    "CaseDetail",
    "CaseOut",
    "CustomerOut",
    "EventOut",
    "FollowUpOut",
    "IdentityOut",
    "IncidentOut",
    "InteractionOut",
    "NotFound",
    "RejectOut",
    "ReplyOut",
    "case_brand",
    "case_rows",
    "count_cases",
    "get_case",
    "get_customer",
    "get_incident",
    "get_interaction",
    "identity_match",
    "list_cases",
    "list_customers",
    "list_interactions",
    "list_rejects",
    "list_replies",
    "undelivered_replies",
]


#: The orders ``list_cases`` knows; ``deadline`` is the board's default.
CASE_SORTS = ("deadline", "priority", "opened", "id")


class _Out(BaseModel):
    # Validators are built on first use: a command reads one or two of these.
    model_config = ConfigDict(from_attributes=True, defer_build=True)


class IdentityOut(_Out):
    id: int
    channel: str
    external_id: str
    handle: str | None
    display_name: str | None
    email: str | None
    phone: str | None
    followers: int | None
    verified: bool | None
    linked_by: str


class CustomerOut(_Out):
    id: int
    display_name: str | None
    email: str | None
    phone: str | None
    attributes: dict[str, Any]
    merged_into_id: int | None
    created_at: datetime
    identities: list[IdentityOut] = []
    merged: list[int] = []
    """Ids of the records merged into this one."""


class InteractionOut(_Out):
    id: int
    channel: str
    external_id: str
    direction: str
    public: bool
    customer_id: int | None
    case_id: int | None
    text: str
    subject: str | None
    language: str | None
    created_at: datetime
    thread_key: str | None
    in_reply_to: str | None
    kind: str | None
    category: str | None
    sentiment: str | None
    sentiment_score: float | None
    urgency: list[str]
    reach: float | None
    engagement: dict[str, Any] | None
    answer_url: str | None = None
    """Where a reply must be given when scrm cannot post there (`scrm case answered`)."""
    account: str | None = None
    """The brand's own account the message arrived at or was sent from, as its channel
    writes it (an X user id, a Facebook page id, a mailbox address); None: not known."""


class EventOut(_Out):
    id: int
    at: datetime
    actor: str
    action: str
    from_value: str | None
    to_value: str | None
    note: str | None


class CaseOut(_Out):
    id: int
    customer_id: int
    customer_name: str | None = None
    department: str | None = None
    assignee: str | None = None
    channel: str
    kind: str
    category: str
    priority: str
    status: str
    language: str | None
    subject: str | None
    opened_at: datetime
    last_activity_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    sla_policy: str | None
    first_response_due: datetime | None
    follow_up_due: datetime | None
    resolution_due: datetime | None
    next_due: datetime | None
    reopen_count: int
    escalation_level: int
    waiting_since: datetime | None
    csat_requested_at: datetime | None
    csat_score: int | None
    csat_at: datetime | None
    incident_id: int | None
    merged_into_id: int | None
    version: int
    breaching: bool = False
    replies_pending: int = 0
    """Replies queued on the case that no channel has accepted yet (waiting or retrying)."""
    replies_failed: int = 0
    """Replies that failed for good: a person must look (``scrm outbox list --failed``)."""
    reply_error: str | None = None
    """The reason of the newest failed or retrying reply."""


class FollowUpOut(_Out):
    id: int
    kind: str
    due_at: datetime
    status: str
    actor: str
    evidence: str | None
    created_at: datetime
    closed_at: datetime | None


class ReplyOut(_Out):
    """A reply queued through the outbox, delivered or not."""

    id: int
    case_id: int | None = None
    channel: str
    public: bool
    status: str
    attempts: int
    text: str
    template: str | None
    playbook_version: str | None = None
    actor: str
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    external_id: str | None
    last_error: str | None
    account: str | None = None
    """The brand's account the reply goes out from (the one the customer wrote to, until
    delivery settles it), then the one it left from; None: not known, or the channel has no
    accounts of its own."""


class CaseDetail(CaseOut):
    interactions: list[InteractionOut] = []
    events: list[EventOut] = []
    follow_ups: list[FollowUpOut] = []
    replies: list[ReplyOut] = []


class RejectOut(_Out):
    id: int
    source: str
    position: int | None
    channel: str | None
    format: str
    field: str | None
    reason: str
    payload: str
    payload_bytes: Annotated[
        bytes | None, PlainSerializer(lambda b: b64encode(b).decode() if b is not None else None)
    ] = Field(
        default=None,
        description="The exact bytes received, base64, when `payload` is only a readable copy "
        "(input that was not UTF-8 or held NUL).",
    )
    status: str
    attempts: int
    created_at: datetime


_CASE_COLUMNS = tuple(c.key for c in Case.__table__.columns)


def _case_out(case: Case, now: datetime, cls: type[CaseOut] = CaseOut, **extra: Any) -> Any:
    return cls.model_validate(
        {
            **{k: getattr(case, k) for k in _CASE_COLUMNS},
            "department": case.department.code if case.department else None,
            "assignee": case.assignee.username if case.assignee else None,
            "customer_name": case.customer.display_name if case.customer else None,
            "breaching": case.next_due is not None and case.next_due <= now,
            **extra,
        }
    )


def get_customer(session: Session, customer_id: int) -> CustomerOut:
    customer = session.get(Customer, customer_id, options=[selectinload(Customer.identities)])
    if customer is None:
        raise NotFound(N_("no customer %(id)s"), id=customer_id)
    family = family_ids(session, customer_id)
    identities = session.scalars(
        sa.select(Customer)
        .where(Customer.id.in_(family))
        .options(selectinload(Customer.identities))
    ).all()
    out = CustomerOut.model_validate(customer)
    return out.model_copy(
        update={
            "identities": [IdentityOut.model_validate(i) for c in identities for i in c.identities],
            "merged": [c for c in family if c != customer_id],
        }
    )


_HANDLE = re.compile(r"@?(\w{1,64})", re.ASCII)
_PHONE = re.compile(r"\+?[\d\s().-]{7,32}", re.ASCII)


def identity_match(typed: str) -> Any:
    """The condition on identities of what an agent types to find a customer: a handle
    ("@AysYlmz" in any case: handles are case-insensitive on X and Mastodon), an e-mail
    address or a phone number in any writing ("0532 714 66 08" is "+905327146608"); ``None``
    when it can be none of them.  The address and the number are equalities on indexed
    columns; the handle is compared lower-cased, a pass over the identities as the name
    search is over the customers."""
    found: list[Any] = []
    if handle := _HANDLE.fullmatch(typed):
        found.append(sa.func.lower(Identity.handle) == handle[1].lower())
    if "@" in typed[1:]:
        with contextlib.suppress(ValueError):
            found.append(Identity.email == normalize_email(typed))
    if _PHONE.fullmatch(typed):
        with contextlib.suppress(ValueError):
            found.append(Identity.phone == normalize_phone(typed))
    return sa.or_(*found) if found else None


def list_customers(
    session: Session,
    *,
    search: str | None = None,
    limit: int = 50,
    after: int | None = None,
    include_merged: bool = False,
) -> list[CustomerOut]:
    q = (
        sa.select(Customer)
        .options(selectinload(Customer.identities))
        .order_by(Customer.id)
        .limit(limit)
    )
    if not include_merged:
        q = q.where(Customer.merged_into_id.is_(None))
    if after is not None:
        q = q.where(Customer.id > after)
    if search:
        term = search.lower()

        def has(column: Any) -> Any:
            # autoescape: %, _ and the escape character itself are matched literally (an
            # explicit ESCAPE also stops PostgreSQL from treating a backslash as one).
            return sa.func.lower(column).contains(term, autoescape=True)

        by_identity = sa.select(Identity.customer_id).where(
            sa.or_(
                has(Identity.handle),
                has(Identity.display_name),
                has(Identity.email),
                has(Identity.phone),
            )
        )
        found = [has(Customer.display_name), has(Customer.email), Customer.id.in_(by_identity)]
        if (identity := identity_match(search.strip())) is not None:
            found.append(Customer.id.in_(sa.select(Identity.customer_id).where(identity)))
        q = q.where(sa.or_(*found))
    return [CustomerOut.model_validate(c) for c in session.scalars(q)]


def get_interaction(session: Session, interaction_id: int) -> InteractionOut:
    it = session.get(Interaction, interaction_id)
    if it is None:
        raise NotFound(N_("no interaction %(id)s"), id=interaction_id)
    return InteractionOut.model_validate(it)


def _cases_of(departments: Sequence[str]) -> sa.Select[Any]:
    return (
        sa.select(Case.id)
        .join(Department, Department.id == Case.department_id)
        .where(Department.code.in_(list(departments)))
    )


def list_interactions(
    session: Session,
    *,
    channel: str | None = None,
    customer: int | None = None,
    case: int | None = None,
    kind: str | None = None,
    limit: int = 50,
    after: int | None = None,
    departments: Sequence[str] | None = None,
) -> list[InteractionOut]:
    """List interactions, oldest id first; ``departments`` keeps those of their cases only."""
    q = sa.select(Interaction).order_by(Interaction.id).limit(limit)
    if departments is not None:
        q = q.where(Interaction.case_id.in_(_cases_of(departments)))
    if channel:
        q = q.where(Interaction.channel == channel)
    if customer is not None:
        q = q.where(Interaction.customer_id.in_(family_ids(session, customer)))
    if case is not None:
        q = q.where(Interaction.case_id == case)
    if kind:
        q = q.where(Interaction.kind == kind)
    if after is not None:
        q = q.where(Interaction.id > after)
    return [InteractionOut.model_validate(i) for i in session.scalars(q)]


def list_cases(
    session: Session,
    *,
    status: str | None = None,
    department: str | None = None,
    channel: str | None = None,
    customer: int | None = None,
    assignee: str | None = None,
    breaching: bool = False,
    limit: int = 50,
    after: int | None = None,
    now: datetime | None = None,
    departments: Sequence[str] | None = None,
    sort: str = "id",
) -> list[CaseOut]:
    """List cases; ``status="open"`` means every status that still needs work.

    ``departments`` (an agent's scope) keeps the cases of those departments only.
    ``sort`` is one of :data:`CASE_SORTS`: ``deadline`` (the next deadline first, so cases
    past one come first, most overdue first; cases without one last), ``priority`` (urgent
    first, then by deadline), ``opened`` (newest first) or ``id``.  ``breaching`` always
    sorts by deadline.
    """
    if sort not in CASE_SORTS:
        raise InvalidInput(
            N_("unknown sort %(sort)r; sorts: %(sorts)s"), sort=sort, sorts=", ".join(CASE_SORTS)
        )
    now = now or utcnow()
    q = sa.select(Case).options(
        selectinload(Case.department), selectinload(Case.assignee), selectinload(Case.customer)
    )
    q = q.where(
        *_case_filters(
            session,
            status=status,
            department=department,
            channel=channel,
            customer=customer,
            assignee=assignee,
            departments=departments,
        )
    )
    if breaching:
        # The statuses go into the SQL as literals so that PostgreSQL can match the partial
        # index ix_cases_open_next_due (a bound parameter would not prove the predicate).
        open_literal = Case.status.in_(
            sa.bindparam("open_statuses", list(OPEN_STATUSES), expanding=True, literal_execute=True)
        )
        q = q.where(open_literal, Case.next_due <= now).order_by(Case.next_due, Case.id)
    else:
        q = q.order_by(*_case_order(sort))
    if after is not None:
        q = q.where(Case.id > after)
    return case_rows(session, list(session.scalars(q.limit(limit))), now)


def case_rows(session: Session, cases: Sequence[Case], now: datetime) -> list[CaseOut]:
    """Turn loaded cases (department, assignee and customer loaded) into board rows."""
    replies = undelivered_replies(session, [c.id for c in cases])
    return [_case_out(c, now, **replies.get(c.id, {})) for c in cases]


def _case_filters(
    session: Session,
    *,
    status: str | None,
    department: str | None,
    channel: str | None,
    customer: int | None,
    assignee: str | None,
    departments: Sequence[str] | None = None,
) -> list[sa.ColumnElement[bool]]:
    """The WHERE clauses of the case filters (see :func:`list_cases`)."""
    where: list[sa.ColumnElement[bool]] = []
    if departments is not None:
        where.append(Case.id.in_(_cases_of(departments)))
    if status == "open":
        where.append(Case.status.in_(OPEN_STATUSES))
    elif status:
        where.append(Case.status == status)
    if department:
        where.append(
            Case.department_id
            == sa.select(Department.id).where(Department.code == department).scalar_subquery()
        )
    if channel:
        where.append(Case.channel == channel)
    if customer is not None:
        where.append(Case.customer_id.in_(family_ids(session, customer)))
    if assignee:
        where.append(
            Case.assignee_id
            == sa.select(Agent.id).where(Agent.username == assignee).scalar_subquery()
        )
    return where


class CaseCounts(BaseModel):
    """How many cases match a filter, and how many of them need attention first."""

    total: int
    breaching: int
    """Open and past their next deadline."""
    due_soon: int
    """Open, and their next deadline comes within the ``soon`` asked for."""


def count_cases(session: Session, *, now: datetime, soon: timedelta, **filters: Any) -> CaseCounts:
    """Count the cases :func:`list_cases` would list with ``filters`` (without a limit)."""
    is_open = Case.status.in_(OPEN_STATUSES)
    late = sa.and_(is_open, Case.next_due <= now)
    near = sa.and_(is_open, Case.next_due > now, Case.next_due <= now + soon)
    row = session.execute(
        sa.select(
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(sa.case((late, 1), else_=0)), 0),
            sa.func.coalesce(sa.func.sum(sa.case((near, 1), else_=0)), 0),
        )
        .select_from(Case)
        .where(*_case_filters(session, **filters))
    ).one()
    return CaseCounts(total=row[0], breaching=row[1], due_soon=row[2])


def _case_order(sort: str) -> list[Any]:
    """ORDER BY of a case sort; ``IS NULL`` first puts cases without a deadline last on
    both databases (SQLite sorts NULL first, PostgreSQL last)."""
    by_deadline = [Case.next_due.is_(None), Case.next_due]
    if sort == "deadline":
        return [*by_deadline, Case.id]
    if sort == "priority":
        rank = sa.case({p.value: -p.rank for p in Priority}, value=Case.priority, else_=0)
        return [rank, *by_deadline, Case.id]
    if sort == "opened":
        return [Case.opened_at.desc(), Case.id.desc()]
    return [Case.id]


def undelivered_replies(session: Session, case_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Per case: how many of its replies wait, retry or failed, and the newest reason."""
    out: dict[int, dict[str, Any]] = {}
    if not case_ids:
        return out
    rows = session.execute(
        sa.select(OutboxMessage.case_id, OutboxMessage.status, OutboxMessage.last_error)
        .where(OutboxMessage.case_id.in_(case_ids), OutboxMessage.status.in_(UNDELIVERED))
        .order_by(OutboxMessage.id)
    )
    for case_id, status, error in rows:
        assert case_id is not None  # selected by case id
        acc = out.setdefault(case_id, {"replies_pending": 0, "replies_failed": 0})
        acc["replies_failed" if status == "failed" else "replies_pending"] += 1
        if error:
            acc["reply_error"] = error
    return out


def case_brand(session: Session, case_id: int) -> str:
    """The key of the brand of case ``case_id`` (whose playbooks and categories it follows).

    :raises NotFound: no such case (in the session's brand).
    """
    key = session.scalar(
        sa.select(Brand.key).select_from(Case).join(Brand, Brand.id == Case.brand_id)
        .where(Case.id == case_id)
    )  # fmt: skip
    if key is None:
        raise NotFound(N_("no case %(id)s"), id=case_id)
    return key


def get_case(session: Session, case_id: int, now: datetime | None = None) -> CaseDetail:
    """Return a case with its timeline: every interaction and every event, oldest first."""
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(N_("no case %(id)s"), id=case_id)
    interactions = session.scalars(
        sa.select(Interaction)
        .where(Interaction.case_id == case_id)
        .order_by(Interaction.created_at, Interaction.id)
    ).all()
    events = session.scalars(
        sa.select(CaseEvent)
        .where(CaseEvent.case_id == case_id)
        .order_by(CaseEvent.at, CaseEvent.id)
    ).all()
    follow_ups = session.scalars(
        sa.select(FollowUp)
        .where(FollowUp.case_id == case_id)
        .order_by(FollowUp.created_at, FollowUp.id)
    ).all()
    replies = session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.case_id == case_id).order_by(OutboxMessage.id)
    ).all()
    return _case_out(
        case,
        now or utcnow(),
        CaseDetail,
        **undelivered_replies(session, [case_id]).get(case_id, {}),
        replies=[ReplyOut.model_validate(r) for r in replies],
        follow_ups=[FollowUpOut.model_validate(f) for f in follow_ups],
        interactions=[InteractionOut.model_validate(i) for i in interactions],
        events=[EventOut.model_validate(e) for e in events],
    )


class IncidentOut(_Out):
    """An incident: several cases with one cause, answered together."""

    id: int
    name: str
    status: str
    case_ids: list[int]
    """Its cases, oldest first."""
    open_case_ids: list[int]


def get_incident(session: Session, incident_id: int) -> IncidentOut:
    """Return an incident with its cases."""
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(N_("no incident %(id)s"), id=incident_id)
    rows = session.execute(
        sa.select(Case.id, Case.status).where(Case.incident_id == incident_id).order_by(Case.id)
    ).all()
    return IncidentOut(
        id=incident.id,
        name=incident.name,
        status=incident.status,
        case_ids=[r.id for r in rows],
        open_case_ids=[r.id for r in rows if r.status in OPEN_STATUSES],
    )


def list_replies(
    session: Session, *, status: str | None = None, limit: int = 50, before: int | None = None
) -> list[ReplyOut]:
    """Replies in the outbox, newest first (``before``: ids below it, for paging back)."""
    q = sa.select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if status:
        q = q.where(OutboxMessage.status == status)
    if before is not None:
        q = q.where(OutboxMessage.id < before)
    return [ReplyOut.model_validate(r) for r in session.scalars(q)]


def list_rejects(
    session: Session, *, status: str | None = "pending", limit: int = 100, after: int | None = None
) -> list[RejectOut]:
    q = sa.select(Reject).order_by(Reject.id).limit(limit)
    if status:
        q = q.where(Reject.status == status)
    if after is not None:
        q = q.where(Reject.id > after)
    return [RejectOut.model_validate(r) for r in session.scalars(q)]
