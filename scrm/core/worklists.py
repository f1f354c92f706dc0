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

Filters (channel, kind, priority) and a search (case number, subject or customer name)
narrow every view and its count alike.  The console calls this; the rules of what a key may
see stay with the caller's ``departments`` scope, exactly as :func:`~scrm.core.queries.list_cases`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from scrm.core.cases import OPEN_STATUSES
from scrm.core.db import utcnow
from scrm.core.errors import N_, InvalidInput
from scrm.core.models import Agent, Case, Customer, Department
from scrm.core.queries import CaseOut, case_rows

__all__ = ["TRIAGE", "VIEWS", "WorklistFilter", "counts", "worklist"]

VIEWS = ("mine", "department", "unassigned", "breaching", "waiting", "triage")
TRIAGE = "triage"
MAX_SEARCH = 100
_MAX_ID = 2**31 - 1


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
        conds.append(sa.or_(*found))
    return conds


def _view(session: Session, view: str, *, agent: str | None, now: datetime) -> Any:
    """The condition of one view (ids looked up first: a plain comparison per row is what
    keeps counting every open case cheap)."""
    if view == "mine":
        agent_id = session.scalar(sa.select(Agent.id).where(Agent.username == agent))
        return sa.false() if agent is None or agent_id is None else Case.assignee_id == agent_id
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


def worklist(
    session: Session,
    view: str,
    *,
    agent: str | None = None,
    departments: Sequence[str] | None = None,
    filters: WorklistFilter | None = None,
    limit: int = 100,
    now: datetime | None = None,
) -> list[CaseOut]:
    """Return the open cases of ``view``, soonest deadline first.

    :param agent: the caller's agent username (``mine``: none without one).
    :param departments: the caller's scope (an agent key's departments), None for all.
    :raises InvalidInput: for an unknown view.
    """
    now = now or utcnow()
    conds = [
        *_base(session, filters or WorklistFilter(), departments),
        _view(session, view, agent=agent, now=now),
    ]
    q = sa.select(Case).options(
        selectinload(Case.department), selectinload(Case.assignee), selectinload(Case.customer)
    )
    # Two plain orders instead of one "NULLs last" expression: each can walk the
    # (next_due, id) index and stop at ``limit`` rows, where an expression sorts them all.
    cases = list(
        session.scalars(
            q.where(*conds, Case.next_due.is_not(None))
            .order_by(Case.next_due, Case.id)
            .limit(limit)
        )
    )
    if len(cases) < limit:
        cases += session.scalars(
            q.where(*conds, Case.next_due.is_(None)).order_by(Case.id).limit(limit - len(cases))
        )
    return case_rows(session, cases, now)


def counts(
    session: Session,
    *,
    agent: str | None = None,
    departments: Sequence[str] | None = None,
    filters: WorklistFilter | None = None,
    now: datetime | None = None,
) -> dict[str, int]:
    """Return how many cases each view holds, in one query."""
    now = now or utcnow()
    columns = [
        sa.func.count()
        if v == "department"
        else sa.func.coalesce(
            sa.func.sum(sa.case((_view(session, v, agent=agent, now=now), 1), else_=0)), 0
        )
        for v in VIEWS
    ]
    row = session.execute(
        sa.select(*columns)
        .select_from(Case)
        .where(*_base(session, filters or WorklistFilter(), departments))
    ).one()
    return {v: int(n) for v, n in zip(VIEWS, row, strict=True)}
