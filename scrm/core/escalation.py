"""SLA sweep and the escalation ladder: warnings, breaches, and acting on them.

``check_deadlines`` is set-based: one query finds every (case, clock) whose deadline is near
or past and that still owes an alert, and the alerts, the case changes and their events are
written with one statement each, however many cases are overdue.  For each deadline it
records a warning, a breach, and each rung of the escalation ladder whose delay has passed:
a case a year late gets one breach and the ladder's steps, not one alert per missed hour.

Every alert is a row of ``sla_alerts``, unique per (case, clock, round, kind, level), so it
fires exactly once however often the sweep runs; sweeps take turns (SQLite's write lock,
a PostgreSQL advisory lock), so several workers never fire one twice.  ``round`` names the
deadline, not its due time, so a deadline that moves (a paused clock resumed late) does not
fire again.  Escalation acts: it reassigns and raises priority as the ladder says, and each
step is a case event.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from scrm.core import cases as case_ops
from scrm.core.config import CasesConfig, EscalationStep
from scrm.core.db import insert_rows
from scrm.core.models import Agent, Case, CaseEvent, Department, FollowUp, SlaAlert
from scrm.core.schemas import CaseInfo, Priority, SlaPolicy

__all__ = ["Alert", "Sweep", "check_deadlines", "escalate", "overdue"]

_RAISE = {
    Priority.LOW: Priority.NORMAL,
    Priority.NORMAL: Priority.HIGH,
    Priority.HIGH: Priority.URGENT,
    Priority.URGENT: Priority.URGENT,
}
_CLOCK_ORDER = {"first_response": 0, "follow_up": 1, "resolution": 2}
_KIND_ORDER = {"warning": 0, "breach": 1, "escalation": 2}
#: Warnings reach at most a day ahead.
WARN_HORIZON = timedelta(hours=24)
#: pg_advisory_xact_lock key that makes concurrent sweeps take turns ("scrm-sla" in ASCII).
_SWEEP_LOCK = 0x73_63_72_6D_2D_73_6C_61


@dataclass(frozen=True)
class Alert:
    """A warning, breach or escalation step that fired (for hooks and reports)."""

    case_id: int
    clock: str
    due_at: datetime
    kind: str
    level: int
    detail: str


@dataclass
class Sweep:
    """What one sweep fired, and each alerted case as it stands after the sweep."""

    alerts: list[Alert] = field(default_factory=list)
    cases: dict[int, CaseInfo] = field(default_factory=dict)


class _Step(NamedTuple):
    """What one ladder step does to a case: the new assignee and priority, events, summary."""

    assignee: tuple[int, str] | None
    priority: Priority
    events: list[tuple[str, str | None, str | None, str]]  # action, from, to, note
    summary: str


def _step_effects(
    step: EscalationStep,
    *,
    assignee: tuple[int, str] | None,
    target: tuple[int, str] | None,
    priority: Priority,
    reason: str,
) -> _Step:
    """Decide what ``step`` does to a case with ``assignee`` and ``priority`` (pure)."""
    done: list[str] = []
    events: list[tuple[str, str | None, str | None, str]] = []
    note = f"escalation: {reason}"
    if "reassign" in step.actions and target is not None and target != assignee:
        events.append(("assign", assignee[1] if assignee else None, target[1], note))
        done.append(f"reassigned to {target[1]}")
        assignee = target
    if "raise_priority" in step.actions and _RAISE[priority] is not priority:
        events.append(("priority", priority.value, _RAISE[priority].value, note))
        done.append(f"priority {priority.value} -> {_RAISE[priority].value}")
        priority = _RAISE[priority]
    if "notify" in step.actions:
        done.append(f"notified {target[1] if target else step.to + ' (nobody found)'}")
    summary = "; ".join(done) or "nothing to do"
    events.append(("escalated", None, step.to, f"{reason}: {summary}"))
    return _Step(assignee, priority, events, summary)


def _target(session: Session, case: Case, to: str) -> Agent | None:
    if to == "assignee":
        return case.assignee
    if to in ("lead", "head"):
        if case.department_id is None:
            return None
        return session.scalars(
            sa.select(Agent)
            .where(
                Agent.department_id == case.department_id,
                Agent.role == to,
                Agent.status != "offline",
            )
            .order_by(Agent.id)
        ).first()
    return session.scalars(sa.select(Agent).where(Agent.username == to)).first()


def escalate(
    session: Session,
    case: Case,
    step: EscalationStep,
    *,
    reason: str,
    at: datetime,
    actor: str = "system",
) -> str:
    """Apply one ladder step to ``case``; record what was done as events; return a summary."""
    agent = _target(session, case, step.to)
    effect = _step_effects(
        step,
        assignee=(case.assignee.id, case.assignee.username) if case.assignee else None,
        target=(agent.id, agent.username) if agent else None,
        priority=Priority(case.priority),
        reason=reason,
    )
    if effect.assignee is not None and effect.assignee[0] != case.assignee_id:
        case.assignee_id = effect.assignee[0]
        case.assignee = agent
    case.priority = effect.priority.value
    case.escalation_level += 1
    case.version += 1
    for action, old, new, note in effect.events:
        case_ops.add_event(
            session, case, action, actor=actor, at=at, from_value=old, to_value=new, note=note
        )
    return effect.summary


# -- the sweep -----------------------------------------------------------------------------


def _due_clocks(horizon: datetime) -> sa.Subquery:
    """(case, clock, round, due) of every open case's pending deadline up to ``horizon``."""
    promise = (
        sa.select(sa.func.min(FollowUp.id))
        .where(FollowUp.case_id == Case.id, FollowUp.closed_at.is_(None))
        .scalar_subquery()
    )

    def clock(name: str, round_: Any, due: Any, *extra: Any) -> sa.Select[Any]:
        return sa.select(
            Case.id.label("case_id"),
            sa.literal_column(f"'{name}'").label("clock"),
            round_.label("round"),
            due.label("due_at"),
        ).where(
            Case.status.in_(case_ops.OPEN_STATUSES),
            Case.next_due <= horizon,  # the (open, next_due) index: only cases due soon
            due <= horizon,
            *extra,
        )

    return sa.union_all(
        clock(
            "first_response",
            sa.literal_column("0"),
            Case.first_response_due,
            Case.first_response_at.is_(None),
        ),
        clock("follow_up", sa.func.coalesce(promise, 0), Case.follow_up_due),
        clock("resolution", sa.literal_column("0"), Case.resolution_due),
    ).subquery("due")


