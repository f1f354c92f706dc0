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
from scrm.core.models import Agent, Case, Customer, Department
from scrm.core.queries import CaseOut, case_rows

__all__ = ["TRIAGE", "VIEWS", "WorklistFilter", "counts", "worklist"]

VIEWS = ("mine", "department", "unassigned", "breaching", "waiting", "triage")
TRIAGE = "triage"
MAX_SEARCH = 100


@dataclass(frozen=True)
class WorklistFilter:
    """What narrows a worklist: exact channel, kind and priority, and a free-text search."""

    channel: str | None = None
    kind: str | None = None
    priority: str | None = None
    search: str | None = None


def _base(
    session: Session,
    filters: WorklistFilter,
    departments: Sequence[str] | None,
) -> list[Any]:
    """The conditions every view shares: open, in scope, filtered, searched."""
    conds: list[Any] = [Case.status.in_(list(OPEN_STATUSES))]
    if departments is not None:
        conds.append(
            Case.department_id.in_(
                sa.select(Department.id).where(Department.code.in_(list(departments)))
            )
        )
    if filters.channel:
        conds.append(Case.channel == filters.channel)
    if filters.kind:
        conds.append(Case.kind == filters.kind)
    if filters.priority:
        conds.append(Case.priority == filters.priority)
    term = (filters.search or "").strip()[:MAX_SEARCH].lower()
    if term:
        number = term.removeprefix("#")
        found = [
            sa.func.lower(Case.subject).contains(term, autoescape=True),
            Case.customer_id.in_(
                sa.select(Customer.id).where(
                    sa.func.lower(Customer.display_name).contains(term, autoescape=True)
                )
            ),
        ]
        if number.isdigit() and len(number) < 19:
            found.append(Case.id == int(number))
        conds.append(sa.or_(*found))
    return conds


def _view(view: str, *, agent: str | None, now: datetime) -> Any:
    """The condition of one view."""
    if view == "mine":
        if agent is None:
            return sa.false()
        return Case.assignee_id.in_(sa.select(Agent.id).where(Agent.username == agent))
    if view == "department":
        return sa.true()
    if view == "unassigned":
        return Case.assignee_id.is_(None)
    if view == "breaching":
        return Case.next_due <= now
    if view == "waiting":
        return Case.waiting_since.is_not(None)
    if view == "triage":
        return Case.department_id.in_(sa.select(Department.id).where(Department.code == TRIAGE))
    raise ValueError(f"no view {view!r}; views: {', '.join(VIEWS)}")


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
    :raises ValueError: for an unknown view.
    """
    now = now or utcnow()
    conds = [
        *_base(session, filters or WorklistFilter(), departments),
        _view(view, agent=agent, now=now),
    ]
    q = (
        sa.select(Case)
        .where(*conds)
        .options(
            selectinload(Case.department), selectinload(Case.assignee), selectinload(Case.customer)
        )
        .order_by(Case.next_due.is_(None), Case.next_due, Case.id)
        .limit(limit)
    )
    return case_rows(session, list(session.scalars(q)), now)


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
        sa.func.coalesce(sa.func.sum(sa.case((_view(v, agent=agent, now=now), 1), else_=0)), 0)
        for v in VIEWS
    ]
    row = session.execute(
        sa.select(*columns).where(*_base(session, filters or WorklistFilter(), departments))
    ).one()
    return {v: int(n) for v, n in zip(VIEWS, row, strict=True)}
