"""Working cases: transitions, assignment, promises, replies, ratings, SLA checks, delivery.

This is the transactional layer that the CLI, the REST API and embedding code call.  Each
public method runs one transaction and fires its after-commit hooks once it is durable.
Rules that apply to every message (promises, pauses, reopen) live in :mod:`scrm.core.loop`
and run the same whether a reply goes out through the outbox or an agent answers from the
channel's own app.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from scrm.core import assignment, audit, conversation, escalation, loop, outbox, sla
from scrm.core import cases as case_ops
from scrm.core.customers import family_ids, root_ids
from scrm.core.db import utcnow
from scrm.core.delivery import Delivery, DeliveryReport
from scrm.core.dispatch import recorded
from scrm.core.errors import InvalidInput, Refused, ScrmError
from scrm.core.events import CaseOpened, CaseTransitioned, Event, SlaSwept
from scrm.core.models import (
    Agent,
    Case,
    Department,
    FollowUp,
    Identity,
    Incident,
    Interaction,
    OutboxMessage,
)
from scrm.core.playbooks import PlaybookError, PlaybookSet, load_playbooks
from scrm.core.queries import NotFound
from scrm.core.schemas import (
    Author,
    CaseInfo,
    CaseStatus,
    Direction,
    InboundInteraction,
)

if TYPE_CHECKING:
    from scrm.core.app import Scrm
    from scrm.core.pipeline import IngestReport

__all__ = [
    "AnswerElsewhere",
    "Conflict",
    "DeliveryReport",
    "ReplyPreviews",
    "Workflow",
    "queue_reply",
    "render_template",
]

log = logging.getLogger(__name__)

#: Sending a template moves the case along the loop when that move is allowed.
TEMPLATE_STATUS = {
    "acknowledge": CaseStatus.ACKNOWLEDGED,
    "contact": CaseStatus.CONTACTED,
    "investigating": CaseStatus.INVESTIGATING,
    "solution": CaseStatus.SOLUTION_PROPOSED,
    "resolved": CaseStatus.RESOLVED,
}


class Conflict(ScrmError):
    """Someone changed the case since the caller read it (optimistic concurrency)."""

    code = "version_conflict"
    http_status = 409
    field = "version"

    def __init__(self, case_id: int, expected: int, current: int) -> None:
        super().__init__(
            f"case {case_id} is at version {current}, not {expected}: reload it and try again"
        )
        self.case_id, self.expected, self.current = case_id, expected, current


class AnswerElsewhere(Refused):
    """The message to answer was published where scrm cannot post (a blog post, a news page).

    :param url: where the agent answers instead; ``scrm case answered`` records it.
    """

    def __init__(self, case_id: int, channel: str, url: str) -> None:
        super().__init__(
            f"case {case_id} came from a {channel} item that scrm cannot answer: reply on the "
            f"page itself, {url}, then record it with `scrm case answered {case_id} --text ...`"
        )
        self.case_id, self.channel, self.url = case_id, channel, url


@dataclass(frozen=True)
class ReplyPreviews:
    """What a reply on a case would say with each playbook template, and where it would go."""

    channel: str | None
    """The channel of the customer's latest message (None: no message to answer)."""
    public: bool | None
    """Whether that message was public: the default of a reply."""
    texts: dict[str, str]
    """Template name to its filled text."""


@dataclass
class _AfterCommit:
    """The domain events of one transaction, recorded in it before it commits."""

    events: list[Event] = field(default_factory=list)

    def add(self, event: Event) -> None:
        self.events.append(event)


def _last_customer_message(session: Session, case: Case) -> Interaction | None:
    """The latest message on ``case`` of its customer (or of a customer merged with them).

    A case can hold another person's message too (a reply under the customer's comment);
    a reply must still go to the customer it greets.  Anyone's latest is the fallback.
    """
    latest = (
        sa.select(Interaction)
        .where(Interaction.case_id == case.id, Interaction.direction == Direction.INBOUND.value)
        .order_by(Interaction.created_at.desc(), Interaction.id.desc())
    )
    root = root_ids(session, [case.customer_id])[case.customer_id]
    family = family_ids(session, root)
    own = session.scalars(latest.where(Interaction.customer_id.in_(family))).first()
    return own or session.scalars(latest).first()