def _owed(now: datetime, ladder: Sequence[EscalationStep]) -> sa.Select[Any]:
    """Deadlines that still owe an alert, with their case's columns (one query)."""
    due = _due_clocks(now + WARN_HORIZON)
    same = (
        SlaAlert.case_id == due.c.case_id,
        SlaAlert.clock == due.c.clock,
        SlaAlert.round == due.c.round,
    )

    def fired(kind: str) -> sa.Exists:
        return sa.exists().where(*same, SlaAlert.kind == kind)

    top = (
        sa.select(sa.func.coalesce(sa.func.max(SlaAlert.level), 0))
        .where(*same, SlaAlert.kind == "escalation")
        .scalar_subquery()
    )
    steps_due: Any = sa.literal_column("0")
    for step in ladder:
        steps_due = steps_due + sa.case((due.c.due_at <= now - step.after, 1), else_=0)
    return (
        sa.select(
            due.c.case_id,
            due.c.clock,
            due.c.round,
            due.c.due_at,
            fired("breach").label("breached"),
            top.label("top"),
            Case.id,
            Case.customer_id,
            Case.channel,
            Department.code.label("department"),
            Case.department_id,
            Case.assignee_id,
            Case.kind,
            Case.category,
            Case.priority,
            Case.status,
            Case.language,
            Case.opened_at,
        )
        .join(Case, Case.id == due.c.case_id)
        .outerjoin(Department, Department.id == Case.department_id)
        .where(
            sa.or_(
                sa.and_(due.c.due_at > now, ~fired("warning")),
                sa.and_(due.c.due_at <= now, sa.or_(~fired("breach"), top < steps_due)),
            )
        )
        .order_by(due.c.due_at, due.c.case_id)
    )


