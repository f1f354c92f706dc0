"""The webhook inbox: a verified delivery is stored before it is acknowledged.

``POST /webhooks/<channel>`` verifies the platform's signature over the raw body, then
:func:`store` writes the body to ``inbox`` and commits *before* the server answers 200; the
body is processed right after (:func:`process_one`), and whatever a crash left pending is
processed by ``scrm inbox process`` or the worker (:func:`process_pending`).  ``(channel,
body_sha256)`` is unique, so a redelivered body is stored once.  Processing is idempotent
(interactions are deduplicated on ``(channel, external_id)``, rejects on their fingerprint),
which is why a row is only marked ``processed`` *after* its ingest committed: processing a
row twice, by the server and a worker at once, stores nothing twice.

A row whose processing fails (its channel plugin is missing or misconfigured, a plugin
crashes on it, the database is down) stays ``pending`` and is tried again after a backoff
(30 s, 1 min, 2 min, ...); after :data:`MAX_ATTEMPTS` failures it is parked as ``dead``, out
of every run's way, until an operator fixes the cause and retries it (:func:`retry`).  Each
failed attempt is one log line, not a traceback.

Erasure holds against redelivery: a body holding a message whose customer was erased (its
tombstone is stored, :func:`scrm.core.privacy.erased_messages`) is not kept.  When every
message in it was erased it is recognised before it is stored (the row keeps only its hash,
``processed``, and the platform is told ``duplicate``); otherwise the body goes as soon as
it has been processed.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import IntegrityError

from scrm.core import audit
from scrm.core.bounds import clean_text
from scrm.core.db import utcnow
from scrm.core.errors import N_, Refused
from scrm.core.models import InboxPayload
from scrm.core.outbox import backoff
from scrm.core.pipeline import IngestReport, Origin, Rejected
from scrm.core.privacy import ERASED, erased_messages, has_tombstones
from scrm.core.queries import NotFound
from scrm.core.sources import records_from_payload

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from scrm.core.app import Scrm

__all__ = [
    "MAX_ATTEMPTS",
    "Attempt",
    "InboxOut",
    "InboxReport",
    "count_dead",
    "list_inbox",
    "process_one",
    "process_pending",
    "retry",
    "store",
]

log = logging.getLogger(__name__)

REDELIVERED_ERASED = "a redelivery of an erased customer's messages: its body was not kept"
#: Failed attempts after which a row is parked as ``dead`` (about 8 minutes of backoff).
MAX_ATTEMPTS = 5


class InboxOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    channel: str
    received_at: datetime
    status: str
    attempts: int
    next_attempt_at: datetime | None
    processed_at: datetime | None
    error: str | None


@dataclass
class InboxReport:
    """What one run did: rows processed, failed and due again later, parked as dead.

    ``dead`` counts every parked row, this run's and earlier ones, for the run's summary.
    """

    processed: int = 0
    retrying: int = 0
    parked: int = 0
    dead: int = 0
    ingest: IngestReport = field(default_factory=IngestReport)


def _erased(app: Scrm, s: Session, channel: str, body: str) -> tuple[bool, bool]:
    """Whether ``body`` holds a message of an erased customer, and whether it holds only such.

    ``(False, False)`` when nothing was ever erased (one query) or the body is not readable.
    """
    if not has_tombstones(s):
        return False, False
    try:
        payload = json.loads(body)
        records = list(
            records_from_payload(payload, Origin("inbox"), "native", app.channel(channel))
        )
    except Exception:  # not JSON, nested too deep, no such channel: processing will say so
        return False, False
    ids = [r[0].external_id for r in records if not isinstance(r, Rejected)]
    erased = erased_messages(s, channel, ids) if ids else set()
    return bool(erased), bool(erased) and len(ids) == len(records) and erased >= set(ids)


def store(app: Scrm, channel: str, body: bytes) -> tuple[int, bool]:
    """Store a verified body durably; return its inbox id and whether it is new.

    A body already in the inbox for ``channel`` (a redelivery) is not stored again, nor is
    one holding only messages whose customer was erased (a row with its hash and no body
    records it; it is not new).
    """
    digest = hashlib.sha256(body).hexdigest()
    # Kept as text: bytes that are not UTF-8, and NUL (which PostgreSQL refuses in text and
    # no JSON body holds raw), become U+FFFD; the hash is of the bytes received.
    text = clean_text(body.decode("utf-8", "replace"))[0]

    def existing() -> int | None:
        with app.session() as s:
            return s.scalar(
                sa.select(InboxPayload.id).where(
                    InboxPayload.channel == channel, InboxPayload.body_sha256 == digest
                )
            )

    found = existing()
    if found is not None:
        return found, False
    try:
        with app.session() as s:
            row = InboxPayload(channel=channel, body=text, body_sha256=digest, status="pending")
            if _erased(app, s, channel, text)[1]:
                row.body, row.status, row.error = ERASED, "processed", REDELIVERED_ERASED
                row.processed_at = utcnow()
            s.add(row)
            s.flush()
            return row.id, row.status == "pending"
    except IntegrityError:  # the same redelivery raced us
        found = existing()
        assert found is not None
        return found, False


@dataclass(frozen=True)
class Attempt:
    """What became of a row: ``processed`` (with its ingest report), ``retrying`` (it failed
    and is due again after a backoff) or ``dead`` (it failed :data:`MAX_ATTEMPTS` times)."""

    outcome: str
    report: IngestReport | None = None


def process_one(app: Scrm, inbox_id: int, *, now: datetime | None = None) -> Attempt | None:
    """Ingest one due pending row; return what became of it, or None if it was not due.

    A body that is not JSON is
    kept as a reject with that reason; a payload the channel cannot parse becomes rejects
    through the pipeline: both are processed.
    """
    now = now or utcnow()
    with app.session() as s:
        row = s.get(InboxPayload, inbox_id)
        if row is None or row.status != "pending" or _later(row.next_attempt_at, now):
            return None
        channel, body = row.channel, row.body
    try:
        report = _ingest(app, channel, body)
    except Exception as exc:
        return _failed(app, inbox_id, channel, exc, now)
    with app.session() as s:
        row = s.get(InboxPayload, inbox_id)
        assert row is not None
        row.attempts += 1
        row.status, row.processed_at, row.next_attempt_at = "processed", utcnow(), None
        row.error = (
            f"{report.rejected} rejected: {report.rejects[0].reason}" if report.rejects else None
        )
        if report.duplicates and _erased(app, s, channel, body)[0]:
            row.body = ERASED  # the rest of it is stored now; the hash stays
    return Attempt("processed", report)


def _later(due: datetime | None, now: datetime) -> bool:
    return due is not None and due > now


def _ingest(app: Scrm, channel: str, body: str) -> IngestReport:
    source = f"webhook:{channel}"
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as exc:  # too deep a nesting is not JSON we take
        origin = Origin(source, 1, body, "native", channel)
        return app.ingest_records([Rejected(origin, f"the body is not JSON: {exc}")])
    return app.ingest_native(channel, [payload], source=source)


def _failed(app: Scrm, inbox_id: int, channel: str, exc: Exception, now: datetime) -> Attempt:
    """Count a failed attempt: due again after a backoff, or parked once attempts run out."""
    error = f"{type(exc).__name__}: {exc}"[:2000]
    with app.session() as s:
        row = s.get(InboxPayload, inbox_id)
        assert row is not None
        row.attempts += 1
        row.error = error
        if row.attempts >= MAX_ATTEMPTS:
            row.status, row.next_attempt_at = "dead", None
        else:
            row.next_attempt_at = now + backoff(row.attempts)
        attempts, status, due = row.attempts, row.status, row.next_attempt_at
    if status == "dead":
        log.error(
            "inbox %s (%s): attempt %d failed, parked as dead (scrm inbox retry %s): %s",
            inbox_id, channel, attempts, inbox_id, error,
        )  # fmt: skip
        return Attempt("dead")
    assert due is not None
    log.warning(
        "inbox %s (%s): attempt %d of %d failed, next at %s: %s",
        inbox_id, channel, attempts, MAX_ATTEMPTS, due.isoformat(timespec="seconds"), error,
    )  # fmt: skip
    return Attempt("retrying")


def process_pending(
    app: Scrm,
    *,
    limit: int = 1000,
    older_than: timedelta | None = None,
    now: datetime | None = None,
) -> InboxReport:
    """Process due pending rows, oldest first (what ``scrm inbox process`` and the worker run).

    :param older_than: only rows received at least this long ago (the server's own
        background loop leaves fresh rows to the request that stored them).
    :param now: the time rows are due by (default: now).
    """
    now = now or utcnow()
    q = (
        sa.select(InboxPayload.id)
        .where(
            InboxPayload.status == "pending",
            sa.or_(InboxPayload.next_attempt_at.is_(None), InboxPayload.next_attempt_at <= now),
        )
        .order_by(InboxPayload.received_at, InboxPayload.id)
        .limit(limit)
    )
    if older_than is not None:
        q = q.where(InboxPayload.received_at <= now - older_than)
    with app.session() as s:
        ids = list(s.scalars(q))
    out = InboxReport()
    for inbox_id in ids:
        attempt = process_one(app, inbox_id, now=now)
        if attempt is None:
            continue
        if attempt.report is not None:
            out.processed += 1
            out.ingest.add(attempt.report)
        elif attempt.outcome == "retrying":
            out.retrying += 1
        else:
            out.parked += 1
    out.dead = count_dead(app)
    return out


def count_dead(app: Scrm) -> int:
    """How many rows are parked, waiting for an operator."""
    with app.session(read_only=True) as s:
        return (
            s.scalar(
                sa.select(sa.func.count())
                .select_from(InboxPayload)
                .where(InboxPayload.status == "dead")
            )
            or 0
        )


def retry(app: Scrm, ids: Iterable[int] | None = None, *, actor: str) -> list[int]:
    """Put parked rows (``ids``, or every one) back in the queue, due now, attempts reset.

    :param actor: who asked (kept in the audit log).
    :raises NotFound: naming an id that is not in the inbox.
    :raises Refused: naming an id that is not parked.
    """
    with app.session() as s:
        q = sa.select(InboxPayload).order_by(InboxPayload.id)
        if ids is None:
            rows = list(s.scalars(q.where(InboxPayload.status == "dead")))
        else:
            wanted = list(dict.fromkeys(ids))
            found = {r.id: r for r in s.scalars(q.where(InboxPayload.id.in_(wanted)))}
            for inbox_id in wanted:
                if inbox_id not in found:
                    raise NotFound(N_("no inbox row %(id)s"), id=inbox_id)
                if found[inbox_id].status != "dead":
                    raise Refused(
                        N_(
                            "inbox row %(id)s is %(status)s, not dead: only parked rows are retried"
                        ),
                        id=inbox_id,
                        status=found[inbox_id].status,
                    )
            rows = [found[i] for i in wanted]
        for row in rows:
            row.status, row.attempts, row.next_attempt_at = "pending", 0, None
        queued = [r.id for r in rows]
        audit.record(s, actor=actor, action="inbox.retry", details={"ids": queued})
        return queued


def list_inbox(app: Scrm, *, status: str | None = None, limit: int = 50) -> list[InboxOut]:
    with app.session(read_only=True) as s:
        q = sa.select(InboxPayload).order_by(InboxPayload.id.desc()).limit(limit)
        if status:
            q = q.where(InboxPayload.status == status)
        return [InboxOut.model_validate(r) for r in s.scalars(q)]
