"""Data rights (KVKK, GDPR): erase a person, export what is stored about them, log safely.

Erasure (:func:`erase_customer`) anonymises a person's personal data everywhere scrm keeps it,
across their whole merge family, in the caller's transaction.  Rows that metrics count stay
(interactions, cases, events, follow-ups, replies) with their times, channels, directions,
states and numbers; their content goes.  What a person *is* (name, handle, e-mail, phone,
platform ids) is replaced by tombstones:

* an identity's ``external_id`` becomes ``erased:identity:<id>``: unique, and derived from
  nothing the person gave, so it cannot be linked back to them.  A message they send later
  creates a new customer (scrm cannot know it is them: that is the point).
* a message id, thread key or reply-to id becomes ``erased:<hmac>``, a keyed hash
  (HMAC-SHA256) of the channel and the id under a random per-database salt.  The same id
  always gives the same tombstone, so ``(channel, external_id)`` stays unique, threads stay
  linked, and the pipeline recognises a platform's later redelivery of an erased message as
  a duplicate (:func:`tombstones_of`) instead of storing the person's words again; the
  webhook inbox keeps no body holding one (:func:`erased_messages`).  Someone
  holding the database (with its salt) can test whether a *given* message id was erased; no
  one can recover an id or a person from a tombstone.

After commit, :func:`purge_deleted` makes SQLite give the freed space back as zeros (see
``docs/privacy.md`` for the limits: backups, PostgreSQL's dead tuples, platforms' copies).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from scrm.core import audit
from scrm.core.customers import family_ids, root_ids
from scrm.core.db import utcnow
from scrm.core.errors import N_
from scrm.core.export import export_customer
from scrm.core.logsafe import loggable, set_log_content
from scrm.core.models import (
    Case,
    CaseEvent,
    Customer,
    CustomerMerge,
    FollowUp,
    Identity,
    Interaction,
    LabelCorrection,
    OutboxMessage,
    PluginState,
)
from scrm.core.queries import NotFound
from scrm.core.redaction import (
    ERASED,
    SALT_KEY,
    TOMBSTONE_PREFIX,
    as_text,
    chunks,
    erase_elsewhere,
    erase_free_text,
    ids_only,
    needle_variants,
    person_identifiers,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from scrm.core.plugins import Hooks

__all__ = [
    "ERASED",
    "EXPIRED",
    "ErasureReport",
    "erase_customer",
    "erased_messages",
    "export_customer",
    "has_tombstones",
    "loggable",
    "purge_deleted",
    "set_log_content",
    "tombstones_of",
]

EXPIRED = "[expired]"
"""What a text removed by the retention policy reads."""

# -- tombstones ---------------------------------------------------------------------------


def _salt(session: Session, *, create: bool) -> bytes | None:
    # A stored salt never changes: read once per session (a webhook's check asks twice).
    cached: bytes | None = session.info.get(SALT_KEY)
    if cached is not None:
        return cached
    plugin, key = SALT_KEY
    row = session.scalar(
        sa.select(PluginState).where(PluginState.plugin == plugin, PluginState.key == key)
    )
    if row is not None:
        session.info[SALT_KEY] = salt = bytes.fromhex(row.value["salt"])
        return salt
    if not create:
        return None
    salt = secrets.token_bytes(32)
    session.add(PluginState(plugin=plugin, key=key, value={"salt": salt.hex()}))
    session.flush()
    return salt


def _tomb(salt: bytes, channel: str, value: str | None) -> str | None:
    if value is None or value.startswith(TOMBSTONE_PREFIX):
        return value
    digest = hmac.new(salt, f"{channel}\0{value}".encode(), hashlib.sha256).hexdigest()
    return TOMBSTONE_PREFIX + digest[:40]


def tombstones_of(session: Session, channel: str, external_ids: Iterable[str]) -> dict[str, str]:
    """Map each tombstone that erasure would give ``external_ids`` back to its id.

    The pipeline looks these up too, so that a redelivered erased message is a duplicate.
    Empty when nothing was ever erased (no salt yet): one cheap query.
    """
    salt = _salt(session, create=False)
    if salt is None:
        return {}
    out = {}
    for ext in external_ids:
        tomb = _tomb(salt, channel, ext)
        if tomb is not None and tomb != ext:
            out[tomb] = ext
    return out


def has_tombstones(session: Session) -> bool:
    """Return whether anything was ever erased in this database (one cheap query)."""
    return _salt(session, create=False) is not None


def erased_messages(session: Session, channel: str, external_ids: Iterable[str]) -> set[str]:
    """Return those of ``external_ids`` whose message was erased (its tombstone is stored).

    What a platform redelivers of such a message is the erased person's data again: the
    webhook inbox keeps no body that holds one (:mod:`scrm.core.inbox`).
    """
    erased = tombstones_of(session, channel, external_ids)
    found: set[str] = set()
    for part in chunks(sorted(erased)):
        found.update(
            erased[tomb]
            for tomb in session.scalars(
                sa.select(Interaction.external_id).where(
                    Interaction.channel == channel, Interaction.external_id.in_(part)
                )
            )
        )
    return found


# -- erasure ------------------------------------------------------------------------------


@dataclass
class ErasureReport:
    """What an erasure changed: the family, and rows changed or deleted per table."""

    customer_id: int
    """The surviving record of the merge family."""
    customers: list[int]
    counts: dict[str, int] = field(default_factory=dict)
    at: datetime = field(default_factory=utcnow)

    def add(self, table: str, n: int) -> None:
        if n:
            self.counts[table] = self.counts.get(table, 0) + n

    def as_dict(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "customers": self.customers,
            "counts": dict(sorted(self.counts.items())),
            "at": self.at.isoformat(),
        }


def erase_customer(session: Session, customer_id: int, actor: str, hooks: Hooks) -> ErasureReport:
    """Erase a person's personal data across their merge family, in the caller's transaction.

    Safe to run again (a second run finds nothing left but records itself).  Call
    :func:`purge_deleted` after commit so that SQLite's file keeps no copy.

    :param customer_id: any record of the person (a merged one erases the whole family).
    :param actor: who asked (kept in the audit log).
    :param hooks: plugins get ``erase_customer_data`` before commit to delete their files.
    :raises NotFound: when there is no such customer.
    """
    if session.get(Customer, customer_id) is None:
        raise NotFound(N_("no customer %(id)s"), id=customer_id)
    root = root_ids(session, [customer_id])[customer_id]
    family = sorted(family_ids(session, root))
    report = ErasureReport(root, family)
    salt = _salt(session, create=True)
    assert salt is not None

    customers = list(session.scalars(sa.select(Customer).where(Customer.id.in_(family))))
    identities = list(session.scalars(sa.select(Identity).where(Identity.customer_id.in_(family))))
    pairs = [
        (i.channel, i.external_id)
        for i in identities
        if not i.external_id.startswith(TOMBSTONE_PREFIX)
    ]
    person = person_identifiers(customers, identities)
    case_ids = list(session.scalars(sa.select(Case.id).where(Case.customer_id.in_(family))))
    ident_ids = [i.id for i in identities]
    messages = list(
        session.execute(
            sa.select(
                Interaction.id,
                Interaction.channel,
                Interaction.external_id,
                Interaction.attachments,
            ).where(
                sa.or_(
                    Interaction.customer_id.in_(family),
                    Interaction.identity_id.in_(ident_ids or [-1]),
                    Interaction.case_id.in_(case_ids or [-1]),
                )
            )
        )
    )
    interaction_ids = [m.id for m in messages]
    person_needles = needle_variants(person)
    all_needles = needle_variants([*person, *(m.external_id for m in messages)])

    attachments = _own_attachments(session, messages, set(interaction_ids))
    _erase_interactions(session, salt, interaction_ids, report)
    _erase_cases(session, case_ids, report)
    _erase_outbox(session, salt, case_ids, pairs, report)
    _erase_people(session, customers, identities, family, report)
    erase_free_text(session, family, case_ids, interaction_ids, person_needles, all_needles, report)
    erase_elsewhere(session, all_needles, report)
    session.flush()
    hooks.pm.hook.erase_customer_data(customer_id=root, identities=pairs, attachments=attachments)
    audit.record(
        session,
        actor=actor,
        action="customer.erase",
        target_type="customer",
        target_id=root,
        details={"customers": family, "counts": report.as_dict()["counts"]},
    )
    return report


def _own_attachments(
    session: Session, messages: Sequence[Any], own: set[int]
) -> list[tuple[str, str]]:
    """(channel, url) of the person's attachments that no other message refers to."""
    urls = {
        (m.channel, a["url"])
        for m in messages
        for a in (m.attachments or [])
        if isinstance(a, dict) and a.get("url")
    }
    out = []
    for channel, url in sorted(urls):
        others = session.scalars(
            sa.select(Interaction.id).where(
                as_text(Interaction.attachments).contains(url, autoescape=True)
            )
        )
        if not set(others) - own:
            out.append((channel, url))
    return out


