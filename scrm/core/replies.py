"""What a reply on a case says and whom it answers: playbook templates and the outbox row.

A reply goes to the customer's latest message on the case (same channel and thread, public
when that message was public, from the brand's account that message arrived at), filled from
the case's playbook or given as free text, and is queued in the outbox
(:mod:`scrm.core.outbox`) in the caller's transaction.  The replies service
(:mod:`scrm.core.services.outbox`) and the auto-acknowledgment plugin call these; functions
here take a session and never commit.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from scrm.core import outbox
from scrm.core.customers import family_ids, root_ids
from scrm.core.errors import N_, InvalidInput, Refused
from scrm.core.models import Agent, Case, Identity, Interaction, OutboxMessage
from scrm.core.playbooks import PlaybookError, PlaybookSet
from scrm.core.schemas import CaseStatus, Direction

__all__ = [
    "TEMPLATE_STATUS",
    "AnswerElsewhere",
    "last_customer_message",
    "queue_reply",
    "render_template",
]

#: Sending a template moves the case along the loop when that move is allowed.
TEMPLATE_STATUS = {
    "acknowledge": CaseStatus.ACKNOWLEDGED,
    "contact": CaseStatus.CONTACTED,
    "investigating": CaseStatus.INVESTIGATING,
    "solution": CaseStatus.SOLUTION_PROPOSED,
    "resolved": CaseStatus.RESOLVED,
}


class AnswerElsewhere(Refused):
    """The message to answer was published where scrm cannot post (a blog post, a news page).

    :param url: where the agent answers instead; ``scrm case answered`` records it.
    """

    def __init__(self, case_id: int, channel: str, url: str) -> None:
        super().__init__(
            N_(
                "case %(id)s came from a %(channel)s item that scrm cannot answer: reply on the "
                "page itself, %(url)s, then record it with `scrm case answered %(id)s --text ...`"
            ),
            id=case_id,
            channel=channel,
            url=url,
        )
        self.case_id, self.channel, self.url = case_id, channel, url


def last_customer_message(
    session: Session, case: Case, channel: str | None = None
) -> Interaction | None:
    """The latest message on ``case`` (on ``channel`` only, when given) of its customer (or
    of a customer merged with them).

    A case can hold another person's message too (a reply under the customer's comment);
    a reply must still go to the customer it greets.  Anyone's latest is the fallback.
    """
    latest = (
        sa.select(Interaction)
        .where(Interaction.case_id == case.id, Interaction.direction == Direction.INBOUND.value)
        .order_by(Interaction.created_at.desc(), Interaction.id.desc())
    )
    if channel is not None:
        latest = latest.where(Interaction.channel == channel)
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
        raise PlaybookError(
            N_("no playbook for category %(category)r and no 'other' playbook"),
            category=case.category,
        )
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
    that message was public unless ``public`` says otherwise.  It names the brand's account
    the customer's latest message on the reply's channel arrived at: delivery sends from it
    when the case's brand owns it (:meth:`~scrm.core.brands.BrandDirectory.sender`).

    :returns: the outbox row and whether it is new (False: ``idempotency_key`` was used).
    :raises PlaybookError: for an unknown template.
    :raises AnswerElsewhere: when that message can only be answered where it was published.
    :raises Refused: when the case has no customer message to answer.
    """
    last = last_customer_message(session, case)
    if last is None:
        raise Refused(N_("case %(id)s has no customer message to answer"), id=case.id)
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
        raise InvalidInput(N_("a reply needs --text or --template"))
    on = channel or last.channel
    arrival = last if on == last.channel else last_customer_message(session, case, on)
    key = idempotency_key or f"reply:{case.id}:{uuid.uuid4().hex}"
    meta: dict[str, Any] = {"last_inbound_at": last.created_at.isoformat()}
    if last.subject:
        meta["subject"] = last.subject
    return outbox.enqueue(
        session,
        idempotency_key=key,
        now=now,
        case_id=case.id,
        channel=on,
        account=arrival.account if arrival is not None else None,
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
