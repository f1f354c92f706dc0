"""Delivering the outbox: one reply at a time, each settled as soon as its channel answers.

A round (``scrm outbox deliver``, the worker's ``outbox`` task) first finishes what a killed
round left (replies accepted but not yet recorded on their cases, replies whose lease ran
out while ``sending``), then takes due replies one by one:

1. *claim* one row (a short transaction; ``FOR UPDATE SKIP LOCKED`` on PostgreSQL);
2. *send* it through its channel, from the brand's account the customer wrote to when the
   case's brand owns it, else from the brand's account on the channel
   (:meth:`~scrm.core.brands.BrandDirectory.sender`);
3. *accept* it at once, in its own short transaction: the row becomes ``accepted`` with the
   channel's id, the delivery time and the account it left from, and a ``reply_delivered``
   event goes on its case's timeline.  This transaction touches neither the case row nor
   anything a sweep locks, so it never waits;
4. *record* it: accepted replies are ingested as the brand's outbound messages on their cases
   (first response, promises, the loop) in small batches (:data:`RECORD_BATCH` replies or
   :data:`RECORD_EVERY` seconds, whichever comes first, and at the end of the round), then
   marked ``sent``.  Ingest stores a message once, so recording again after a crash stores
   nothing twice.

A failure settles the row at once too: back to ``pending`` after a backoff, or ``failed``
with its reason (on the row and on the case's timeline).  A worker killed at any point
therefore leaves at most the one reply it was sending to reconcile; the ones it accepted are
recorded by the next round without asking anyone, and the ones it never claimed are still
``pending``.  See :mod:`scrm.core.outbox` for the rows and reconciliation.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from scrm.core import cases as case_ops
from scrm.core import outbox
from scrm.core.channel import Channel, PermanentSendError, TransientSendError
from scrm.core.db import utcnow
from scrm.core.dispatch import transaction
from scrm.core.events import ReplyDelivered
from scrm.core.models import Case, OutboxMessage
from scrm.core.schemas import Author, Direction, InboundInteraction, OutboundMessage, SendResult

if TYPE_CHECKING:
    from scrm.core.app import Scrm

__all__ = ["RECORD_BATCH", "RECORD_EVERY", "Delivery", "DeliveryReport"]

#: Accepted replies recorded on their cases in one ingest batch at most.
RECORD_BATCH = 20
#: Seconds an accepted reply waits at most for its batch to fill before it is recorded.
RECORD_EVERY = 2.0

_CANNOT_TELL = (
    "delivery was interrupted and the channel cannot tell whether it went out; "
    "check on the channel, then `scrm outbox retry` it if it did not"
)


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    reconciled: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Accepted:
    """A reply its channel accepted, with what recording it on its case needs."""

    row_id: int
    message: OutboundMessage
    result: SendResult
    actor: str
    delivered_at: datetime
    raw: dict[str, Any]

    @classmethod
    def of(cls, row: OutboxMessage) -> _Accepted:
        assert row.external_id is not None and row.sent_at is not None
        return cls(
            row.id,
            outbox.to_message(row),
            SendResult(external_id=row.external_id),
            row.actor,
            row.sent_at,
            {
                "outbox_id": row.id,
                "template": row.template,
                "playbook_version": row.playbook_version,
            },
        )


class Delivery:
    """Delivery rounds on one application (what ``Workflow.deliver`` runs)."""

    def __init__(self, app: Scrm) -> None:
        self.app = app

    def run(self, now: datetime | None = None, limit: int = 100) -> DeliveryReport:
        """Deliver up to ``limit`` due replies, one at a time."""
        now = now or utcnow()
        report = DeliveryReport()
        with self.app.session() as s:
            left = [_Accepted.of(r) for r in outbox.unrecorded(s, now=now)]
        self._record(left)  # a killed round accepted these and did not record them
        with self.app.session() as s:
            interrupted = [r.id for r in outbox.expired(s, now=now)]
        waiting: list[_Accepted] = []
        since = time.monotonic()
        for row_id in interrupted:
            found = self._reconcile(row_id, now, report)
            if found is not None:
                waiting.append(found)
        for _ in range(limit):
            with self.app.session() as s:
                claimed = outbox.claim(s, now=now, limit=1)
                if not claimed:
                    break
                row_id, message = claimed[0].id, outbox.to_message(claimed[0])
                brand = claimed[0].brand_id
            accepted = self._send(row_id, message, brand, now, report)
            if accepted is None:
                continue
            if not waiting:
                since = time.monotonic()
            waiting.append(accepted)
            if len(waiting) >= RECORD_BATCH or time.monotonic() - since >= RECORD_EVERY:
                self._record(waiting)
                waiting = []
        self._record(waiting)
        return report

    # -- settling one row ------------------------------------------------------------------

    def _settle(self, row_id: int, settle: Callable[[Session, OutboxMessage], Any]) -> Any:
        """Apply ``settle`` to outbox row ``row_id`` in its own transaction; return its result."""
        with self.app.session() as s:
            row = s.get(OutboxMessage, row_id)
            assert row is not None
            return settle(s, row)

    def _sender(self, message: OutboundMessage, brand: int) -> tuple[Channel, OutboundMessage]:
        """The account of ``message``'s channel to send from (the one the customer wrote to,
        when its case's brand owns it, else the brand's), and the message naming it
        (:meth:`~scrm.core.brands.BrandDirectory.sender`)."""
        channel, account = self.app.brands.sender(
            self.app.channel(message.channel), brand, message.account
        )
        return channel, message.model_copy(update={"account": account})

    def _send(
        self,
        row_id: int,
        message: OutboundMessage,
        brand: int,
        now: datetime,
        report: DeliveryReport,
    ) -> _Accepted | None:
        """Send one claimed reply from its brand's account and settle it: accepted, retrying
        or failed."""
        try:
            channel, message = self._sender(message, brand)
            result = channel.send(message)
        except TransientSendError as exc:
            error, retry_after = str(exc), exc.retry_after

            def retry(s: Session, row: OutboxMessage) -> str:
                outbox.settle_retry(s, row, error, now, retry_after)
                return row.status

            if self._settle(row_id, retry) == "failed":
                report.failed += 1
                report.errors.append(f"outbox {row_id}: gave up: {error}")
            else:
                report.retried += 1
                report.errors.append(f"outbox {row_id}: will retry: {error}")
            return None
        except Exception as exc:
            reason = (
                str(exc) if isinstance(exc, PermanentSendError) else f"{type(exc).__name__}: {exc}"
            )
            self._fail(row_id, reason, now, report)
            return None
        report.sent += 1
        return self._accept(row_id, result, utcnow(), message.account)

    def _accept(
        self, row_id: int, result: SendResult, at: datetime, account: str | None
    ) -> _Accepted:
        """Record the channel's acceptance (of a reply sent from ``account``) on the row and on
        the case's timeline, at once."""

        def accept(s: Session, row: OutboxMessage) -> _Accepted:
            outbox.settle_accepted(row, result.external_id, at, account)
            case = s.get(Case, row.case_id) if row.case_id is not None else None
            if case is not None:
                case_ops.add_event(
                    s,
                    case,
                    "reply_delivered",
                    actor=row.actor,
                    at=at,
                    to_value=row.channel,
                    note=result.external_id,
                    data={"outbox_id": row.id, "external_id": result.external_id},
                )
            return _Accepted.of(row)

        accepted: _Accepted = self._settle(row_id, accept)
        return accepted

    def _fail(self, row_id: int, reason: str, now: datetime, report: DeliveryReport) -> None:
        self._settle(row_id, lambda s, row: outbox.settle_failed(s, row, reason, now))
        report.failed += 1
        report.errors.append(f"outbox {row_id}: {reason}")

    def _reconcile(self, row_id: int, now: datetime, report: DeliveryReport) -> _Accepted | None:
        """Settle a row whose delivery was interrupted, asking the channel whether it went out."""
        with self.app.session() as s:
            row = s.get(OutboxMessage, row_id)
            assert row is not None
            if row.status != "sending" or row.lease_until is None or row.lease_until >= now:
                return None  # another worker settled it meanwhile
            row.lease_until = now + outbox.LEASE  # ours while we ask
            message, brand = outbox.to_message(row), row.brand_id
        try:
            channel, message = self._sender(message, brand)
            result = channel.reconcile(message)
        except NotImplementedError:
            self._fail(row_id, _CANNOT_TELL, now, report)
            return None
        except Exception as exc:
            reason = f"delivery was interrupted and checking it failed: {type(exc).__name__}: {exc}"
            self._fail(row_id, reason, now, report)
            return None
        if result is None:

            def requeue(_s: Session, row: OutboxMessage) -> None:
                row.status, row.next_attempt_at, row.lease_until = "pending", now, None

            self._settle(row_id, requeue)
            return None
        report.reconciled += 1
        return self._accept(row_id, result, now, message.account)

    # -- recording on the cases ------------------------------------------------------------

    def _record(self, accepted: list[_Accepted]) -> None:
        """Store accepted replies as the brand's messages on their cases, then mark them sent."""
        if not accepted:
            return
        self.app.ingest(
            [
                InboundInteraction(
                    channel=a.message.channel,
                    external_id=a.result.external_id,
                    text=a.message.text,
                    created_at=a.delivered_at,
                    author=Author(external_id=f"brand:{a.message.channel}", handle=a.actor),
                    direction=Direction.OUTBOUND,
                    public=a.message.public,
                    thread_key=a.message.thread_key,
                    in_reply_to=a.message.in_reply_to,
                    subject=a.message.subject,
                    recipient=Author(external_id=a.message.to) if a.message.to else None,
                    case_id=a.message.case_id,
                    account=a.message.account,
                    raw=a.raw,
                )
                for a in accepted
            ],
            source="outbox",
        )
        with transaction(self.app) as (s, events):
            for a in accepted:
                row = s.get(OutboxMessage, a.row_id)
                assert row is not None
                if row.status == "accepted":  # once per reply, whoever records it
                    outbox.settle_sent(row)
                    events.append(
                        ReplyDelivered(
                            case_id=a.message.case_id, message=a.message, result=a.result
                        )
                    )