def render_template(
    session: Session,
    case: Case,
    last: Interaction,
    *,
    playbooks: PlaybookSet,
    template: str,
    actor: str,
    public: bool | None = None,
    channel: str | None = None,
) -> tuple[str, str]:
    """Fill playbook template ``template`` for a reply on ``case`` to its message ``last``.

    :returns: the text and the playbook version (``category@version``).
    :raises PlaybookError: for an unknown template or no playbook for the category.
    """
    book = playbooks.for_category(case.category)
    if book is None:
        raise PlaybookError(f"no playbook for category {case.category!r} and no 'other' playbook")
    agent = session.get(Agent, case.assignee_id) if case.assignee_id else None
    text, _ = book.render(
        template,
        case.language,
        channel=channel or last.channel,
        public=last.public if public is None else public,
        customer_name=(case.customer.display_name or "").split(" ")[0] or None,
        case_number=case.id,
        agent=(agent.display_name or agent.username) if agent else actor,
    )
    return text, f"{book.category}@{book.version}"


def queue_reply(
    session: Session,
    case: Case,
    *,
    playbooks: PlaybookSet,
    now: datetime,
    actor: str,
    text: str | None = None,
    template: str | None = None,
    public: bool | None = None,
    idempotency_key: str | None = None,
    channel: str | None = None,
) -> tuple[OutboxMessage, bool]:
    """Queue a reply on ``case`` (free text or a playbook template) in the caller's transaction.

    The reply goes to the customer's latest message: same channel and thread, public when
    that message was public unless ``public`` says otherwise.

    :raises PlaybookError: for an unknown template.
    :raises AnswerElsewhere: when that message can only be answered where it was published.
    :raises Refused: when the case has no customer message to answer.
    """
    last = _last_customer_message(session, case)
    if last is None:
        raise Refused(f"case {case.id} has no customer message to answer")
    if last.answer_url and channel is None:
        raise AnswerElsewhere(case.id, last.channel, last.answer_url)
    recipient = session.get(Identity, last.identity_id) if last.identity_id else None
    playbook_version = None
    if template is not None:
        text, playbook_version = render_template(
            session,
            case,
            last,
            playbooks=playbooks,
            template=template,
            actor=actor,
            public=public,
            channel=channel,
        )
    if not text:
        raise InvalidInput("a reply needs --text or --template")
    key = idempotency_key or f"reply:{case.id}:{uuid.uuid4().hex}"
    meta: dict[str, Any] = {"last_inbound_at": last.created_at.isoformat()}
    if last.subject:
        meta["subject"] = last.subject
    return outbox.enqueue(
        session,
        idempotency_key=key,
        now=now,
        case_id=case.id,
        channel=channel or last.channel,
        recipient=recipient.external_id if recipient else None,
        public=last.public if public is None else public,
        text=text,
        subject=("Re: " + last.subject.removeprefix("Re: ")) if last.subject else None,
        in_reply_to=last.external_id,
        thread_key=last.thread_key,
        meta=meta,
        template=template,
        playbook_version=playbook_version,
        actor=actor,
    )


def _audit(s: Session, actor: str, action: str, case_id: int, details: dict[str, Any]) -> None:
    """The audit entry of an agent's change to a case (no message text: it is in the case)."""
    audit.record(
        s, actor=actor, action=action, target_type="case", target_id=case_id, details=details
    )