def _erase_interactions(
    session: Session, salt: bytes, ids: list[int], report: ErasureReport
) -> None:
    content: dict[str, Any] = {
        "text": ERASED,
        "subject": None,
        "raw": sa.null(),
        "answer_url": None,
        "attachments": [],
        "labels": {},
        "urgency": [],
    }
    for part in chunks(ids):
        report.add(
            "label_corrections",
            session.execute(
                sa.delete(LabelCorrection).where(LabelCorrection.interaction_id.in_(part))
            ).rowcount,  # type: ignore[attr-defined]
        )
        report.add(
            "interactions",
            session.execute(
                sa.update(Interaction)
                .where(Interaction.id.in_(part))
                .values(**content)
                .execution_options(synchronize_session=False)
            ).rowcount,  # type: ignore[attr-defined]
        )
        rows = session.execute(
            sa.select(
                Interaction.id,
                Interaction.channel,
                Interaction.external_id,
                Interaction.thread_key,
                Interaction.in_reply_to,
            ).where(Interaction.id.in_(part))
        ).all()
        originals: dict[str, list[str]] = {}
        updates = []
        for iid, ch, ext, thread, reply in rows:
            if not ext.startswith(TOMBSTONE_PREFIX):
                originals.setdefault(ch, []).append(ext)
            updates.append(
                {
                    "id": iid,
                    "external_id": _tomb(salt, ch, ext),
                    "thread_key": _tomb(salt, ch, thread),
                    "in_reply_to": _tomb(salt, ch, reply),
                }
            )
        if updates:
            session.execute(sa.update(Interaction), updates)
        # Other people's replies to the person's messages keep pointing at them.
        for ch, exts in originals.items():
            replies = session.execute(
                sa.select(Interaction.id, Interaction.in_reply_to).where(
                    Interaction.channel == ch, Interaction.in_reply_to.in_(exts)
                )
            ).all()
            if replies:
                session.execute(
                    sa.update(Interaction),
                    [{"id": i, "in_reply_to": _tomb(salt, ch, r)} for i, r in replies],
                )


