"""Worklists: the inbox views an agent works from, with their counts.

A worklist is a set of *open* cases (every status in :data:`~scrm.core.cases.OPEN_STATUSES`)
seen through an agent's scope, ordered by the next deadline (soonest first, cases with no
deadline last).  The views:

``mine``         assigned to the agent;
``department``   every open case the caller may see (an agent key: its departments);
``unassigned``   nobody's yet;
``breaching``    past a deadline now;
``waiting``      waiting on the customer (details or a rating asked for);
``triage``       in the triage department (no rule claimed them).

A worklist is read a page at a time (:data:`PAGE_SIZE` rows, as help desks show), and a page
goes on from where the last one ended (:class:`Position`, the keyset of the order), so any
page costs what the first does.  A row holds what the inbox shows of a case and nothing
more (:class:`WorklistRow`), read in one query with the names it shows.

Filters (channel, kind, priority) and a search (case number, subject or customer name, or
one of the customer's handles, e-mail addresses or phone numbers, however written) narrow
every view and its count alike.  The console calls this; the rules of what a key may
see stay with the caller's ``departments`` scope, exactly as :func:`~scrm.core.queries.list_cases`.
"""

from __future__ import annotations

import base64
import binascii
import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from scrm.core.cases import OPEN_STATUSES
from scrm.core.db import utcnow
from scrm.core.errors import N_, InvalidInput
from scrm.core.models import Agent, Case, Customer, Department, Identity
from scrm.core.queries import identity_match, undelivered_replies

__all__ = [
    "FEW",
    "PAGE_SIZE",
    "TRIAGE",
    "VIEWS",
    "Position",
    "WorklistFilter",
    "WorklistPage",
    "WorklistRow",
    "counts",
    "page",
    "worklist",
]

VIEWS = ("mine", "department", "unassigned", "breaching", "waiting", "triage")
TRIAGE = "triage"
MAX_SEARCH = 100
#: Rows on one page of a worklist (Zendesk shows 30 a page, Chatwoot 25).
PAGE_SIZE = 50
#: A view of at most this many pages is read in one pass, not along the deadline index (a
#: walk fetches every case it passes; for a rare match that is every open case).
FEW = 5
_MAX_ID = 2**31 - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class WorklistFilter:
    """What narrows a worklist: exact channel, kind, priority, category and language, and a
    free-text search."""

    channel: str | None = None
    kind: str | None = None
    priority: str | None = None
    search: str | None = None
    category: str | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Position:
    """Where a case stands in a worklist's order: its next deadline (None: after every case
    with one) and its id.  A page starts after (or ends before) a position."""

    next_due: datetime | None
    id: int

    def token(self) -> str:
        """The position as an opaque, URL-safe string (see :meth:`parse`)."""
        due = "-" if self.next_due is None else str((self.next_due - _EPOCH) // _MICROSECOND)
        raw = f"w1:{due}:{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def parse(cls, token: str) -> Position:
        """Read a :meth:`token`.

        :raises InvalidInput: for a string no worklist gave out.
        """
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
            prefix, due, ident = raw.split(":")
            if prefix != "w1" or not ident.isdigit() or not 0 < int(ident) <= _MAX_ID:
                raise ValueError(raw)
            if due == "-":
                return cls(None, int(ident))
            if not due.lstrip("-").isdigit() or len(due) > 18:
                raise ValueError(raw)
            return cls(_EPOCH + int(due) * _MICROSECOND, int(ident))
        except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError):
            raise InvalidInput(N_("not a worklist position this console gave out")) from None


@dataclass(frozen=True, slots=True)
class WorklistRow:
    """What the inbox shows of an open case."""

    id: int
    subject: str | None
    customer_name: str | None
    department: str | None
    assignee: str | None
    channel: str
    kind: str
    category: str
    priority: str
    status: str
    language: str | None
    next_due: datetime | None
    waiting_since: datetime | None
    breaching: bool
    replies_pending: int = 0
    """Replies queued on the case that no channel has accepted yet (waiting or retrying)."""
    replies_failed: int = 0
    """Replies that failed for good."""
    reply_error: str | None = None
    """The reason of the newest failed or retrying reply."""

    @property
    def position(self) -> Position:
        return Position(self.next_due, self.id)


