"""Retention: personal data is kept for as long as ``[retention]`` says, then goes.

:func:`apply_retention` runs every class whose period is set, in the caller's transaction;
``scrm retention apply`` (and a worker loop) call it.  A dry run counts what would go.
Rows that metrics count stay; only content is removed:

==================  =============================================================================
class               what goes after the period
==================  =============================================================================
raw_payloads        ``interactions.raw`` (the native payload), counted from when it was received
closed_cases        the content of cases closed that long ago, as erasure removes it: message
                    texts, subjects, payloads, attachments and labels; case subjects; event
                    notes; promise evidence; reply bodies; label corrections of the messages
rejects             reject rows, counted from when they were last touched
outbox_bodies       the text, subject, metadata and recipient of replies sent that long ago
webhook_payloads    payloads of outgoing webhook deliveries sent that long ago
inbox_bodies        bodies of incoming webhook deliveries processed that long ago (their hash
                    stays, so a late redelivery is still recognised); 30 days by default
==================  =============================================================================
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from scrm.core import audit
from scrm.core.config import RetentionConfig
from scrm.core.db import utcnow
from scrm.core.models import (
    Case,
    CaseEvent,
    FollowUp,
    InboxPayload,
    Interaction,
    LabelCorrection,
    OutboxMessage,
    Reject,
    WebhookDelivery,
)
from scrm.core.privacy import EXPIRED
from scrm.core.redaction import ERASED

__all__ = ["RetentionReport", "apply_retention", "content_scrub", "run_statements"]

Statement = tuple[str, Any, Any, dict[str, Any] | None]
"""(report key, model, where, values); values ``None`` deletes the rows."""


def content_scrub(cases: Any, tombstone: str) -> list[Statement]:
    """The statements that remove the content of the cases selected by ``cases``.

    :param cases: a ``SELECT cases.id ...`` subquery (or a list of ids).
    :param tombstone: the text that replaces message and reply bodies.
    :returns: ``(report key, model, where, values)``; ``values`` ``None`` means delete.
        Each ``where`` selects only rows that still have content, so counting it tells
        what would change.
    """
    on_cases = Interaction.case_id.in_(cases)
    return [
        (
            "label_corrections",
            LabelCorrection,
            LabelCorrection.interaction_id.in_(sa.select(Interaction.id).where(on_cases)),
            None,
        ),
        (
            "interactions",
            Interaction,
            sa.and_(on_cases, Interaction.text.not_in([ERASED, EXPIRED])),
            {
                "text": tombstone,
                "subject": None,
                "raw": sa.null(),
                "attachments": [],
                "labels": {},
                "urgency": [],
            },
        ),
        ("cases", Case, sa.and_(Case.id.in_(cases), Case.subject.is_not(None)), {"subject": None}),
        (
            "case_events",
            CaseEvent,
            sa.and_(CaseEvent.case_id.in_(cases), CaseEvent.note.is_not(None)),
            {"note": None},
        ),
        (
            "follow_ups",
            FollowUp,
            sa.and_(FollowUp.case_id.in_(cases), FollowUp.evidence.is_not(None)),
            {"evidence": None},
        ),
        (
            "outbox",
            OutboxMessage,
            sa.and_(OutboxMessage.case_id.in_(cases), OutboxMessage.text.not_in([ERASED, EXPIRED])),
            {"text": tombstone, "subject": None, "meta": {}, "recipient": None},
        ),
    ]


def run_statements(
    session: Session,
    statements: Iterable[Statement],
    *,
    dry_run: bool = False,
) -> dict[str, int]:
    """Count (``dry_run``) or apply statements from :func:`content_scrub`; return counts."""
    counts: dict[str, int] = {}
    for key, model, where, values in statements:
        if dry_run:
            n = session.scalar(sa.select(sa.func.count()).select_from(model).where(where)) or 0
        elif values is None:
            n = session.execute(sa.delete(model).where(where)).rowcount  # type: ignore[attr-defined]
        else:
            n = session.execute(
                sa.update(model)
                .where(where)
                .values(**values)
                .execution_options(synchronize_session=False)
            ).rowcount  # type: ignore[attr-defined]
        counts[key] = counts.get(key, 0) + int(n or 0)
    return counts


@dataclass
class RetentionReport:
    """Rows changed (or, in a dry run, that would change) per data class and table."""

    dry_run: bool
    now: datetime
    classes: dict[str, dict[str, int]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "now": self.now.isoformat(), "classes": self.classes}


def _plan(config: RetentionConfig, now: datetime) -> dict[str, list[Statement]]:
    def cutoff(days: int) -> datetime:
        return now - timedelta(days=days)

    plan: dict[str, list[Statement]] = {}
    if config.raw_payloads is not None:
        plan["raw_payloads"] = [
            (
                "interactions",
                Interaction,
                sa.and_(
                    Interaction.raw.is_not(None),
                    # The pipeline stores a missing payload as JSON null, not SQL NULL.
                    sa.cast(Interaction.raw, sa.Text) != "null",
                    Interaction.received_at < cutoff(config.raw_payloads),
                ),
                {"raw": sa.null()},
            )
        ]
    if config.closed_cases is not None:
        closed = sa.select(Case.id).where(
            Case.status == "closed", Case.closed_at < cutoff(config.closed_cases)
        )
        plan["closed_cases"] = content_scrub(closed, EXPIRED)
    if config.rejects is not None:
        plan["rejects"] = [("rejects", Reject, Reject.updated_at < cutoff(config.rejects), None)]
    if config.outbox_bodies is not None:
        plan["outbox_bodies"] = [
            (
                "outbox",
                OutboxMessage,
                sa.and_(
                    OutboxMessage.status == "sent",
                    OutboxMessage.sent_at < cutoff(config.outbox_bodies),
                    OutboxMessage.text.not_in([ERASED, EXPIRED]),
                ),
                {"text": EXPIRED, "subject": None, "meta": {}, "recipient": None},
            )
        ]
    if config.webhook_payloads is not None:
        plan["webhook_payloads"] = [
            (
                "webhook_deliveries",
                WebhookDelivery,
                sa.and_(
                    WebhookDelivery.delivered_at < cutoff(config.webhook_payloads),
                    sa.cast(WebhookDelivery.payload, sa.Text) != "{}",
                ),
                {"payload": {}},
            )
        ]
    if config.inbox_bodies is not None:
        plan["inbox_bodies"] = [
            (
                "inbox",
                InboxPayload,
                sa.and_(
                    InboxPayload.status == "processed",
                    InboxPayload.processed_at < cutoff(config.inbox_bodies),
                    InboxPayload.body != "",
                ),
                {"body": ""},
            )
        ]
    return plan


def apply_retention(
    session: Session,
    config: RetentionConfig,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    actor: str | None = None,
) -> RetentionReport:
    """Remove (or, with ``dry_run``, count) what has outlived its retention period.

    Runs in the caller's transaction; safe to run as often as wanted (what is gone is not
    counted again).  Classes whose period is unset are not in the report.

    :param actor: the person who asked (``scrm retention apply``): the run gets an audit
        entry with its counts.  ``None`` for the worker's scheduled runs, which would fill
        the audit log with one entry per round.
    """
    now = now or utcnow()
    report = RetentionReport(dry_run=dry_run, now=now)
    for name, statements in _plan(config, now).items():
        report.classes[name] = run_statements(session, statements, dry_run=dry_run)
    if actor is not None and not dry_run:
        audit.record(session, actor=actor, action="retention.apply", details=report.as_dict())
    return report
