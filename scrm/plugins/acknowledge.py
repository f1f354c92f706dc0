"""Built-in plugin: acknowledge every new case publicly, at once (``[cases] auto_acknowledge``).

A consumer of :class:`~scrm.plugin.CaseOpened`: in the dispatch's transaction it queues
the playbook's ``acknowledge`` template on the case (actor ``auto-ack``, idempotency key
``ack:<case>``) and moves the case from ``new`` to ``acknowledged``.  The dispatch records
that the event was handled in the same transaction, so a case is acknowledged once, also
when the process that opened it died before the dispatch and the worker hands it over.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from scrm.plugin import CaseInfo, CaseStatus, hookimpl

if TYPE_CHECKING:
    from scrm.plugin import EventContext

__all__ = ["case_opened"]

log = logging.getLogger(__name__)


@hookimpl
def case_opened(case: CaseInfo, ctx: EventContext) -> None:
    """Queue the acknowledgment of a new case when the application asks for it."""
    from scrm.plugin.db import AnswerElsewhere, Case, queue_reply, transition_case, utcnow

    if not ctx.app.config.cases.auto_acknowledge or case.id is None:
        return
    s = ctx.session
    row = s.get(Case, case.id)
    if row is None:
        return
    try:
        _, new = queue_reply(
            s,
            row,
            playbooks=ctx.app.playbooks_of(case.brand),
            now=utcnow(),
            actor="auto-ack",
            template="acknowledge",
            idempotency_key=f"ack:{row.id}",
        )
    except AnswerElsewhere:
        return  # a blog post or a news page: answered there, by a person
    except ValueError as exc:
        log.warning("no auto-acknowledgment for case %s: %s", row.id, exc)
        return
    if new and row.status == CaseStatus.NEW:
        change = transition_case(
            s,
            row,
            CaseStatus.ACKNOWLEDGED,
            actor="auto-ack",
            note="acknowledgment queued automatically",
        )
        ctx.emit(change.event())