@dataclass(frozen=True)
class WorklistPage:
    """One page of a worklist, and where the pages beside it start."""

    rows: list[WorklistRow]
    next: Position | None
    """Pass as ``after`` for the next page; None: this is the last."""
    previous: Position | None
    """Pass as ``before`` for the previous page; None: this is the first."""


def _base(
    session: Session,
    filters: WorklistFilter,
    departments: Sequence[str] | None,
) -> list[Any]:
    """The conditions every view shares: open, in scope, filtered, searched."""
    # Literal statuses, as in queries.list_cases: PostgreSQL can then use the partial index
    # of open cases by deadline (a bound parameter would not prove its predicate).
    conds: list[Any] = [
        Case.status.in_(
            sa.bindparam("open_statuses", list(OPEN_STATUSES), expanding=True, literal_execute=True)
        )
    ]
    if departments is not None:
        ids = session.scalars(sa.select(Department.id).where(Department.code.in_(departments)))
        conds.append(Case.department_id.in_(list(ids)))
    if filters.channel:
        conds.append(Case.channel == filters.channel)
    if filters.kind:
        conds.append(Case.kind == filters.kind)
    if filters.priority:
        conds.append(Case.priority == filters.priority)
    if filters.category:
        conds.append(Case.category == filters.category)
    if filters.language:
        conds.append(Case.language == filters.language)
    typed = (filters.search or "").strip()[:MAX_SEARCH]
    if typed:
        term = typed.lower()
        number = term.removeprefix("#")

        def has(column: Any) -> Any:
            # Lower-cased on both sides, and as typed: SQLite lowers ASCII letters only, so
            # "Işık" typed as written must still find "Işık".
            return sa.or_(
                sa.func.lower(column).contains(term, autoescape=True),
                column.contains(typed, autoescape=True),
            )

        found = [
            has(Case.subject),
            Case.customer_id.in_(sa.select(Customer.id).where(has(Customer.display_name))),
        ]
        # ASCII digits only ("²" is a digit to Python, not to int()); ids are 32-bit.
        if number.isascii() and number.isdigit() and int(number) <= _MAX_ID:
            found.append(Case.id == int(number))
        if (identity := identity_match(typed)) is not None:
            found.append(Case.customer_id.in_(sa.select(Identity.customer_id).where(identity)))
        conds.append(sa.or_(*found))
    return conds


def _view(session: Session, view: str, *, agent: str | None, now: datetime) -> Any:
    """The condition of one view (ids looked up first: a plain comparison per row is what
    keeps counting every open case cheap)."""
    if view == "mine":
        if agent is None:
            return sa.false()
        agent_id = session.scalar(sa.select(Agent.id).where(Agent.username == agent))
        return sa.false() if agent_id is None else Case.assignee_id == agent_id
    if view == "department":
        return sa.true()
    if view == "unassigned":
        return Case.assignee_id.is_(None)
    if view == "breaching":
        return Case.next_due <= now
    if view == "waiting":
        return Case.waiting_since.is_not(None)
    if view == "triage":
        triage = session.scalar(sa.select(Department.id).where(Department.code == TRIAGE))
        return sa.false() if triage is None else Case.department_id == triage
    raise InvalidInput(N_("no view %(name)r; views: %(views)s"), name=view, views=", ".join(VIEWS))