class _Agents:
    """Every agent, read once per sweep, to find each step's target without a query per case."""

    def __init__(self, session: Session) -> None:
        self.names: dict[int, str] = {}
        self.by_name: dict[str, tuple[int, str]] = {}
        self.first: dict[tuple[int, str], tuple[int, str]] = {}
        rows = session.execute(
            sa.select(
                Agent.id, Agent.username, Agent.department_id, Agent.role, Agent.status
            ).order_by(Agent.id)
        )
        for agent_id, name, dep, role, status in rows:
            self.names[agent_id] = name
            self.by_name[name] = (agent_id, name)
            if dep is not None and status != "offline":
                self.first.setdefault((dep, role), (agent_id, name))

    def target(self, to: str, assignee: tuple[int, str] | None, dep: int | None) -> Any:
        if to == "assignee":
            return assignee
        if to in ("lead", "head"):
            return None if dep is None else self.first.get((dep, to))
        return self.by_name.get(to)


def check_deadlines(
    session: Session,
    *,
    now: datetime,
    config: CasesConfig,
    policy_for: Callable[[CaseInfo], SlaPolicy | None],
) -> Sweep:
    """Fire every warning, breach and ladder step that is due at ``now``, each exactly once.

    A constant number of statements whatever the number of cases: the deadlines owing an
    alert are read in one query, and alerts, events and case changes are written with one
    statement each.  ``policy_for`` is asked only about deadlines in their warning horizon.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(_SWEEP_LOCK)))
    ladder = sorted(config.escalation, key=lambda s: s.after)
    sweep = Sweep()
    rows: list[dict[str, Any]] = []
    cases: dict[int, Any] = {}
    for r in session.execute(_owed(now, ladder)):
        case = cases.setdefault(r.case_id, r)
        key = {"case_id": r.case_id, "clock": r.clock, "round": r.round, "due_at": r.due_at}
        if r.due_at > now:
            policy = policy_for(_info(case))
            warn = policy.warn_before if policy else None
            if warn and r.due_at - warn <= now:
                rows.append(key | {"kind": "warning", "level": 0})
            continue
        if not r.breached:
            rows.append(key | {"kind": "breach", "level": 0})
        reached = sum(1 for step in ladder if r.due_at + step.after <= now)
        rows += [key | {"kind": "escalation", "level": n} for n in range(r.top + 1, reached + 1)]
    if not rows:
        return sweep
    for row in rows:
        row["fired_at"] = now
    insert_rows(session, SlaAlert, rows)
    rows.sort(
        key=lambda a: (a["case_id"], _CLOCK_ORDER[a["clock"]], _KIND_ORDER[a["kind"]], a["level"])
    )
    events = _act(session, rows, cases, ladder, now, sweep)
    insert_rows(session, CaseEvent, events)
    if any(a["clock"] == "follow_up" and a["kind"] == "breach" for a in rows):
        _break_promises(session, now)
    sweep.alerts.sort(
        key=lambda a: (a.due_at, a.case_id, _CLOCK_ORDER[a.clock], _KIND_ORDER[a.kind], a.level)
    )
    return sweep


def _act(
    session: Session,
    rows: list[dict[str, Any]],
    cases: dict[int, Any],
    ladder: Sequence[EscalationStep],
    now: datetime,
    sweep: Sweep,
) -> list[dict[str, Any]]:
    """Turn the fired alerts into events and case changes; return the events to insert."""
    agents: _Agents | None = None
    events: list[dict[str, Any]] = []
    changed: dict[int, dict[str, Any]] = {}

    def event(case_id: int, action: str, old: str | None, new: str | None, note: str) -> None:
        events.append(
            {
                "case_id": case_id,
                "at": now,
                "actor": "system",
                "action": action,
                "from_value": old,
                "to_value": new,
                "note": note,
                "data": {},
            }
        )

    for a in rows:
        case_id, clock, due_at = a["case_id"], a["clock"], a["due_at"]
        case = cases[case_id]
        if a["kind"] == "warning":
            event(case_id, "sla_warning", None, clock, f"{clock} due {due_at.isoformat()}")
            detail = f"{clock} due soon"
        elif a["kind"] == "breach":
            event(case_id, "sla_breach", None, clock, f"{clock} was due {due_at.isoformat()}")
            detail = f"{clock} missed"
        else:
            agents = agents or _Agents(session)
            state = changed.setdefault(
                case_id,
                {
                    "b_id": case_id,
                    "b_assignee": case.assignee_id,
                    "b_priority": Priority(case.priority),
                    "b_steps": 0,
                },
            )
            current = state["b_assignee"]
            assignee = (current, agents.names[current]) if current is not None else None
            step = ladder[a["level"] - 1]
            effect = _step_effects(
                step,
                assignee=assignee,
                target=agents.target(step.to, assignee, case.department_id),
                priority=state["b_priority"],
                reason=f"{clock} missed (step {a['level']})",
            )
            state["b_assignee"] = effect.assignee[0] if effect.assignee else None
            state["b_priority"] = effect.priority
            state["b_steps"] += 1
            for action, old, new, note in effect.events:
                event(case_id, action, old, new, note)
            detail = effect.summary
        sweep.alerts.append(Alert(case_id, clock, due_at, a["kind"], a["level"], detail))
    for case_id in {a["case_id"] for a in rows}:
        info = _info(cases[case_id])
        if case_id in changed:
            info = info.model_copy(update={"priority": changed[case_id]["b_priority"]})
        sweep.cases[case_id] = info
    if changed:
        table = cast(sa.Table, Case.__table__)
        session.execute(
            sa.update(table)
            .where(table.c.id == sa.bindparam("b_id"))
            .values(
                assignee_id=sa.bindparam("b_assignee"),
                priority=sa.bindparam("b_priority"),
                escalation_level=table.c.escalation_level + sa.bindparam("b_steps"),
                version=table.c.version + 1,
            ),
            [s | {"b_priority": s["b_priority"].value} for s in changed.values()],
        )
    return events


def _info(row: Any) -> CaseInfo:
    """The hooks' view of a case from its row in the sweep's query (no ORM object needed)."""
    return case_ops.case_info(row, row.department)


def _break_promises(session: Session, now: datetime) -> None:
    """Mark overdue promises of open cases broken (one statement).

    They stay pending (the ladder keeps climbing) until contact closes them.
    """
    open_cases = sa.select(Case.id).where(Case.status.in_(case_ops.OPEN_STATUSES))
    session.execute(
        sa.update(FollowUp)
        .where(
            FollowUp.status == "open",
            FollowUp.due_at <= now,
            FollowUp.closed_at.is_(None),
            FollowUp.case_id.in_(open_cases),
        )
        .values(status="broken")
        .execution_options(synchronize_session=False)
    )


def overdue(session: Session, now: datetime) -> dict[str, int]:
    """Count the open cases past a deadline at ``now``: in all (``cases``) and per clock.

    One query over the (open, next_due) index, for summaries that must not list every case.
    """

    def past(*cond: Any) -> Any:
        return sa.func.coalesce(sa.func.sum(sa.case((sa.and_(*cond), 1), else_=0)), 0)

    row = session.execute(
        sa.select(
            sa.func.count().label("cases"),
            past(Case.first_response_at.is_(None), Case.first_response_due <= now).label(
                "first_response"
            ),
            past(Case.follow_up_due <= now).label("follow_up"),
            past(Case.resolution_due <= now).label("resolution"),
        ).where(Case.status.in_(case_ops.OPEN_STATUSES), Case.next_due <= now)
    ).one()
    return dict(row._mapping)
