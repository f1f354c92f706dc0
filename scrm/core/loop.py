"""The complaint loop's rules for each message that lands on a case.

Called by the pipeline inside the batch's transaction:

- a brand message (outbound) that promises something ("DM us your order number", "we will
  call you within 24 hours") records a :class:`~scrm.core.models.FollowUp` with a due time;
  a request for details pauses the resolution clock until the customer answers;
- private contact from either side keeps the open promises;
- a customer message (inbound) resumes a paused clock, answers a pending satisfaction
  question, and reopens a case whose solution left the customer unhappy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from scrm.core import cases as case_ops
from scrm.core import sla
from scrm.core.config import CasesConfig
from scrm.core.db import chunks
from scrm.core.escalation import escalate
from scrm.core.events import CaseEscalated, CsatReceived, Event
from scrm.core.models import Case, FollowUp
from scrm.core.promises import PromiseKind, detect_promise
from scrm.core.schemas import CaseStatus, Classification, SlaPolicy
from scrm.core.text import normalize

__all__ = [
    "LoopEffects",
    "PromiseBook",
    "on_brand_message",
    "on_customer_message",
    "parse_rating",
    "pause",
    "resume",
]

DEFAULT_FOLLOW_UP = timedelta(hours=24)

_YES = (
    "evet",
    "yes",
    "cozuldu",
    "halloldu",
    "memnunum",
    "tesekkurler",
    "tesekkur ederim",
    "thanks",
    "thank you",
    "solved",
    "resolved",
    "it works",
    "calisiyor",
)
_NO = (
    "hayir",
    "no",
    "cozulmedi",
    "memnun degilim",
    "hala",
    "still",
    "not solved",
    "not fixed",
    "doesn't work",
    "does not work",
    "calismiyor",
    "olmadi",
)
_DIGIT = re.compile(r"(?<![\d/])(\d{1,2})(?:\s*/\s*(\d{1,2}))?(?!\d)")


@dataclass
class LoopEffects:
    """What the rules did, for the after-commit hooks."""

    transitions: list[case_ops.CaseChange] = field(default_factory=list)
    csat: list[tuple[Case, int, bool]] = field(default_factory=list)
    escalations: list[tuple[Case, str]] = field(default_factory=list)

    def settle(self, session: Session, config: CasesConfig, now: datetime) -> list[Event]:
        """Carry out the escalations and return the domain events, in order."""
        calls: list[Event] = [c.event() for c in self.transitions]
        for case, score, satisfied in self.csat:
            calls.append(
                CsatReceived(case=case_ops.case_info(case), score=score, satisfied=satisfied)
            )
        step = next((st for st in config.escalation if st.to == "lead"), None)
        once: dict[int, tuple[Case, str]] = {}
        for (
            case,
            why,
        ) in self.escalations:  # a low rating that is also the n-th reopening escalates once
            once.setdefault(id(case), (case, why))
        for case, why in once.values() if step is not None else ():
            reason = {
                "reopened": f"reopened {case.reopen_count} times",
                "chasing": "the customer is chasing a promise that was not kept",
            }.get(why, "the customer is not satisfied")
            summary = escalate(session, case, step, reason=reason, at=now)  # type: ignore[arg-type]
            calls.append(
                CaseEscalated(
                    case=case_ops.case_info(case),
                    level=case.escalation_level,
                    reason=reason,
                    summary=summary,
                )
            )
        return calls


def parse_rating(text: str, scale_min: int, scale_max: int) -> int | None:
    """Read a satisfaction answer: a number on the scale ("4", "5/5", "puanım 2"), or yes/no words.

    :returns: the rating, the top of the scale for a clear yes, the bottom for a clear no,
        or None when the text is not an answer.
    """
    norm = normalize(text)
    for m in _DIGIT.finditer(norm):
        value, out_of = int(m.group(1)), m.group(2)
        if out_of is not None and int(out_of) != scale_max:
            continue
        if scale_min <= value <= scale_max:
            return value
    words = f" {re.sub(r'[^a-z0-9 ]', ' ', norm)} "
    no = any(f" {w} " in words for w in _NO)
    yes = any(f" {w} " in words for w in _YES)
    if no:
        return scale_min
    if yes:
        return scale_max
    return None


def pause(case: Case, at: datetime, policy: SlaPolicy | None) -> None:
    """Stop the resolution clock while the case waits on the customer (if the policy says so)."""
    if case.waiting_since is not None:
        return
    case.waiting_since = at
    if policy is not None and policy.pause_on_customer and case.resolution_due is not None:
        remaining = sla.time_between(at, case.resolution_due, policy.calendar)
        case.paused_remaining = int(remaining.total_seconds())
        case.resolution_due = None
    case.next_due = sla.next_due(case)


def resume(case: Case, at: datetime, policy: SlaPolicy | None) -> None:
    """Restart a paused resolution clock with the time it had left."""
    if case.waiting_since is None:
        return
    case.waiting_since = None
    if case.paused_remaining is not None:
        calendar = policy.calendar if policy else None
        case.resolution_due = sla.add_time(at, timedelta(seconds=case.paused_remaining), calendar)
        case.paused_remaining = None
    case.next_due = sla.next_due(case)


class PromiseBook:
    """The open promises of a set of cases: loaded in one query, then kept in memory.

    The pipeline builds one per batch, so keeping and adding promises for a thousand
    messages costs one query and no flushes; the agent commands build one per case.
    Promises added in the session but not flushed yet are in it too, which a query
    without autoflush would miss.
    """

    def __init__(self, session: Session, cases: Iterable[Case]) -> None:
        self._open: dict[Case, list[FollowUp]] = {}
        by_id: dict[int, Case] = {}
        for case in cases:
            self._open[case] = []
            if case.id is not None and case.follow_up_due is not None:
                by_id[case.id] = case
        for part in chunks(sorted(by_id)):
            for fu in session.scalars(
                sa.select(FollowUp)
                .where(FollowUp.case_id.in_(part), FollowUp.closed_at.is_(None))
                .order_by(FollowUp.id)
            ):
                self._open[by_id[fu.case_id]].append(fu)

    def of(self, case: Case) -> list[FollowUp]:
        """The case's promises not yet closed (kept or broken)."""
        return self._open.setdefault(case, [])

    def forget(self, case: Case, session: Session) -> None:
        """Drop the case's promises from the book and the session (a replay deletes them)."""
        for fu in self._open.pop(case, []):
            if fu in session:
                session.expunge(fu)

    def add(self, case: Case, fu: FollowUp) -> None:
        self.of(case).append(fu)

    def close(self, case: Case, at: datetime, kinds: Iterable[str] | None = None) -> int:
        """Close the promises made up to ``at`` (of ``kinds``, default all); reset the clock."""
        pending = self.of(case)
        wanted = None if kinds is None else set(kinds)
        n = 0
        for fu in pending:
            if fu.created_at <= at and (wanted is None or fu.kind in wanted):
                if fu.status == "open":
                    fu.status = "kept"
                fu.closed_at = at
                n += 1
        pending[:] = [fu for fu in pending if fu.closed_at is None]
        case.follow_up_due = min((fu.due_at for fu in pending), default=None)
        case.next_due = sla.next_due(case)
        return n