def _select_rows() -> Any:
    """The columns a row shows, the customer's, department's and assignee's names joined in
    (one query, no object loading; the brand scope limits each joined table too)."""
    return (
        sa.select(
            Case.id,
            Case.subject,
            Customer.display_name.label("customer_name"),
            Department.code.label("department"),
            Agent.username.label("assignee"),
            Case.channel,
            Case.kind,
            Case.category,
            Case.priority,
            Case.status,
            Case.language,
            Case.next_due,
            Case.waiting_since,
        )
        .select_from(Case)
        .outerjoin(Customer, Customer.id == Case.customer_id)
        .outerjoin(Department, Department.id == Case.department_id)
        .outerjoin(Agent, Agent.id == Case.assignee_id)
    )


def _walk(
    session: Session,
    conds: list[Any],
    limit: int,
    after: Position | None,
    before: Position | None,
) -> list[Any]:
    """Up to ``limit`` rows in worklist order: the first ones, those after ``after``, or the
    last ones before ``before`` (still in worklist order).

    The order is two plain ones, cases with a deadline by (next_due, id), then those without
    by id: each walks an index and stops at ``limit`` rows, where one "NULLs last" expression
    would sort every match; a position is a row comparison on the same columns, so a later
    page starts in the index where the last one ended (a row comparison is never true of a
    case without a deadline, so it needs no ``IS NOT NULL`` beside it: SQLite would walk
    that one instead).
    """
    dated, undated = Case.next_due.is_not(None), Case.next_due.is_(None)
    key = sa.tuple_(Case.next_due, Case.id)
    forward_dated = [Case.next_due, Case.id]
    backward_dated = [Case.next_due.desc(), Case.id.desc()]
    sections: list[tuple[Any, list[Any]]]
    if before is not None:
        if before.next_due is None:
            sections = [(sa.and_(undated, Case.id < before.id), [Case.id.desc()]),
                        (dated, backward_dated)]  # fmt: skip
        else:
            sections = [(key < (before.next_due, before.id), backward_dated)]
    elif after is None:
        sections = [(dated, forward_dated), (undated, [Case.id])]
    elif after.next_due is None:
        sections = [(sa.and_(undated, Case.id > after.id), [Case.id])]
    else:
        sections = [(key > (after.next_due, after.id), forward_dated), (undated, [Case.id])]
    rows: list[Any] = []
    for cond, order in sections:
        if len(rows) >= limit:
            break
        rows += session.execute(
            _select_rows().where(*conds, cond).order_by(*order).limit(limit - len(rows))
        ).all()
    if before is not None:
        rows.reverse()
    return rows


def _order(at: Position) -> tuple[bool, datetime, int]:
    """The worklist order as a sort key: deadlines first, soonest first, then by id."""
    return (at.next_due is None, at.next_due or _EPOCH, at.id)


def _scan(
    session: Session,
    conds: list[Any],
    limit: int,
    after: Position | None,
    before: Position | None,
) -> list[Any]:
    """What :func:`_walk` returns, for a view that holds few cases: their positions read in
    one pass (as the counts read them), ordered here, and the page's rows fetched by id.

    Walking the deadline index for a rare case (a search, a filter) would fetch every open
    case on the way; reading the few matching positions costs one pass whatever they are.
    """
    keys = sorted(
        (Position(due, ident) for due, ident in session.execute(
            sa.select(Case.next_due, Case.id).where(*conds))),
        key=_order,
    )  # fmt: skip
    order = [_order(k) for k in keys]
    if before is not None:
        end = bisect.bisect_left(order, _order(before))
        window = keys[max(0, end - limit) : end]
    else:
        start = 0 if after is None else bisect.bisect_right(order, _order(after))
        window = keys[start : start + limit]
    ids = [k.id for k in window]
    found = {r.id: r for r in session.execute(_select_rows().where(Case.id.in_(ids)))}
    return [found[i] for i in ids if i in found]


def _finish(session: Session, rows: list[Any], now: datetime) -> list[WorklistRow]:
    """Rows as the inbox shows them, with their replies still undelivered (one query)."""
    replies = undelivered_replies(session, [r.id for r in rows])
    return [
        WorklistRow(
            **r._asdict(),
            breaching=r.next_due is not None and r.next_due <= now,
            **replies.get(r.id, {}),
        )
        for r in rows
    ]


