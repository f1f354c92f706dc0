"""SLA checks and the escalation ladder: warnings, breaches, and acting on them.

``check_deadlines`` finds open cases whose deadlines are near or past (one index range scan
on ``(status, next_due)``) and, for each deadline, records a warning, a breach, and each rung
of the escalation ladder whose delay has passed.  Every alert is a row of ``sla_alerts``
with a unique key (case, clock, due time, kind, level), so it fires exactly once however often
the check runs, and however many workers run it.  Escalation acts: it reassigns and raises
priority as the ladder says, and each step is a case event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from scrm.core import cases as case_ops
from scrm.core import sla
from scrm.core.config import CasesConfig, EscalationStep
from scrm.core.models import Agent, Case, FollowUp, SlaAlert
from scrm.core.schemas import CaseInfo, Priority, SlaPolicy

__all__ = ["Alert", "check_deadlines", "escalate"]

_RAISE = {
    Priority.LOW: Priority.NORMAL,
    Priority.NORMAL: Priority.HIGH,
    Priority.HIGH: Priority.URGENT,
    Priority.URGENT: Priority.URGENT,
}


@dataclass(frozen=True)
class Alert:
    """A warning, breach or escalation step that fired (for hooks and reports)."""

    case_id: int
    clock: str
    due_at: datetime
    kind: str
    level: int
    detail: str


def _fire(
    session: Session, case: Case, clock: str, due_at: datetime, kind: str, level: int, now: datetime
) -> bool:
    """Record an alert once; return False if it had fired before (by us or another worker)."""
    exists = session.scalar(
        sa.select(SlaAlert.id).where(
            SlaAlert.case_id == case.id,
            SlaAlert.clock == clock,
            SlaAlert.due_at == due_at,
            SlaAlert.kind == kind,
            SlaAlert.level == level,
        )
    )
    if exists is not None:
        return False
    with session.begin_nested():
        session.add(
            SlaAlert(
                case_id=case.id, clock=clock, due_at=due_at, kind=kind, level=level, fired_at=now
            )
        )
        try:
            session.flush()
        except sa.exc.IntegrityError:  # another worker fired it first
            return False
    return True


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
    done = []
    if "reassign" in step.actions and agent is not None and case.assignee_id != agent.id:
        old = case.assignee.username if case.assignee else None
        case.assignee_id = agent.id
        case.assignee = agent
        case_ops.add_event(
            session,
            case,
            "assign",
            actor=actor,
            at=at,
            from_value=old,
            to_value=agent.username,
            note=f"escalation: {reason}",
        )
        done.append(f"reassigned to {agent.username}")
    if "raise_priority" in step.actions:
        old_p = Priority(case.priority)
        new_p = _RAISE[old_p]
        if new_p is not old_p:
            case.priority = new_p.value
            case_ops.add_event(
                session,
                case,
                "priority",
                actor=actor,
                at=at,
                from_value=old_p.value,
                to_value=new_p.value,
                note=f"escalation: {reason}",
            )
            done.append(f"priority {old_p.value} -> {new_p.value}")
    if "notify" in step.actions:
        done.append(f"notified {agent.username if agent else step.to + ' (nobody found)'}")
    case.escalation_level += 1
    case.version += 1
    summary = "; ".join(done) or "nothing to do"
    case_ops.add_event(
        session,
        case,
        "escalated",
        actor=actor,
        at=at,
        to_value=step.to,
        note=f"{reason}: {summary}",
    )
    return summary


def check_deadlines(
    session: Session,
    *,
    now: datetime,
    config: CasesConfig,
    policy_for: Callable[[CaseInfo], SlaPolicy | None],
    limit: int = 10_000,
) -> list[Alert]:
    """Fire every warning, breach and ladder step that is due at ``now``, each exactly once."""
    ladder = sorted(config.escalation, key=lambda s: s.after)
    horizon = now + timedelta(hours=24)  # warnings reach at most a day ahead
    alerts: list[Alert] = []
    due_cases = session.scalars(
        sa.select(Case)
        .where(
            Case.status.in_(case_ops.OPEN_STATUSES),
            Case.next_due.is_not(None),
            Case.next_due <= horizon,
        )
        .order_by(Case.next_due, Case.id)
        .limit(limit)
    ).all()
    for case in due_cases:
        policy = policy_for(case_ops.case_info(case))
        for clock, due_at in sla.pending_clocks(case).items():
            warn = policy.warn_before if policy else None
            if (
                warn
                and due_at - warn <= now < due_at
                and _fire(session, case, clock, due_at, "warning", 0, now)
            ):
                case_ops.add_event(
                    session,
                    case,
                    "sla_warning",
                    actor="system",
                    at=now,
                    to_value=clock,
                    note=f"{clock} due {due_at.isoformat()}",
                )
                alerts.append(Alert(case.id, clock, due_at, "warning", 0, f"{clock} due soon"))
            if due_at > now:
                continue
            if _fire(session, case, clock, due_at, "breach", 0, now):
                case_ops.add_event(
                    session,
                    case,
                    "sla_breach",
                    actor="system",
                    at=now,
                    to_value=clock,
                    note=f"{clock} was due {due_at.isoformat()}",
                )
                alerts.append(Alert(case.id, clock, due_at, "breach", 0, f"{clock} missed"))
                if clock == "follow_up":
                    _break_promises(session, case, now)
            for level, step in enumerate(ladder, start=1):
                if now < due_at + step.after:
                    break
                if _fire(session, case, clock, due_at, "escalation", level, now):
                    summary = escalate(
                        session, case, step, reason=f"{clock} missed (step {level})", at=now
                    )
                    alerts.append(Alert(case.id, clock, due_at, "escalation", level, summary))
    return alerts


def _break_promises(session: Session, case: Case, now: datetime) -> None:
    """Mark overdue promises broken.  They stay pending (the ladder keeps climbing) until contact."""
    for fu in session.scalars(
        sa.select(FollowUp).where(
            FollowUp.case_id == case.id, FollowUp.status == "open", FollowUp.due_at <= now
        )
    ):
        fu.status = "broken"
    session.flush()
