"""How the messages on a case move it through the loop, in the order they were written.

The pipeline decides which case each message belongs to; this module applies the loop's
rules for each message to its case, oldest first:

- a **customer** message resumes a clock paused on them, answers a rating question, reopens
  a case whose solution left them unhappy, resolves one with a thank-you after the brand's
  answer (``cases.on_thanks``), raises the case's priority when it is graver than before
  (legal, safety, churn), and escalates when it chases a promise the brand has not kept;
- a **brand** message, written through scrm or in the platform's own app, is the first
  response when it is the earliest one after the case opened, acknowledges the case when
  public, and contacts the customer (waiting on them) when private or asking for details.

Because the rules run in time order, the outcome does not depend on arrival order: when a
message arrives older than what its case has seen (an API page read newest first, a parent
after its reply), the pipeline :func:`reset`\\ s the case and replays all of its messages.
A case that an agent has acted on is never reset (their actions are not messages); its
timestamps are repaired instead (:func:`repair_times`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from scrm.core import cases as case_ops
from scrm.core import loop, sla
from scrm.core.config import CasesConfig
from scrm.core.db import chunks
from scrm.core.events import CaseTransitioned, CsatReceived, Event
from scrm.core.models import Case, CaseEvent, FollowUp, Interaction
from scrm.core.promises import PromiseKind, detect_promise
from scrm.core.schemas import (
    CaseInfo,
    CaseStatus,
    Classification,
    Direction,
    Kind,
    Priority,
    SlaPolicy,
)
from scrm.core.text import normalize

__all__ = [
    "MESSAGE_COLUMNS",
    "CaseRules",
    "Message",
    "is_chasing",
    "is_gratitude",
    "repair_times",
    "replayable",
    "reset",
    "stored_messages",
]

S = CaseStatus

# Events the pipeline writes from messages: a case holding only these can be replayed.
_MESSAGE_ACTIONS = {"opened", "assign", "responded", "promise", "status", "csat", "satisfaction"}


@dataclass(frozen=True)
class Message:
    """One message on a case, as the loop sees it (from the batch or from the database)."""

    channel: str
    external_id: str
    direction: Direction
    public: bool
    text: str
    at: datetime
    actor: str
    subject: str | None = None
    cls: Classification | None = None
    noise: str | None = None
    priority: Priority | None = None
    """The routing priority of a customer message."""
    department: str | None = None
    """The department the message was routed to."""

    @property
    def order(self) -> tuple[datetime, int, str, str]:
        # At the same second a customer's message comes before the brand's answer to it.
        return (self.at, self.direction is Direction.OUTBOUND, self.channel, self.external_id)

    @property
    def from_customer(self) -> bool:
        return self.direction is Direction.INBOUND and self.noise is None


# -- reading what a customer says ---------------------------------------------------------

_THANKS = re.compile(
    r"\b(?:thanks?|thank you|thx|ty|cheers|brilliant|perfect|awesome|great|solved|sorted|"
    r"resolved|fixed|it works|working now|works now|all good|tesekkur(?:ler| ederim)?|"
    r"sagol(?:un)?|cozuldu|halloldu|duzeldi|oldu|calisiyor|harika|super)\b"
)
_NOT_THANKS = re.compile(
    r"\b(?:still|again|not|no|never|nothing|dont|don't|doesnt|doesn't|isnt|isn't|but|"
    r"hala|yine|hic|degil|olmadi|cozulmedi|calismiyor|ama|fakat)\b|\?"
)
_CHASING = re.compile(
    r"\b(?:still (?:waiting|nothing|no (?:call|reply|response|answer|word))|"
    r"(?:no ?one|nobody|noone) (?:has )?(?:called|replied|answered|got back|contacted)|"
    r"(?:haven't|have not|never) (?:heard|received|got)(?: anything| back| a (?:call|reply))?|"
    r"where is (?:my|the) (?:call|reply|refund)|any update|"
    r"hala (?:bekliyorum|ses yok|donus yok|aranmadim|kimse)|kimse (?:aramadi|donmedi|donus yapmadi|ilgilenmedi)|"
    r"(?:geri )?donus (?:yapilmadi|yok|alamadim)|aranmadim|ses seda yok|haber yok|"
    r"arayan (?:soran )?yok)"
)


def is_gratitude(text: str, cls: Classification | None) -> bool:
    """Whether a customer's message thanks the brand or says the problem is gone."""
    if cls is not None and cls.sentiment == "negative":
        return False
    norm = normalize(text[:500])
    return bool(_THANKS.search(norm)) and not _NOT_THANKS.search(norm)