#: What keeps each kind of promise: the brand's own private contact keeps a call-back or an
#: investigation; the customer's private answer keeps the brand's request for details.  A
#: customer writing "still nobody called" keeps nothing (it is evidence of a broken promise).
BRAND_KEEPS = (PromiseKind.callback.value, PromiseKind.investigating.value)
CUSTOMER_KEEPS = (PromiseKind.contact_request.value,)


def keep_promises(
    session: Session,
    case: Case,
    at: datetime,
    promises: PromiseBook | None = None,
    kinds: Iterable[str] | None = None,
) -> int:
    """Close the case's pending promises (of ``kinds``) now that contact happened.

    Open ones are kept; ones already broken stay counted as broken, but stop the clock.
    :returns: how many were closed.
    """
    if case.follow_up_due is None or (case.id is None and promises is None):
        return 0  # no pending promise (follow_up_due tracks the earliest one): nothing to keep
    return (promises or PromiseBook(session, [case])).close(case, at, kinds)


def refresh_follow_up_due(session: Session, case: Case) -> None:
    """Set the follow-up clock to the earliest promise not yet closed (kept or broken)."""
    session.flush()
    case.follow_up_due = session.scalar(
        sa.select(sa.func.min(FollowUp.due_at)).where(
            FollowUp.case_id == case.id, FollowUp.closed_at.is_(None)
        )
    )
    case.next_due = sla.next_due(case)


