"""Fair assignment of cases to agents within a department.

An agent can take a case when they are ``active``, below their ``capacity`` of open cases,
and their skills match: ``skills.languages`` must include the case's language and
``skills.categories`` its category when the agent lists any, and ``skills.pools`` the
routing pool when the route named one.  Among those, ``least_open`` picks the agent with the
fewest open cases (then the one idle longest, by id), ``round_robin`` the next one after the
last agent served in that department.  When nobody can take a case it waits in the queue,
ordered by priority and then by waiting time, and is assigned as soon as someone frees up
(a case of theirs resolves or closes, or an agent becomes active).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from scrm.core import cases as case_ops
from scrm.core.models import Agent, Case, CaseEvent
from scrm.core.schemas import Priority
from scrm.core.state import get_state, set_state

__all__ = ["STRATEGIES", "assign_new", "drain_queue", "eligible"]

STRATEGIES = ("least_open", "round_robin", "manual")
_RANK = {p.value: p.rank for p in Priority}


@dataclass
class _Pool:
    agents: list[Agent]
    open_counts: dict[int, int]


def eligible(agent: Agent, case: Case, pool: str | None, open_count: int) -> bool:
    """Whether ``agent`` can take ``case`` now."""
    if agent.status != "active" or open_count >= agent.capacity:
        return False
    skills = agent.skills or {}
    langs, cats, pools = skills.get("languages"), skills.get("categories"), skills.get("pools")
    if langs and case.language not in langs:
        return False
    if cats and case.category not in cats:
        return False
    return not pool or pool in (pools or ())


def _load(session: Session, department_id: int) -> _Pool:
    agents = list(
        session.scalars(
            sa.select(Agent).where(Agent.department_id == department_id).order_by(Agent.id)
        )
    )
    counts: dict[int, int] = {a.id: 0 for a in agents}
    if agents:
        rows = session.execute(
            sa.select(Case.assignee_id, sa.func.count())
            .where(Case.assignee_id.in_(list(counts)), Case.status.in_(case_ops.OPEN_STATUSES))
            .group_by(Case.assignee_id)
        )
        for agent_id, n in rows:
            if agent_id is not None:
                counts[agent_id] = n
    return _Pool(agents, counts)


def _pick(
    session: Session, pool: _Pool, case: Case, route_pool: str | None, strategy: str
) -> Agent | None:
    able = [a for a in pool.agents if eligible(a, case, route_pool, pool.open_counts[a.id])]
    if not able:
        return None
    if strategy == "round_robin":
        key = f"rr:{case.department_id}"
        last = (get_state(session, "assignment", key) or {}).get("last_agent_id", 0)
        after = [a for a in able if a.id > last]
        chosen = (after or able)[0]
        set_state(session, "assignment", key, {"last_agent_id": chosen.id})
        return chosen
    return min(able, key=lambda a: (pool.open_counts[a.id], a.id))


def _assign(
    session: Session, case: Case, agent: Agent, pool: _Pool, at: datetime, why: str
) -> None:
    case.assignee_id, case.assignee = agent.id, agent
    case.version += 1
    pool.open_counts[agent.id] += 1
    case_ops.add_event(
        session, case, "assign", actor="system", at=at, to_value=agent.username, note=why
    )


def assign_new(
    session: Session,
    cases: Iterable[tuple[Case, str | None]],
    *,
    strategy_for: Callable[[int], str],
    at: datetime,
) -> int:
    """Assign newly opened cases (with their routing pool), most urgent first; return how many."""
    todo = sorted(
        ((c, p) for c, p in cases if c.department_id is not None and c.assignee_id is None),
        key=lambda cp: (-_RANK.get(cp[0].priority, 0), cp[0].opened_at),
    )
    pools: dict[int, _Pool] = {}
    done = 0
    for case, route_pool in todo:
        dep = case.department_id
        assert dep is not None
        strategy = strategy_for(dep)
        if strategy == "manual":
            continue
        if dep not in pools:
            pools[dep] = _load(session, dep)
        agent = _pick(session, pools[dep], case, route_pool, strategy)
        if agent is not None:
            _assign(session, case, agent, pools[dep], at, f"assigned ({strategy})")
            done += 1
    return done


def drain_queue(
    session: Session,
    *,
    strategy_for: Callable[[int], str],
    at: datetime,
    department_id: int | None = None,
) -> int:
    """Assign waiting cases to agents who have room, by priority then waiting time."""
    q = sa.select(Case).where(
        Case.assignee_id.is_(None),
        Case.status.in_(case_ops.OPEN_STATUSES),
        Case.department_id.is_not(None),
    )
    if department_id is not None:
        q = q.where(Case.department_id == department_id)
    waiting = list(session.scalars(q.order_by(Case.opened_at).limit(1000)))
    if not waiting:
        return 0
    pools_by_case: dict[int, str | None] = {}
    for case_id, data in session.execute(
        sa.select(CaseEvent.case_id, CaseEvent.data).where(
            CaseEvent.case_id.in_([c.id for c in waiting]), CaseEvent.action == "opened"
        )
    ):
        pools_by_case[case_id] = (data or {}).get("pool")
    return assign_new(
        session, [(c, pools_by_case.get(c.id)) for c in waiting], strategy_for=strategy_for, at=at
    )
