"""Cases: moving one along the loop, assigning, promising, rating, linking, merging, moving
messages, closing the silent ones, and handing waiting cases to agents.

Each public function is one transaction (:func:`scrm.core.dispatch.transaction`) that writes
its case events, its audit entry (for what a person asked) and its domain events, dispatched
once it has committed.  Rules that apply to every message (promises, pauses, reopening) live
in :mod:`scrm.core.loop` and run the same whether the case moves here or through ingest.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from scrm.core import assignment, audit, conversation, loop, sla
from scrm.core import cases as case_ops
from scrm.core.cases import lock_case
from scrm.core.db import utcnow
from scrm.core.dispatch import transaction
from scrm.core.errors import N_, InvalidInput, NotFound, Refused
from scrm.core.events import CaseOpened, CaseTransitioned, Event
from scrm.core.models import Agent, Case, Department, FollowUp, Incident, Interaction
from scrm.core.promises import PromiseKind
from scrm.core.replies import queue_reply
from scrm.core.schemas import CaseInfo, CaseStatus, SlaPolicy

if TYPE_CHECKING:
    from scrm.core.app import Scrm

__all__ = [
    "MAX_PROMISE",
    "PROMISE_KINDS",
    "assign",
    "assign_waiting",
    "audit_case",
    "close_silent",
    "link",
    "merge",
    "move_message",
    "promise",
    "rate",
    "transition",
    "transition_in",
]

#: How far ahead an agent may promise something.
MAX_PROMISE = timedelta(days=366)
#: What an agent may promise (``none`` is only what promise detection finds in a text).
PROMISE_KINDS = tuple(k.value for k in PromiseKind if k is not PromiseKind.none)


def audit_case(s: Session, actor: str, action: str, case_id: int, details: dict[str, Any]) -> None:
    """The audit entry of an agent's change to a case (no message text: it is in the case)."""
    audit.record(
        s, actor=actor, action=action, target_type="case", target_id=case_id, details=details
    )


def _strategy_for(app: Scrm, s: Session) -> Callable[[int], str]:
    """Map a department id to its assignment strategy from the configuration."""
    by_code = {d.code: d.assignment for d in app.config.departments}
    codes: dict[int, str] = {i: c for i, c in s.execute(sa.select(Department.id, Department.code))}
    return lambda dep_id: by_code.get(codes.get(dep_id, ""), "least_open")


def _policy(app: Scrm, case: Case) -> SlaPolicy | None:
    return app.hooks.choose_sla(case_ops.case_info(case))


def assign_waiting(app: Scrm, department_id: int | None = None, now: datetime | None = None) -> int:
    """Assign waiting cases to agents with room (after an agent comes back, say).

    :returns: how many cases were assigned.
    """
    now = now or utcnow()
    with transaction(app) as (s, _events):
        return assignment.drain_queue(
            s, strategy_for=_strategy_for(app, s), at=now, department_id=department_id
        )


# -- the loop --------------------------------------------------------------------------------