class Workflow:
    """The case service (cases, outbox, SLA) on one application.

    Every public method is one transaction that writes its case events, its audit entry (for
    what a person asked) and its domain events, dispatched after commit.
    """

    def __init__(self, app: Scrm) -> None:
        self.app = app
        self.config = app.config.cases
        self._playbooks: PlaybookSet | None = None

    @property
    def playbooks(self) -> PlaybookSet:
        if self._playbooks is None:
            self._playbooks = load_playbooks(self.config.playbooks)
        return self._playbooks

    @contextmanager
    def _tx(self) -> Iterator[tuple[Session, _AfterCommit]]:
        after = _AfterCommit()
        with self.app.session() as s:
            yield s, after
            pending = recorded(s, after.events)
        self.app.events.dispatch(pending)

    def _case(self, s: Session, case_id: int, expected_version: int | None = None) -> Case:
        case = s.get(Case, case_id, with_for_update=s.get_bind().dialect.name == "postgresql")
        if case is None:
            raise NotFound(f"no case {case_id}")
        if expected_version is not None and case.version != expected_version:
            raise Conflict(case_id, expected_version, case.version)
        return case

    def strategy_for(self, s: Session) -> Callable[[int], str]:
        """Map a department id to its assignment strategy from the configuration."""
        by_code = {d.code: d.assignment for d in self.app.config.departments}
        codes: dict[int, str] = {
            i: c for i, c in s.execute(sa.select(Department.id, Department.code))
        }
        return lambda dep_id: by_code.get(codes.get(dep_id, ""), "least_open")

    def drain(self, department_id: int | None = None, now: datetime | None = None) -> int:
        """Assign waiting cases to agents with room (after an agent comes back, say)."""
        now = now or utcnow()
        with self._tx() as (s, _after):
            return assignment.drain_queue(
                s, strategy_for=self.strategy_for(s), at=now, department_id=department_id
            )

    def _policy(self, case: Case) -> Any:
        return self.app.hooks.choose_sla(case_ops.case_info(case))

    def _record(self, s: Session, after: _AfterCommit, change: case_ops.CaseChange) -> None:
        after.add(change.event())

    def _effects(
        self, s: Session, after: _AfterCommit, effects: loop.LoopEffects, now: datetime
    ) -> None:
        after.events.extend(effects.settle(s, self.config, now))

    # -- the loop ----------------------------------------------------------------------------

    def transition(
        self,
        case_id: int,
        to: CaseStatus | str,
        *,
        actor: str,
        note: str | None = None,
        expected_version: int | None = None,
        now: datetime | None = None,
    ) -> CaseInfo:
        """Move a case along the loop; proposing a solution also asks for a rating."""
        now = now or utcnow()
        with self._tx() as (s, after):
            case = self._case(s, case_id, expected_version)
            old = case.status
            self._transition(s, after, case, CaseStatus(to), actor=actor, note=note, now=now)
            _audit(s, actor, "case.transition", case.id, {"from": old, "to": case.status})
            info = case_ops.case_info(case)
        return info

    def _transition(
        self,
        s: Session,
        after: _AfterCommit,
        case: Case,
        to: CaseStatus,
        *,
        actor: str,
        note: str | None,
        now: datetime,
    ) -> None:
        change = case_ops.transition(s, case, to, actor=actor, note=note, at=now)
        if to in (CaseStatus.RESOLVED, CaseStatus.CLOSED) and case.department_id is not None:
            s.flush()  # the agent's load drops now: the queue can move
            assignment.drain_queue(
                s, strategy_for=self.strategy_for(s), at=now, department_id=case.department_id
            )
        policy = self._policy(case)
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
            if case.reopen_count >= self.config.reopen_escalate_after:
                effects = loop.LoopEffects(escalations=[(case, "reopened")])
                self._effects(s, after, effects, now)
        if to is CaseStatus.SOLUTION_PROPOSED and self.config.ask_csat:
            self._ask_rating(s, case, now=now, actor=actor, policy=policy)
        self._record(s, after, change)

    def _ask_rating(
        self, s: Session, case: Case, *, now: datetime, actor: str, policy: Any
    ) -> None:
        questions = self.config.csat.questions
        text = questions.get(
            case.language or "", questions.get("en") or next(iter(questions.values()))
        )
        try:
            queue_reply(
                s,
                case,
                playbooks=self.playbooks,
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

    def previews(self, case_id: int, *, actor: str) -> ReplyPreviews:
        """Every template of the case's playbook filled as a reply sent now would be.

        The texts are those :meth:`reply` would queue with ``template`` and the default
        ``public`` (as the customer's latest message), in the case's language.
        """
        with self.app.session(read_only=True) as s:
            case = s.get(Case, case_id)
            if case is None:
                raise NotFound(f"no case {case_id}")
            last = _last_customer_message(s, case)
            book = self.playbooks.for_category(case.category)
            if last is None or book is None:
                return ReplyPreviews(channel=None, public=None, texts={})
            texts = {
                name: render_template(
                    s, case, last, playbooks=self.playbooks, template=name, actor=actor
                )[0]
                for name in book.templates
            }
            return ReplyPreviews(channel=last.channel, public=last.public, texts=texts)

    def assign(
        self, case_id: int, agent: str, *, actor: str, expected_version: int | None = None
    ) -> CaseInfo:
        now = utcnow()
        with self._tx() as (s, _after):
            case = self._case(s, case_id, expected_version)
            target = s.scalar(sa.select(Agent).where(Agent.username == agent))
            if target is None:
                raise NotFound(f"no agent {agent!r}; add one with `scrm agents add`")
            old = case.assignee.username if case.assignee else None
            case.assignee_id, case.assignee = target.id, target
            case.version += 1
            case_ops.add_event(
                s, case, "assign", actor=actor, at=now, from_value=old, to_value=agent
            )
            _audit(s, actor, "case.assign", case.id, {"from": old, "to": agent})
            return case_ops.case_info(case)

    def promise(
        self,
        case_id: int,
        due: timedelta,
        *,
        actor: str,
        kind: str = "callback",
        note: str | None = None,
        now: datetime | None = None,
    ) -> FollowUp:
        """Record a promise an agent made, due ``due`` from now (in business time if the policy has a calendar)."""
        now = now or utcnow()
        with self._tx() as (s, _after):
            case = self._case(s, case_id)
            policy = self._policy(case)
            due_at = sla.add_time(now, due, policy.calendar if policy else None)
            fu = loop.add_promise(
                s, case, kind=kind, due_at=due_at, at=now, actor=actor, evidence=note
            )
            case.version += 1
            _audit(s, actor, "case.promise", case.id, {"kind": kind, "due_at": due_at.isoformat()})
            return fu

    def reply(
        self,
        case_id: int,
        *,
        actor: str,
        text: str | None = None,
        template: str | None = None,
        public: bool | None = None,
        idempotency_key: str | None = None,
        expected_version: int | None = None,
        now: datetime | None = None,
    ) -> OutboxMessage:
        """Queue a reply through the outbox; a template moves the case along the loop."""
        now = now or utcnow()
        with self._tx() as (s, after):
            case = self._case(s, case_id, expected_version)
            row = self._reply(
                s,
                after,
                case,
                actor=actor,
                text=text,
                template=template,
                public=public,
                idempotency_key=idempotency_key,
                now=now,
            )
            _audit(s, actor, "case.reply", case.id, {"outbox_id": row.id, "template": template})
            return row

    def _reply(
        self,
        s: Session,
        after: _AfterCommit,
        case: Case,
        *,
        actor: str,
        text: str | None,
        template: str | None,
        public: bool | None,
        idempotency_key: str | None,
        now: datetime,
    ) -> OutboxMessage:
        """Queue one reply on ``case``; a template moves the case along the loop."""
        row, new = queue_reply(
            s,
            case,
            playbooks=self.playbooks,
            now=now,
            actor=actor,
            text=text,
            template=template,
            public=public,
            idempotency_key=idempotency_key,
        )
        target = TEMPLATE_STATUS.get(template or "")
        if new and target is not None and target in case_ops.allowed_from(case.status):
            self._transition(
                s,
                after,
                case,
                target,
                actor=actor,
                note=f"replied with template {template}",
                now=now,
            )
        case_ops.add_event(
            s,
            case,
            "reply_queued",
            actor=actor,
            at=now,
            to_value=row.channel,
            note=(f"template {template} ({row.playbook_version})" if template else None),
            data={"outbox_id": row.id},
        )
        return row

    def record_answer(
        self,
        case_id: int,
        *,
        actor: str,
        text: str,
        url: str | None = None,
        at: datetime | None = None,
    ) -> IngestReport:
        """Record on ``case_id`` a public answer an agent gave outside scrm (on a blog post).

        The answer is stored as the brand's outbound public message on the channel of the
        customer's latest message, answering it, so it moves the loop and counts as the first
        response exactly like a reply sent through scrm.  Recording the same text for the same
        case twice stores it once.

        :param url: where the answer was given; by default the message's ``answer_url``.
        :raises NotFound: when there is no such case.
        :raises Refused: when the case has no customer message to answer.
        :raises InvalidInput: when ``text`` is blank.
        """
        if not text.strip():
            raise InvalidInput("say what was answered: the text of the answer given there")
        at = at or utcnow()
        with self.app.session(read_only=True) as s:
            case = self._case(s, case_id)
            last = _last_customer_message(s, case)
            if last is None:
                raise Refused(f"case {case_id} has no customer message to answer")
            person = s.get(Identity, last.identity_id) if last.identity_id else None
            where = url or last.answer_url
            digest = hashlib.sha256(f"{case_id}\0{text}\0{where}".encode()).hexdigest()[:24]
            it = InboundInteraction(
                channel=last.channel,
                external_id=f"answered:{case_id}:{digest}",
                text=text,
                created_at=at,
                author=Author(external_id=f"agent:{actor}", handle=actor),
                recipient=(
                    Author(external_id=person.external_id, display_name=person.display_name)
                    if person is not None
                    else None
                ),
                direction=Direction.OUTBOUND,
                public=True,
                thread_key=last.thread_key,
                in_reply_to=last.external_id,
                case_id=case_id,
                raw={"answered_at": where, "recorded_by": actor},
            )
        return self.app.ingest([it], source=f"answered:{actor}")

    def rate(
        self, case_id: int, score: int, *, actor: str = "customer", now: datetime | None = None
    ) -> CaseInfo:
        """Record a satisfaction rating given by phone or by hand."""
        now = now or utcnow()
        csat = self.config.csat
        if not csat.scale_min <= score <= csat.scale_max:
            raise InvalidInput(
                f"a rating is between {csat.scale_min} and {csat.scale_max}, not {score}"
            )
        with self._tx() as (s, after):
            case = self._case(s, case_id)
            effects = loop.LoopEffects()
            effects.csat.append((case, score, score > csat.reopen_at_or_below))
            loop.record_rating(
                s, case, score, at=now, actor=actor, config=self.config, effects=effects
            )
            self._effects(s, after, effects, now)
            _audit(s, actor, "case.rate", case.id, {"score": score})
            return case_ops.case_info(case)

    # -- related cases -------------------------------------------------------------------------

    def link(self, case_ids: list[int], incident: str, *, actor: str) -> int:
        """Link cases into an incident (created if new); return the incident id."""
        now = utcnow()
        with self._tx() as (s, _after):
            inc = s.scalar(sa.select(Incident).where(Incident.name == incident))
            if inc is None:
                inc = Incident(name=incident)
                s.add(inc)
                s.flush()
            for cid in case_ids:
                case = self._case(s, cid)
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

    def merge(self, source_id: int, target_id: int, *, actor: str) -> CaseInfo:
        """Merge case ``source_id`` into ``target_id``: its messages and promises move, nothing is lost."""
        now = utcnow()
        if source_id == target_id:
            raise InvalidInput("a case cannot be merged into itself")
        with self._tx() as (s, after):
            source, target = self._case(s, source_id), self._case(s, target_id)
            if source.merged_into_id is not None:
                raise Refused(
                    f"case {source_id} is already merged into case {source.merged_into_id}"
                )
            moved = list(
                s.scalars(sa.select(Interaction.id).where(Interaction.case_id == source_id))
            )
            s.execute(
                sa.update(Interaction)
                .where(Interaction.case_id == source_id)
                .values(case_id=target_id)
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
            after.add(
                CaseTransitioned(
                    case=case_ops.case_info(source),
                    old_status=old,
                    new_status="closed",
                    actor=actor,
                )
            )
            _audit(s, actor, "case.merge", source_id, {"into": target_id})
            return case_ops.case_info(target)

    def move_message(self, interaction_id: int, to_case: int | None, *, actor: str) -> CaseInfo:
        """Move a message to case ``to_case``, or split it out into a case of its own (None).

        Both cases' open and first-response times follow their messages (and so do the
        metrics built on them); each case gets an event naming the message and the agent.
        """
        now = utcnow()
        with self._tx() as (s, after):
            it = s.get(Interaction, interaction_id)
            if it is None:
                raise NotFound(f"no interaction {interaction_id}")
            source = self._case(s, it.case_id) if it.case_id is not None else None
            if to_case is None:
                if it.customer_id is None:
                    raise Refused(
                        f"interaction {interaction_id} has no customer to open a case for"
                    )
                target = self._split_case(s, it, source, now)
            else:
                target = self._case(s, to_case)
                if source is not None and source.id == target.id:
                    raise Refused(f"interaction {interaction_id} is already on case {to_case}")
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
                after.add(CaseOpened(case=case_ops.case_info(target)))
            audit.record(
                s,
                actor=actor,
                action="interaction.move",
                target_type="interaction",
                target_id=interaction_id,
                details={"from_case": source.id if source else None, "to_case": target.id},
            )
            return case_ops.case_info(target)

    def _split_case(self, s: Session, it: Interaction, source: Case | None, now: datetime) -> Case:
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
        case_ops.apply_sla(case, self.app.hooks.choose_sla(case_ops.case_info(case)))
        case_ops.add_event(s, case, "opened", actor="system", at=case.opened_at,
                           to_value=case.status, note=f"split out of case {source.id}"
                           if source is not None else "split out")  # fmt: skip
        return case

    def close_silent(self, now: datetime | None = None) -> list[int]:
        """Resolve and close the cases whose proposed solution met silence.

        A case in ``solution_proposed`` with no activity for ``cases.close_after_silence``
        is taken as accepted: resolved, then closed, each with an event saying why.
        :returns: the ids of the cases closed.
        """
        window = self.config.close_after_silence
        if window is None:
            return []
        now = now or utcnow()
        closed = []
        with self._tx() as (s, after):
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
                    self._transition(s, after, case, to, actor="system", note=note, now=now)
                closed.append(case.id)
        return closed

    def reply_incident(
        self,
        incident: str,
        *,
        actor: str,
        text: str | None = None,
        template: str | None = None,
        public: bool | None = None,
    ) -> list[OutboxMessage]:
        """Send one answer to every open case of an incident (one reply per case, queued once)."""
        now = utcnow()
        digest = hashlib.sha256((template or text or "").encode()).hexdigest()[:16]
        with self._tx() as (s, after):
            inc = s.scalar(sa.select(Incident).where(Incident.name == incident))
            if inc is None:
                raise NotFound(f"no incident {incident!r}")
            rows = []
            for case in s.scalars(
                sa.select(Case).where(
                    Case.incident_id == inc.id, Case.status.in_(case_ops.OPEN_STATUSES)
                )
            ):
                key = f"incident:{inc.id}:{digest}:{case.id}"
                try:
                    rows.append(
                        self._reply(
                            s,
                            after,
                            case,
                            actor=actor,
                            text=text,
                            template=template,
                            public=public,
                            idempotency_key=key,
                            now=now,
                        )
                    )
                except AnswerElsewhere as exc:  # answered on its page; the others still go
                    log.info("incident %s: %s", incident, exc)
            audit.record(
                s,
                actor=actor,
                action="incident.reply",
                target_type="incident",
                target_id=inc.id,
                details={"template": template, "outbox_ids": [r.id for r in rows]},
            )
            return rows

    # -- clocks and delivery --------------------------------------------------------------------

    def check_sla(self, now: datetime | None = None) -> escalation.Alerts:
        """Fire due warnings, breaches and escalation steps (each exactly once), and close the
        cases whose proposed solution met silence (:meth:`close_silent`).

        :returns: the alerts fired, a sequence read from the database when first iterated.
        """
        now = now or utcnow()
        self.close_silent(now)
        with self.app.session() as s:
            sweep = escalation.check_deadlines(
                s, now=now, config=self.config, policy_for=self.app.hooks.choose_sla
            )
            # One event for the whole sweep: its consumers read the alerts themselves.
            pending = recorded(s, [SlaSwept(alerts=sweep.swept)]) if sweep.swept else None
        self.app.events.dispatch(pending)
        return escalation.Alerts(self.app.session, sweep)

    def deliver(self, now: datetime | None = None, limit: int = 100) -> DeliveryReport:
        """Deliver up to ``limit`` due replies, one at a time; see :mod:`scrm.core.delivery`."""
        return Delivery(self.app).run(now=now, limit=limit)

    def retry(self, outbox_id: int, *, actor: str = "cli") -> None:
        """Put a failed reply back in the queue (noted on its case's timeline)."""
        Delivery(self.app).retry(outbox_id, actor=actor)