def _conds(
    session: Session,
    view: str,
    agent: str | None,
    departments: Sequence[str] | None,
    filters: WorklistFilter | None,
    now: datetime,
) -> list[Any]:
    return [
        *_base(session, filters or WorklistFilter(), departments),
        _view(session, view, agent=agent, now=now),
    ]


def worklist(
    session: Session,
    view: str,
    *,
    agent: str | None = None,
    departments: Sequence[str] | None = None,
    filters: WorklistFilter | None = None,
    limit: int = PAGE_SIZE,
    after: Position | None = None,
    now: datetime | None = None,
) -> list[WorklistRow]:
    """Return up to ``limit`` open cases of ``view``, soonest deadline first (after
    ``after``, if given).

    :param agent: the caller's agent username (``mine``: none without one).
    :param departments: the caller's scope (an agent key's departments), None for all.
    :raises InvalidInput: for an unknown view.
    """
    now = now or utcnow()
    conds = _conds(session, view, agent, departments, filters, now)
    return _finish(session, _walk(session, conds, limit, after, None), now)


def page(
    session: Session,
    view: str,
    *,
    agent: str | None = None,
    departments: Sequence[str] | None = None,
    filters: WorklistFilter | None = None,
    size: int = PAGE_SIZE,
    after: Position | None = None,
    before: Position | None = None,
    now: datetime | None = None,
    total: int | None = None,
) -> WorklistPage:
    """Return one page of ``view``: the first, the one after ``after``, or the one before
    ``before`` (the first page when fewer than ``size`` cases come before it).

    :param total: how many cases the view holds, if known (:func:`counts`): a view of no
        more than :data:`FEW` pages is read in one pass rather than along the deadline index.
    Other parameters as :func:`worklist`.
    """
    now = now or utcnow()
    if total == 0:
        return WorklistPage([], None, None)
    conds = _conds(session, view, agent, departments, filters, now)
    read = _scan if total is not None and total <= FEW * size else _walk
    rows = read(session, conds, size + 1, after, before)  # one more: is there a page beyond?
    if before is not None:
        if len(rows) <= size:  # back at the start
            return page(session, view, agent=agent, departments=departments, filters=filters,
                        size=size, now=now, total=total)  # fmt: skip
        rows = rows[1:]
        found = _finish(session, rows, now)
        return WorklistPage(found, found[-1].position, found[0].position)
    more, rows = len(rows) > size, rows[:size]
    found = _finish(session, rows, now)
    return WorklistPage(
        found,
        found[-1].position if more else None,
        found[0].position if after is not None and found else None,
    )


def counts(
    session: Session,
    *,
    agent: str | None = None,
    departments: Sequence[str] | None = None,
    filters: WorklistFilter | None = None,
    now: datetime | None = None,
) -> dict[str, int]:
    """Return how many cases each view holds, in one query.

    One pass over the open cases in scope, each view a filtered count (``count(*) FILTER
    (WHERE ...)``, the cheapest conditional count on PostgreSQL and SQLite alike); without a
    filter or search, that pass can read ``ix_cases_open_inbox`` alone, not the table (SQLite
    does once the database has statistics: ``ANALYZE``).
    """
    now = now or utcnow()
    wanted: dict[str, Any] = {}
    for v in VIEWS:
        cond = _view(session, v, agent=agent, now=now)
        if not isinstance(cond, sa.False_):  # a view that holds nothing is not asked for
            wanted[v] = sa.func.count() if v == "department" else sa.func.count().filter(cond)
    row = session.execute(
        sa.select(*wanted.values())
        .select_from(Case)
        .where(*_base(session, filters or WorklistFilter(), departments))
    ).one()
    found = dict(zip(wanted, row, strict=True))
    return {v: int(found.get(v, 0)) for v in VIEWS}