def transition(
    app: Scrm,
    case_id: int,
    to: CaseStatus | str,
    *,
    actor: str,
    note: str | None = None,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> CaseInfo:
    """Move a case along the loop; proposing a solution also asks for a rating.

    :raises NotFound: when there is no such case.
    :raises Conflict: when ``expected_version`` is stale.
    :raises TransitionError: when the case cannot go to ``to`` from where it is.
    """
    now = now or utcnow()
    with transaction(app) as (s, events):
        case = lock_case(s, case_id, expected_version)
        old = case.status
        transition_in(app, s, events, case, CaseStatus(to), actor=actor, note=note, now=now)
        audit_case(s, actor, "case.transition", case.id, {"from": old, "to": case.status})
        return case_ops.case_info(case)


def transition_in(
    app: Scrm,
    s: Session,
    events: list[Event],
    case: Case,
    to: CaseStatus,
    *,
    actor: str,
    note: str | None,
    now: datetime,
) -> None:
    """Move ``case`` to ``to`` in the caller's transaction, with what follows the move.

    Resolving or closing frees the agent's room (waiting cases are assigned), every move
    checks the open promises, reopening restarts the resolution clock and escalates after
    ``cases.reopen_escalate_after`` reopenings, and proposing a solution asks for a rating
    (``cases.ask_csat``).  The domain events go to ``events``.
    """
    config = app.config.cases
    change = case_ops.transition(s, case, to, actor=actor, note=note, at=now)
    if to in (CaseStatus.RESOLVED, CaseStatus.CLOSED) and case.department_id is not None:
        s.flush()  # the agent's load drops now: the queue can move
        assignment.drain_queue(
            s, strategy_for=_strategy_for(app, s), at=now, department_id=case.department_id
        )
    policy = _policy(app, case)
    loop.keep_promises(s, case, now)
    if to is CaseStatus.REOPENED:
        case.csat_requested_at = None
        if (
            case.resolution_due is None
            and case.paused_remaining is None
            and policy
            and policy.resolution
        ):
            case.resolution_due = sla.add_time(now, policy.resolution, policy.calendar)
            case.next_due = sla.next_due(case)
        if case.reopen_count >= config.reopen_escalate_after:
            effects = loop.LoopEffects(escalations=[(case, "reopened")])
            events.extend(effects.settle(s, config, now))
    if to is CaseStatus.SOLUTION_PROPOSED and config.ask_csat:
        _ask_rating(app, s, case, now=now, actor=actor, policy=policy)
    events.append(change.event())


def _ask_rating(
    app: Scrm, s: Session, case: Case, *, now: datetime, actor: str, policy: SlaPolicy | None
) -> None:
    questions = app.config.cases.csat.questions
    text = questions.get(case.language or "", questions.get("en") or next(iter(questions.values())))
    try:
        queue_reply(
            s,
            case,
            playbooks=app.playbooks_of(case_ops.brand_key(case)),
            now=now,
            actor=actor,
            text=text,
            idempotency_key=f"csat:{case.id}:{case.reopen_count}",
        )
    except ValueError:
        return  # nobody to ask (a case opened by hand with no message)
    case.csat_requested_at = now
    loop.pause(case, now, policy)
    case_ops.add_event(s, case, "csat_asked", actor=actor, at=now)


def assign(
    app: Scrm, case_id: int, agent: str, *, actor: str, expected_version: int | None = None
) -> CaseInfo:
    """Assign a case to agent ``agent`` (a username).

    :raises NotFound: when there is no such case or agent.
    :raises Conflict: when ``expected_version`` is stale.
    """
    now = utcnow()
    with transaction(app) as (s, _events):
        case = lock_case(s, case_id, expected_version)
        target = s.scalar(sa.select(Agent).where(Agent.username == agent))
        if target is None:
            raise NotFound(N_("no agent %(name)r; add one with `scrm agents add`"), name=agent)
        old = case.assignee.username if case.assignee else None
        case.assignee_id, case.assignee = target.id, target
        case.version += 1
        case_ops.add_event(s, case, "assign", actor=actor, at=now, from_value=old, to_value=agent)
        audit_case(s, actor, "case.assign", case.id, {"from": old, "to": agent})
        return case_ops.case_info(case)


def promise(
    app: Scrm,
    case_id: int,
    due: timedelta,
    *,
    actor: str,
    kind: str = "callback",
    note: str | None = None,
    now: datetime | None = None,
) -> FollowUp:
    """Record a promise an agent made, due ``due`` from now (in business time if the case's
    SLA policy has a calendar).

    :raises InvalidInput: for an unknown ``kind``, or ``due`` not within a year from now.
    :raises NotFound: when there is no such case.
    """
    if kind not in PROMISE_KINDS:
        raise InvalidInput(
            N_("a promise is one of %(kinds)s, not %(kind)r"),
            "kind",
            kinds=", ".join(PROMISE_KINDS),
            kind=kind,
        )
    if not timedelta(0) < due <= MAX_PROMISE:
        raise InvalidInput(N_("a promise is due within a year from now"), "due")
    now = now or utcnow()
    with transaction(app) as (s, _events):
        case = lock_case(s, case_id)
        policy = _policy(app, case)
        due_at = sla.add_time(now, due, policy.calendar if policy else None)
        fu = loop.add_promise(s, case, kind=kind, due_at=due_at, at=now, actor=actor, evidence=note)
        case.version += 1
        audit_case(s, actor, "case.promise", case.id, {"kind": kind, "due_at": due_at.isoformat()})
        return fu


def rate(
    app: Scrm, case_id: int, score: int, *, actor: str = "customer", now: datetime | None = None
) -> CaseInfo:
    """Record a satisfaction rating given by phone or by hand; a low one reopens the case.

    :raises InvalidInput: for a score outside ``cases.csat``'s scale.
    :raises NotFound: when there is no such case.
    """
    now = now or utcnow()
    config = app.config.cases
    csat = config.csat
    if not csat.scale_min <= score <= csat.scale_max:
        raise InvalidInput(
            N_("a rating is between %(scale_min)s and %(scale_max)s, not %(score)s"),
            scale_min=csat.scale_min,
            scale_max=csat.scale_max,
            score=score,
        )
    with transaction(app) as (s, events):
        case = lock_case(s, case_id)
        effects = loop.LoopEffects()
        effects.csat.append((case, score, score > csat.reopen_at_or_below))
        loop.record_rating(s, case, score, at=now, actor=actor, config=config, effects=effects)
        events.extend(effects.settle(s, config, now))
        audit_case(s, actor, "case.rate", case.id, {"score": score})
        return case_ops.case_info(case)


# -- related cases ---------------------------------------------------------------------------


def link(app: Scrm, case_ids: list[int], incident: str, *, actor: str) -> int:
    """Link cases into an incident (created if new) to answer them together.

    :returns: the incident's id.
    :raises NotFound: when a case does not exist (nothing is linked then).
    """
    now = utcnow()
    with transaction(app) as (s, _events):
        inc = s.scalar(sa.select(Incident).where(Incident.name == incident))
        if inc is None:
            inc = Incident(name=incident)
            s.add(inc)
            s.flush()
        for cid in case_ids:
            case = lock_case(s, cid)
            case.incident_id = inc.id
            case.version += 1
            case_ops.add_event(s, case, "incident", actor=actor, at=now, to_value=incident)
        audit.record(
            s,
            actor=actor,
            action="incident.link",
            target_type="incident",
            target_id=inc.id,
            details={"name": incident, "cases": case_ids},
        )
        return inc.id


def merge(app: Scrm, source_id: int, target_id: int, *, actor: str) -> CaseInfo:
    """Merge case ``source_id`` into ``target_id``: its messages and promises move, it closes,
    nothing is lost.

    :returns: the target case.
    :raises InvalidInput: when the two are the same case.
    :raises Refused: when the source is merged already.
    :raises NotFound: when a case does not exist.
    """
    now = utcnow()
    if source_id == target_id:
        raise InvalidInput(N_("a case cannot be merged into itself"))
    with transaction(app) as (s, events):
        source, target = lock_case(s, source_id), lock_case(s, target_id)
        if source.merged_into_id is not None:
            raise Refused(
                N_("case %(id)s is already merged into case %(into)s"),
                id=source_id,
                into=source.merged_into_id,
            )
        moved = list(s.scalars(sa.select(Interaction.id).where(Interaction.case_id == source_id)))
        s.execute(
            sa.update(Interaction).where(Interaction.case_id == source_id).values(case_id=target_id)
        )
        s.execute(
            sa.update(FollowUp).where(FollowUp.case_id == source_id).values(case_id=target_id)
        )
        source.merged_into_id = target_id
        old = source.status
        source.status, source.closed_at, source.next_due = CaseStatus.CLOSED.value, now, None
        source.version += 1
        case_ops.add_event(
            s,
            source,
            "merged",
            actor=actor,
            at=now,
            from_value=old,
            to_value="closed",
            note=f"merged into case {target_id}",
            data={"interactions": moved},
        )
        target.last_activity_at = max(target.last_activity_at, source.last_activity_at)
        target.version += 1
        loop.refresh_follow_up_due(s, target)
        merged = conversation.stored_messages(s, [target_id]).get(target_id, [])
        if merged:
            conversation.repair_times(target, merged)
        case_ops.add_event(
            s,
            target,
            "merged",
            actor=actor,
            at=now,
            note=f"case {source_id} merged in",
            data={"interactions": moved, "from_case": source_id},
        )
        events.append(
            CaseTransitioned(
                case=case_ops.case_info(source), old_status=old, new_status="closed", actor=actor
            )
        )
        audit_case(s, actor, "case.merge", source_id, {"into": target_id})
        return case_ops.case_info(target)


def move_message(app: Scrm, interaction_id: int, to_case: int | None, *, actor: str) -> CaseInfo:
    """Move a message to case ``to_case``, or split it out into a case of its own (None).

    Both cases' open and first-response times follow their messages (and so do the
    metrics built on them); each case gets an event naming the message and the agent.

    :returns: the case the message is on now.
    :raises NotFound: when there is no such message or case.
    :raises Refused: when the message is on ``to_case`` already, or has no customer to open
        a case for.
    """
    now = utcnow()
    with transaction(app) as (s, events):
        it = s.get(Interaction, interaction_id)
        if it is None:
            raise NotFound(N_("no interaction %(id)s"), id=interaction_id)
        source = lock_case(s, it.case_id) if it.case_id is not None else None
        if to_case is None:
            if it.customer_id is None:
                raise Refused(
                    N_("interaction %(id)s has no customer to open a case for"), id=interaction_id
                )
            target = _split_case(app, s, it, source)
        else:
            target = lock_case(s, to_case)
            if source is not None and source.id == target.id:
                raise Refused(
                    N_("interaction %(id)s is already on case %(to)s"),
                    id=interaction_id,
                    to=to_case,
                )
        it.case_id = target.id
        s.flush()
        for case, note in (
            (source, f"message {interaction_id} moved to case {target.id}"),
            (target, f"message {interaction_id} moved here"
             + (f" from case {source.id}" if source is not None else "")),
        ):  # fmt: skip
            if case is None:
                continue
            case_ops.add_event(s, case, "message_moved", actor=actor, at=now, note=note,
                               data={"interaction": interaction_id})  # fmt: skip
            messages = conversation.stored_messages(s, [case.id]).get(case.id, [])
            if messages:
                conversation.repair_times(case, messages)
            case.version += 1
        if to_case is None:
            events.append(CaseOpened(case=case_ops.case_info(target)))
        audit.record(
            s,
            actor=actor,
            action="interaction.move",
            target_type="interaction",
            target_id=interaction_id,
            details={"from_case": source.id if source else None, "to_case": target.id},
        )
        return case_ops.case_info(target)


def _split_case(app: Scrm, s: Session, it: Interaction, source: Case | None) -> Case:
    """A new case for a message an agent split out: like its old case, its own customer."""
    route = (it.labels or {}).get("route") or {}
    kind = it.kind if it.kind not in (None, "other", "spam") else "question"
    case = Case(
        customer_id=it.customer_id,
        department_id=source.department_id if source is not None else None,
        channel=it.channel,
        kind=kind,
        category=it.category or (source.category if source is not None else "other"),
        priority=route.get("priority") or (source.priority if source else "normal"),
        status=CaseStatus.NEW.value,
        language=it.language,
        subject=(it.subject or it.text)[:255],
        opened_at=it.created_at,
        last_activity_at=it.created_at,
        reopen_count=0,
        escalation_level=0,
        version=1,
    )
    s.add(case)
    s.flush()
    case_ops.apply_sla(case, _policy(app, case))
    case_ops.add_event(s, case, "opened", actor="system", at=case.opened_at,
                       to_value=case.status, note=f"split out of case {source.id}"
                       if source is not None else "split out")  # fmt: skip
    return case


def close_silent(app: Scrm, now: datetime | None = None) -> list[int]:
    """Resolve and close the cases whose proposed solution met silence.

    A case in ``solution_proposed`` with no activity for ``cases.close_after_silence`` is
    taken as accepted: resolved, then closed, each with an event saying why.  The SLA sweep
    (:func:`scrm.core.services.sla.check`) runs it first.

    :returns: the ids of the cases closed.
    """
    window = app.config.cases.close_after_silence
    if window is None:
        return []
    now = now or utcnow()
    closed = []
    with transaction(app) as (s, events):
        for case in s.scalars(
            sa.select(Case)
            .where(
                Case.status == CaseStatus.SOLUTION_PROPOSED.value,
                Case.last_activity_at <= now - window,
            )
            .order_by(Case.id)
            .with_for_update(skip_locked=True)
        ):
            note = f"no answer for {window} after the solution was proposed"
            for to in (CaseStatus.RESOLVED, CaseStatus.CLOSED):
                transition_in(app, s, events, case, to, actor="system", note=note, now=now)
            closed.append(case.id)
    return closed