def is_chasing(text: str) -> bool:
    """Whether a customer's message chases a promised call, reply or result."""
    return bool(_CHASING.search(normalize(text[:1000])))


# -- the rules -----------------------------------------------------------------------------


class CaseRules:
    """The loop's rules for messages, applied to cases inside one transaction.

    :param policy_for: the SLA policy of a case (the ``choose_sla`` hook).
    :param promises: the open promises of the cases at hand.
    """

    def __init__(
        self,
        session: Session,
        config: CasesConfig,
        policy_for: Callable[[Case], SlaPolicy | None],
        promises: loop.PromiseBook,
    ) -> None:
        self.session = session
        self.config = config
        self.policy_for = policy_for
        self.promises = promises
        self._events: list[tuple[Case, Event]] = []
        self._told: dict[int, Counter[tuple[str, str | None]]] = {}

    def events(self) -> list[Event]:
        """The domain events of the transitions, ratings and escalations, in order.

        Call it after the flush: a case opened in this batch has its id only then.
        """
        out = []
        for case, event in self._events:
            info = getattr(event, "case", None)
            if isinstance(info, CaseInfo) and info.id is None:
                event = event.model_copy(update={"case": info.model_copy(update={"id": case.id})})
            out.append(event)
        return out

    def replaying(self, case: Case) -> None:
        """Note what the case already told, before :func:`reset` replays the case.

        A replay goes through transitions and ratings the case had been through before;
        their events were emitted then and are not emitted again.  Only what the replay adds
        is told.
        """
        told: Counter[tuple[str, str | None]] = Counter()
        for action, old, new in self.session.execute(
            sa.select(CaseEvent.action, CaseEvent.from_value, CaseEvent.to_value).where(
                CaseEvent.case_id == case.id, CaseEvent.action.in_(("status", "csat"))
            )
        ):
            if action == "status":
                told["transitioned", f"{old}>{new}"] += 1
            else:
                told["csat", new] += 1
        self._told[id(case)] = told

    def _record(self, case: Case, events: list[Event]) -> None:
        told = self._told.get(id(case))
        for event in events:
            key = _told_key(event)
            if told is not None and key is not None and told[key] > 0:
                told[key] -= 1  # emitted when the case first went through it
                continue
            self._events.append((case, event))

    def opened(self, case: Case, first: Message, pool: str | None = None) -> None:
        case_ops.add_event(
            self.session,
            case,
            "opened",
            actor="system",
            at=case.opened_at,
            to_value=case.status,
            note=f"opened from {case.channel}",
            data={"pool": pool} if pool else None,
        )

    def apply(self, case: Case, msg: Message) -> None:
        """Apply one message to its case (messages of a case must come oldest first)."""
        if msg.at > case.last_activity_at:
            case.last_activity_at = msg.at
        if msg.direction is Direction.OUTBOUND:
            self._brand(case, msg)
        elif msg.noise is None:
            self._customer(case, msg)

    def _transition(self, case: Case, to: CaseStatus, actor: str, at: datetime, note: str) -> None:
        change = case_ops.transition(self.session, case, to, actor=actor, at=at, note=note)
        self._record(case, [change.event()])

    def _brand(self, case: Case, msg: Message) -> None:
        if msg.at >= case.opened_at and (
            case.first_response_at is None or msg.at < case.first_response_at
        ):
            case.first_response_at = msg.at
            case.next_due = sla.next_due(case)
            case_ops.add_event(
                self.session,
                case,
                "responded",
                actor=msg.actor,
                at=msg.at,
                note="first response (" + ("public" if msg.public else "private") + ")",
            )
        policy = self.policy_for(case)
        loop.on_brand_message(
            self.session,
            case,
            text=msg.text,
            public=msg.public,
            at=msg.at,
            actor=msg.actor,
            policy=policy,
            promises=self.promises,
        )
        status = CaseStatus(case.status)
        if status not in (S.NEW, S.ACKNOWLEDGED, S.REOPENED):
            return
        asks = detect_promise(msg.text).kind is PromiseKind.contact_request
        if asks or not msg.public:
            note = "the brand asked for details" if asks else "the brand wrote privately"
            self._transition(case, S.CONTACTED, msg.actor, msg.at, note)
        elif status is S.NEW:
            self._transition(case, S.ACKNOWLEDGED, msg.actor, msg.at, "the brand answered publicly")

    def _customer(self, case: Case, msg: Message) -> None:
        assert msg.cls is not None
        if case.status == S.CLOSED:
            # The pipeline lands a message on a closed case only within cases.reopen_window.
            effects = loop.LoopEffects()
            loop.reopen(
                self.session,
                case,
                at=msg.at,
                actor="customer",
                note="the customer wrote again after closing",
                config=self.config,
                effects=effects,
            )
            self._record(case, effects.settle(self.session, self.config, msg.at))
        self._raise_priority(case, msg)
        was_waiting = case.waiting_since is not None
        effects = loop.on_customer_message(
            self.session,
            case,
            msg.cls,
            text=msg.text,
            public=msg.public,
            at=msg.at,
            policy=self.policy_for(case),
            config=self.config,
            promises=self.promises,
        )
        if is_chasing(msg.text) and any(
            fu.kind != PromiseKind.contact_request.value for fu in self.promises.of(case)
        ):
            case_ops.add_event(
                self.session,
                case,
                "chased",
                actor="customer",
                at=msg.at,
                note="the customer is chasing a promise: " + msg.text[:200],
            )
            effects.escalations.append((case, "chasing"))
        status = CaseStatus(case.status)
        if (
            not effects.transitions
            and not effects.csat
            and not was_waiting
            and case.first_response_at is not None
            and status in (S.ACKNOWLEDGED, S.CONTACTED, S.INVESTIGATING, S.SOLUTION_PROPOSED)
            and is_gratitude(msg.text, msg.cls)
        ):
            case_ops.add_event(
                self.session,
                case,
                "satisfaction",
                actor="customer",
                at=msg.at,
                to_value="thanked",
                note=msg.text[:200],
            )
            if self.config.on_thanks == "resolve":
                self._transition(case, S.RESOLVED, "customer", msg.at, "the customer thanked")
            elif status is not S.SOLUTION_PROPOSED:
                self._transition(
                    case,
                    S.SOLUTION_PROPOSED,
                    "customer",
                    msg.at,
                    "the customer thanked: confirm it is solved",
                )
        self._record(case, effects.settle(self.session, self.config, msg.at))

    def _raise_priority(self, case: Case, msg: Message) -> None:
        """A graver message raises the case's priority and re-applies the SLA policy."""
        if msg.priority is None or msg.priority.rank <= Priority(case.priority).rank:
            return
        old = case.priority
        case.priority = msg.priority.value
        flags = ", ".join(msg.cls.urgency) if msg.cls and msg.cls.urgency else "its content"
        case_ops.add_event(
            self.session,
            case,
            "priority",
            actor="system",
            at=msg.at,
            from_value=old,
            to_value=case.priority,
            note=f"raised by a later message ({flags})",
        )
        policy = self.policy_for(case)
        if case.waiting_since is None:
            case_ops.apply_sla(case, policy)
        else:  # the resolution clock is paused: only the first-response deadline moves
            case.sla_policy = policy.name if policy else None
            case.first_response_due = sla.deadlines(policy, case.opened_at).first_response
            case.next_due = sla.next_due(case)


