"""The webhook inbox: a verified delivery is stored before it is acknowledged.

``POST /webhooks/<channel>`` verifies the platform's signature over the raw body, then
:func:`store` writes the body to ``inbox`` and commits *before* the server answers 200; the
body is processed right after (:func:`process_one`), and whatever a crash left pending is
processed by ``scrm inbox process`` (:func:`process_pending`).  ``(channel, body_sha256)``
is unique, so a redelivered body is stored once.  Processing is idempotent (interactions are
deduplicated on ``(channel, external_id)``, rejects on their fingerprint), which is why a
row is only marked ``processed`` *after* its ingest committed: processing a row twice, by
the server and a worker at once, stores nothing twice.

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
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import IntegrityError

from scrm.core.db import utcnow
from scrm.core.models import InboxPayload
from scrm.core.pipeline import IngestReport, Origin, Rejected
from scrm.core.privacy import ERASED, erased_messages, has_tombstones
from scrm.core.sources import records_from_payload

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from scrm.core.app import Scrm

__all__ = ["InboxOut", "InboxReport", "list_inbox", "process_one", "process_pending", "store"]

log = logging.getLogger(__name__)

REDELIVERED_ERASED = "a redelivery of an erased customer's messages: its body was not kept"


class InboxOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    channel: str
    received_at: datetime
    status: str
    attempts: int
    processed_at: datetime | None
    error: str | None


@dataclass
class InboxReport:
    processed: int = 0
    failed: int = 0
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
    text = body.decode("utf-8", "replace")

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


def process_one(app: Scrm, inbox_id: int) -> IngestReport | None:
    """Ingest one pending inbox row; return the report, or None if it was not pending.

    A body that is not JSON is kept as a reject with that reason; a payload the channel
    cannot parse becomes rejects through the pipeline.  A failure (database down) leaves
    the row pending with the error, for ``scrm inbox process``.
    """
    with app.session() as s:
        row = s.get(InboxPayload, inbox_id)
        if row is None or row.status != "pending":
            return None
        channel, body = row.channel, row.body
    source = f"webhook:{channel}"
    try:
        try:
            payload = json.loads(body)
        except ValueError as exc:
            origin = Origin(source, 1, body, "native", channel)
            report = app.ingest_records([Rejected(origin, f"the body is not JSON: {exc}")])
        else:
            report = app.ingest_native(channel, [payload], source=source)
    except Exception as exc:
        log.exception("inbox %s (%s) failed; it stays pending", inbox_id, channel)
        with app.session() as s:
            row = s.get(InboxPayload, inbox_id)
            assert row is not None
            row.attempts += 1
            row.error = f"{type(exc).__name__}: {exc}"[:2000]
        raise
    with app.session() as s:
        row = s.get(InboxPayload, inbox_id)
        assert row is not None
        row.attempts += 1
        row.status, row.processed_at = "processed", utcnow()
        row.error = (
            f"{report.rejected} rejected: {report.rejects[0].reason}" if report.rejects else None
        )
        if report.duplicates and _erased(app, s, channel, body)[0]:
            row.body = ERASED  # the rest of it is stored now; the hash stays
    return report


def process_pending(
    app: Scrm, *, limit: int = 1000, older_than: timedelta | None = None
) -> InboxReport:
    """Process pending rows, oldest first (what ``scrm inbox process`` runs).

    :param older_than: only rows received at least this long ago (the server's own
        background loop leaves fresh rows to the request that stored them).
    """
    q = (
        sa.select(InboxPayload.id)
        .where(InboxPayload.status == "pending")
        .order_by(InboxPayload.received_at, InboxPayload.id)
        .limit(limit)
    )
    if older_than is not None:
        q = q.where(InboxPayload.received_at <= utcnow() - older_than)
    with app.session() as s:
        ids = list(s.scalars(q))
    out = InboxReport()
    for inbox_id in ids:
        try:
            report = process_one(app, inbox_id)
        except Exception:
            out.failed += 1
            continue
        if report is not None:
            out.processed += 1
            out.ingest.add(report)
    return out


def list_inbox(app: Scrm, *, status: str | None = None, limit: int = 50) -> list[InboxOut]:
    with app.session() as s:
        q = sa.select(InboxPayload).order_by(InboxPayload.id.desc()).limit(limit)
        if status:
            q = q.where(InboxPayload.status == status)
        return [InboxOut.model_validate(r) for r in s.scalars(q)]
