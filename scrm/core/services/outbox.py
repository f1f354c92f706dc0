"""Replies: queueing one on a case or on every case of an incident, previewing the templates,
recording an answer given outside scrm, delivering the outbox and retrying a failed reply.

A reply is written to the outbox (:mod:`scrm.core.outbox`) in the transaction of the change
that asks for it and sent later, one at a time, by :mod:`scrm.core.delivery`; what it says
and whom it answers is :mod:`scrm.core.replies`.  A template reply moves its case along the
loop (:data:`scrm.core.replies.TEMPLATE_STATUS`) through the cases service.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Session

from scrm.core import audit
from scrm.core import cases as case_ops
from scrm.core.cases import lock_case
from scrm.core.db import utcnow
from scrm.core.delivery import Delivery, DeliveryReport
from scrm.core.dispatch import transaction
from scrm.core.errors import N_, InvalidInput, NotFound, Refused, ScrmError
from scrm.core.events import Event
from scrm.core.models import Case, Identity, Incident, OutboxMessage
from scrm.core.replies import (
    TEMPLATE_STATUS,
    AnswerElsewhere,
    last_customer_message,
    queue_reply,
    render_template,
)
from scrm.core.schemas import Author, Direction, InboundInteraction
from scrm.core.services.cases import audit_case, transition_in

if TYPE_CHECKING:
    from scrm.core.app import Scrm
    from scrm.core.pipeline import IngestReport

__all__ = [
    "AnswerNotRecorded",
    "DeliveryReport",
    "ReplyPreviews",
    "deliver",
    "previews",
    "record_answer",
    "reply",
    "reply_incident",
    "retry",
]

log = logging.getLogger(__name__)


class AnswerNotRecorded(Refused):
    """An answer given outside scrm could not be stored (ingest rejected it, with its reason)."""

    code = "rejected"


@dataclass(frozen=True)
class ReplyPreviews:
    """What a reply on a case would say with each playbook template, and where it would go."""

    channel: str | None
    """The channel of the customer's latest message (None: no message to answer)."""
    public: bool | None
    """Whether that message was public: the default of a reply."""
    texts: dict[str, str]
    """Template name to its filled text."""
    account: str | None = None
    """The brand's account a reply would leave from (None: the channel has no accounts of its
    own, or none can send: see ``refusal``)."""
    refusal: str | None = None
    """Why a reply could not leave now (the brand owns no account there, or the customer
    wrote to another brand's): what delivery would fail with."""


def _one_of(text: str | None, template: str | None) -> None:
    if (text is None) == (template is None):
        raise InvalidInput(N_("choose a template or write a text"))