# -- replay --------------------------------------------------------------------------------


def _told_key(event: Event) -> tuple[str, str | None] | None:
    """What makes an event the same as an earlier one of a replayed case, if it can be."""
    if isinstance(event, CaseTransitioned):
        return "transitioned", f"{event.old_status}>{event.new_status}"
    if isinstance(event, CsatReceived):
        return "csat", str(event.score)
    return None


def replayable(session: Session, case_ids: Iterable[int]) -> set[int]:
    """Of ``case_ids``, the cases whose events all come from messages (no agent acted)."""
    ids = sorted(set(case_ids))
    acted: set[int] = set()
    for part in chunks(ids):
        acted.update(
            session.scalars(
                sa.select(CaseEvent.case_id)
                .where(
                    CaseEvent.case_id.in_(part),
                    sa.not_(
                        sa.or_(
                            CaseEvent.actor == "customer",
                            CaseEvent.actor.contains(":"),
                            sa.and_(
                                CaseEvent.actor == "system",
                                CaseEvent.action.in_(("opened", "assign", "priority")),
                            ),
                        )
                    ),
                )
                .distinct()
            )
        )
    return set(ids) - acted


#: The columns :func:`message_of_row` reads, with the row's place (id, case, customer).
MESSAGE_COLUMNS = (
    Interaction.id,
    Interaction.channel,
    Interaction.external_id,
    Interaction.direction,
    Interaction.public,
    Interaction.text,
    Interaction.subject,
    Interaction.created_at,
    Interaction.labels,
    Interaction.case_id,
    Interaction.customer_id,
    Interaction.in_reply_to,
)