def _erase_cases(session: Session, case_ids: list[int], report: ErasureReport) -> None:
    for part in chunks(case_ids):
        report.add(
            "cases",
            session.execute(
                sa.update(Case)
                .where(Case.id.in_(part), Case.subject.is_not(None))
                .values(subject=None)
                .execution_options(synchronize_session=False)
            ).rowcount,  # type: ignore[attr-defined]
        )
        events = session.execute(
            sa.select(CaseEvent.id, CaseEvent.note, CaseEvent.data).where(
                CaseEvent.case_id.in_(part)
            )
        ).all()
        changed = [
            {"id": eid, "note": None, "data": ids_only(data or {})}
            for eid, note, data in events
            if note is not None or ids_only(data or {}) != (data or {})
        ]
        if changed:
            session.execute(sa.update(CaseEvent), changed)
        report.add("case_events", len(changed))
        report.add(
            "follow_ups",
            session.execute(
                sa.update(FollowUp)
                .where(FollowUp.case_id.in_(part), FollowUp.evidence.is_not(None))
                .values(evidence=None)
                .execution_options(synchronize_session=False)
            ).rowcount,  # type: ignore[attr-defined]
        )


def _erase_outbox(
    session: Session,
    salt: bytes,
    case_ids: list[int],
    pairs: list[tuple[str, str]],
    report: ErasureReport,
) -> None:
    conds: list[Any] = [OutboxMessage.case_id.in_(case_ids)] if case_ids else []
    conds += [
        sa.and_(OutboxMessage.channel == ch, OutboxMessage.recipient == ext) for ch, ext in pairs
    ]
    if not conds:
        return
    rows = list(session.scalars(sa.select(OutboxMessage).where(sa.or_(*conds))))
    for row in rows:
        row.text, row.subject, row.meta, row.recipient = ERASED, None, {}, None
        row.in_reply_to = _tomb(salt, row.channel, row.in_reply_to)
        row.thread_key = _tomb(salt, row.channel, row.thread_key)
        row.external_id = _tomb(salt, row.channel, row.external_id)
        if row.status in ("pending", "sending"):
            # Never deliver a message to a person who had themselves erased.
            row.status, row.lease_until = "failed", None
            row.last_error = "cancelled: the customer's data was erased"
        elif row.last_error:
            row.last_error = ERASED
    report.add("outbox", len(rows))


def _erase_people(
    session: Session,
    customers: list[Customer],
    identities: list[Identity],
    family: list[int],
    report: ErasureReport,
) -> None:
    for ident in identities:
        ident.external_id = f"{TOMBSTONE_PREFIX}identity:{ident.id}"
        ident.handle = ident.display_name = ident.email = ident.phone = None
        ident.followers = ident.verified = ident.account_created_at = None
    report.add("identities", len(identities))
    now = utcnow()
    for c in customers:
        c.display_name, c.email, c.phone = ERASED, None, None
        c.attributes = {"erased_at": now.isoformat()}
    report.add("customers", len(customers))
    merges = list(
        session.scalars(
            sa.select(CustomerMerge).where(
                sa.or_(CustomerMerge.source_id.in_(family), CustomerMerge.target_id.in_(family))
            )
        )
    )
    for m in merges:
        m.reason, m.details = None, ids_only(m.details or {})
    report.add("customer_merges", len(merges))


# -- after commit -------------------------------------------------------------------------


def purge_deleted(engine: Engine, *, vacuum: bool = True) -> None:
    """Make the database file keep no copy of what was just erased (SQLite; after commit).

    scrm's SQLite connections run with ``secure_delete`` (freed space is zeroed); this
    checkpoints the write-ahead log into the file and truncates it, and with ``vacuum``
    rebuilds the file so that nothing freed before ``secure_delete`` was on survives either.
    PostgreSQL keeps dead row versions until its own VACUUM reuses them: see
    ``docs/privacy.md``.
    """
    if engine.dialect.name != "sqlite":
        return
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        if vacuum:
            cur.execute("VACUUM")
        cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        cur.close()
    finally:
        raw.close()