def reply(
    app: Scrm,
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
    """Queue a reply (a playbook template or a text) through the outbox; a template moves the
    case along the loop.

    :param public: None: as the customer's latest message.
    :param idempotency_key: queue the reply at most once under this key.
    :returns: the outbox row (the one queued before under ``idempotency_key``, if any).
    :raises InvalidInput: unless exactly one of ``text`` and ``template`` is given.
    :raises PlaybookError: for an unknown template.
    :raises AnswerElsewhere: when the message can only be answered where it was published.
    :raises NotFound: when there is no such case.
    :raises Conflict: when ``expected_version`` is stale.
    """
    _one_of(text, template)
    now = now or utcnow()
    with transaction(app) as (s, events):
        case = lock_case(s, case_id, expected_version)
        row = _reply(
            app,
            s,
            events,
            case,
            actor=actor,
            text=text,
            template=template,
            public=public,
            idempotency_key=idempotency_key,
            now=now,
        )
        audit_case(s, actor, "case.reply", case.id, {"outbox_id": row.id, "template": template})
        return row


def _reply(
    app: Scrm,
    s: Session,
    events: list[Event],
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
        playbooks=app.playbooks_of(case_ops.brand_key(case)),
        now=now,
        actor=actor,
        text=text,
        template=template,
        public=public,
        idempotency_key=idempotency_key,
    )
    target = TEMPLATE_STATUS.get(template or "")
    if new and target is not None and target in case_ops.allowed_from(case.status):
        note = f"replied with template {template}"
        transition_in(app, s, events, case, target, actor=actor, note=note, now=now)
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


def reply_incident(
    app: Scrm,
    incident: str,
    *,
    actor: str,
    text: str | None = None,
    template: str | None = None,
    public: bool | None = None,
) -> list[OutboxMessage]:
    """Send one answer to every open case of an incident (one reply per case, queued once).

    A case whose message can only be answered where it was published is left out (logged).

    :raises InvalidInput: unless exactly one of ``text`` and ``template`` is given.
    :raises NotFound: when there is no such incident.
    """
    _one_of(text, template)
    now = utcnow()
    digest = hashlib.sha256((template or text or "").encode()).hexdigest()[:16]
    with transaction(app) as (s, events):
        inc = s.scalar(sa.select(Incident).where(Incident.name == incident))
        if inc is None:
            raise NotFound(N_("no incident %(name)r"), name=incident)
        rows = []
        for case in s.scalars(
            sa.select(Case).where(
                Case.incident_id == inc.id, Case.status.in_(case_ops.OPEN_STATUSES)
            )
        ):
            key = f"incident:{inc.id}:{digest}:{case.id}"
            try:
                rows.append(
                    _reply(
                        app,
                        s,
                        events,
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


def previews(app: Scrm, case_id: int, *, actor: str) -> ReplyPreviews:
    """Every template of the case's playbook filled as a reply sent now would be.

    The texts are those :func:`reply` would queue with ``template`` and the default
    ``public`` (as the customer's latest message), in the case's language.

    :raises NotFound: when there is no such case.
    """
    with app.session(read_only=True) as s:
        case = s.get(Case, case_id)
        if case is None:
            raise NotFound(N_("no case %(id)s"), id=case_id)
        last = last_customer_message(s, case)
        playbooks = app.playbooks_of(case_ops.brand_key(case))
        book = playbooks.for_category(case.category)
        if last is None or book is None:
            return ReplyPreviews(channel=None, public=None, texts={})
        texts = {}
        for name in book.templates:
            texts[name], _ = render_template(
                s, case, last, playbooks=playbooks, template=name, actor=actor
            )
        account, refusal = _sender(app, last.channel, case.brand_id, last.account)
        return ReplyPreviews(last.channel, last.public, texts, account, refusal)


def _sender(
    app: Scrm, channel: str, brand: int, account: str | None
) -> tuple[str | None, str | None]:
    """The account a reply on ``channel`` would leave from, as delivery chooses it
    (:meth:`~scrm.core.brands.BrandDirectory.sender`), and why it could not (None: it can)."""
    from scrm.core.channel import PermanentSendError

    try:
        _, sender = app.brands.sender(app.channel(channel), brand, account)
    except PermanentSendError as exc:
        return None, str(exc)
    except ScrmError:  # a channel no plugin provides any more: nothing to say
        return None, None
    return sender, None


def record_answer(
    app: Scrm,
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
    case twice stores it once (the report counts it as a duplicate).

    :param url: where the answer was given; by default the message's ``answer_url``.
    :raises NotFound: when there is no such case.
    :raises Refused: when the case has no customer message to answer.
    :raises InvalidInput: when ``text`` is blank.
    :raises AnswerNotRecorded: when ingest rejects the answer (the message says why).
    """
    if not text.strip():
        raise InvalidInput(N_("say what was answered: the text of the answer given there"))
    at = at or utcnow()
    with app.session(read_only=True) as s:
        case = lock_case(s, case_id)
        last = last_customer_message(s, case)
        if last is None:
            raise Refused(N_("case %(id)s has no customer message to answer"), id=case_id)
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
    report = app.ingest([it], source=f"answered:{actor}")
    if report.rejected:
        raise AnswerNotRecorded(
            N_("the answer was not recorded: %(reason)s"), reason=report.rejects[0].reason
        )
    return report


def deliver(app: Scrm, now: datetime | None = None, limit: int = 100) -> DeliveryReport:
    """Deliver up to ``limit`` due replies, one at a time; see :mod:`scrm.core.delivery`."""
    return Delivery(app).run(now=now, limit=limit)


def retry(app: Scrm, outbox_id: int, *, actor: str) -> None:
    """Put a failed reply back in the queue (noted on its case's timeline).

    :raises NotFound: when there is no such outbox message.
    :raises Refused: when it has not failed.
    """
    now = utcnow()
    with transaction(app) as (s, _events):
        row = s.get(OutboxMessage, outbox_id)
        if row is None:
            raise NotFound(N_("no outbox message %(id)s"), id=outbox_id)
        if row.status != "failed":
            raise Refused(
                N_("outbox message %(id)s is %(status)s, not failed"),
                id=outbox_id,
                status=row.status,
            )
        row.status, row.next_attempt_at, row.attempts, row.last_error = "pending", now, 0, None
        case = s.get(Case, row.case_id) if row.case_id is not None else None
        if case is not None:
            case_ops.add_event(
                s,
                case,
                "reply_requeued",
                actor=actor,
                at=now,
                to_value=row.channel,
                data={"outbox_id": row.id},
            )
        audit.record(
            s,
            actor=actor,
            action="outbox.retry",
            target_type="outbox_message",
            target_id=row.id,
            details={"case": row.case_id, "channel": row.channel},
        )