def stored_messages(session: Session, case_ids: Iterable[int]) -> dict[int, list[Message]]:
    """The messages already stored on each case, as the loop sees them."""
    out: dict[int, list[Message]] = {}
    for part in chunks(sorted(set(case_ids))):
        for row in session.execute(
            sa.select(*MESSAGE_COLUMNS).where(Interaction.case_id.in_(part))
        ):
            out.setdefault(row.case_id, []).append(message_of_row(row))
    return out


def message_of_row(row: Any) -> Message:
    direction = Direction(row.direction)
    labels = dict(row.labels or {})
    route = labels.get("route") or {}
    cls = None
    if direction is Direction.INBOUND:
        known = {k: v for k, v in labels.items() if k in Classification.model_fields}
        try:
            cls = Classification.model_validate(known)
        except ValueError:
            cls = Classification()
    return Message(
        channel=row.channel,
        external_id=row.external_id,
        direction=direction,
        public=row.public,
        text=row.text,
        subject=row.subject,
        at=row.created_at,
        actor=f"{row.channel}:brand" if direction is Direction.OUTBOUND else "customer",
        cls=cls,
        noise=labels.get("noise"),
        priority=Priority(route["priority"]) if route.get("priority") else None,
        department=route.get("department"),
    )


def reset(
    session: Session,
    case: Case,
    messages: list[Message],
    department_id: Callable[[str], int],
) -> None:
    """Put a case back to how its first message opened it, before anything moved it.

    The caller re-applies the SLA policy, then replays ``messages`` (oldest first).  What the
    case is (kind, category, language, department, priority) is what its first customer
    message is; the replay raises the priority again where a graver message came.
    """
    session.execute(
        sa.delete(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.action != "assign")
    )
    session.execute(sa.delete(FollowUp).where(FollowUp.case_id == case.id))
    first = _first_customer(messages) or messages[0]
    if first.cls is not None:
        kind = first.cls.kind if first.cls.kind not in (Kind.OTHER, Kind.SPAM) else Kind.QUESTION
        case.kind, case.category = kind.value, first.cls.category
        case.language = first.cls.language
    if first.department is not None:
        case.department_id = department_id(first.department)
    if first.priority is not None:
        case.priority = first.priority.value
    case.status = S.NEW.value
    case.channel = first.channel
    case.opened_at = first.at
    case.subject = (first.subject or first.text)[:255]
    case.last_activity_at = first.at
    case.first_response_at = None
    case.resolved_at = None
    case.closed_at = None
    case.waiting_since = None
    case.paused_remaining = None
    case.follow_up_due = None
    case.csat_requested_at = None
    case.csat_score = None
    case.csat_at = None
    case.reopen_count = 0


def repair_times(case: Case, messages: list[Message]) -> None:
    """Make a case's times agree with its messages, whatever order they arrived in.

    For a case an agent acted on, which is not replayed, and after an agent moved messages
    between cases: it opened at its earliest customer message, and its first response is
    the earliest brand message after that.
    """
    first = _first_customer(messages)
    if first is not None and first.at != case.opened_at:
        case.opened_at = first.at
        case.subject = (first.subject or first.text)[:255]
    answers = [
        m.at for m in messages if m.direction is Direction.OUTBOUND and m.at >= case.opened_at
    ]
    if answers:
        case.first_response_at = min(answers)
    elif case.first_response_at is not None and case.first_response_at < case.opened_at:
        case.first_response_at = None
    case.last_activity_at = max([case.last_activity_at, *(m.at for m in messages)])
    case.next_due = sla.next_due(case)


def _first_customer(messages: list[Message]) -> Message | None:
    return min((m for m in messages if m.from_customer), key=lambda m: m.order, default=None)