def add_promise(
    session: Session,
    case: Case,
    *,
    kind: str,
    due_at: datetime,
    at: datetime,
    actor: str,
    evidence: str | None,
    interaction_id: int | None = None,
    promises: PromiseBook | None = None,
) -> FollowUp:
    fu = FollowUp(
        case=case,
        interaction_id=interaction_id,
        kind=kind,
        due_at=due_at,
        status="open",
        actor=actor,
        evidence=evidence,
        created_at=at,
    )
    session.add(fu)
    if promises is not None:
        promises.add(case, fu)
    case_ops.add_event(
        session,
        case,
        "promise",
        actor=actor,
        at=at,
        to_value=kind,
        note=f"due {due_at.isoformat()}" + (f": {evidence}" if evidence else ""),
    )
    # A new promise can only bring the earliest pending due time forward: no query needed.
    case.follow_up_due = due_at if case.follow_up_due is None else min(case.follow_up_due, due_at)
    case.next_due = sla.next_due(case)
    return fu


def on_brand_message(
    session: Session,
    case: Case,
    *,
    text: str,
    public: bool,
    at: datetime,
    actor: str,
    policy: SlaPolicy | None,
    promises: PromiseBook | None = None,
) -> None:
    """Apply the loop to a message the brand sent on ``case``."""
    if not public:
        keep_promises(session, case, at, promises, BRAND_KEEPS)
    promise = detect_promise(text)
    if not promise.promise:
        return
    due = promise.due or (policy.follow_up if policy and policy.follow_up else DEFAULT_FOLLOW_UP)
    due_at = sla.add_time(at, due, policy.calendar if policy else None)
    add_promise(
        session,
        case,
        kind=promise.kind.value,
        due_at=due_at,
        at=at,
        actor=actor,
        evidence=promise.evidence,
        promises=promises,
    )
    if promise.kind is PromiseKind.contact_request:
        pause(case, at, policy)


def on_customer_message(
    session: Session,
    case: Case,
    classification: Classification,
    *,
    text: str,
    public: bool,
    at: datetime,
    policy: SlaPolicy | None,
    config: CasesConfig,
    promises: PromiseBook | None = None,
) -> LoopEffects:
    """Apply the loop to a customer's message on ``case``: resume, keep, rate, reopen."""
    effects = LoopEffects()
    resume(case, at, policy)
    if not public:
        keep_promises(session, case, at, promises, CUSTOMER_KEEPS)
    rating = None
    if case.csat_requested_at is not None and (
        case.csat_at is None or case.csat_at < case.csat_requested_at
    ):
        rating = parse_rating(text, config.csat.scale_min, config.csat.scale_max)
    if rating is not None:
        effects.csat.append((case, rating, rating > config.csat.reopen_at_or_below))
        record_rating(
            session, case, rating, at=at, actor="customer", config=config, effects=effects
        )
    elif (
        case.status in (CaseStatus.SOLUTION_PROPOSED, CaseStatus.RESOLVED)
        and classification.sentiment == "negative"
    ):
        reopen(
            session,
            case,
            at=at,
            actor="customer",
            note="the customer wrote back unhappy",
            config=config,
            effects=effects,
        )
    return effects


def record_rating(
    session: Session,
    case: Case,
    score: int,
    *,
    at: datetime,
    actor: str,
    config: CasesConfig,
    effects: LoopEffects,
) -> None:
    """Store a satisfaction rating; a low one reopens the case, a good one resolves it."""
    case.csat_score, case.csat_at = score, at
    satisfied = score > config.csat.reopen_at_or_below
    case_ops.add_event(
        session,
        case,
        "csat",
        actor=actor,
        at=at,
        to_value=str(score),
        note="satisfied" if satisfied else "not satisfied",
    )
    if not satisfied and case.status in (
        CaseStatus.SOLUTION_PROPOSED,
        CaseStatus.RESOLVED,
        CaseStatus.CLOSED,
    ):
        reopen(
            session,
            case,
            at=at,
            actor=actor,
            note=f"rated {score}: not satisfied",
            config=config,
            effects=effects,
        )
        effects.escalations.append(
            (case, "lead")
        )  # the owner's lead hears about every unhappy rating
    elif satisfied and case.status == CaseStatus.SOLUTION_PROPOSED:
        effects.transitions.append(
            case_ops.transition(
                session,
                case,
                CaseStatus.RESOLVED,
                actor=actor,
                at=at,
                note=f"rated {score}: satisfied",
            )
        )


def reopen(
    session: Session,
    case: Case,
    *,
    at: datetime,
    actor: str,
    note: str,
    config: CasesConfig,
    effects: LoopEffects,
) -> None:
    effects.transitions.append(
        case_ops.transition(session, case, CaseStatus.REOPENED, actor=actor, at=at, note=note)
    )
    # A new round of the loop: a new rating is asked when a solution is proposed again.
    case.csat_requested_at = None
    if case.reopen_count >= config.reopen_escalate_after:
        effects.escalations.append((case, "reopened"))
