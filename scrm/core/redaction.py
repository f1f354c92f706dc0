"""Find and redact a person's identifiers in free text and JSON, anywhere in the database.

Used by :mod:`scrm.core.privacy`: rejects, webhook payloads and inbox bodies that name the
person, plugin state keyed by them, audit details, and every table erasure does not handle
one by one (found by reflection).  Identifiers are matched case-insensitively as substrings,
also in their JSON-escaped forms; ones shorter than :data:`MIN_NEEDLE` are not searched for.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from scrm.core.db import include_name
from scrm.core.models import AuditEntry, InboxPayload, PluginState, Reject, WebhookDelivery

if TYPE_CHECKING:
    from scrm.core.privacy import ErasureReport

__all__ = [
    "ERASED",
    "HANDLED_TABLES",
    "MIN_NEEDLE",
    "TOMBSTONE_PREFIX",
    "erase_elsewhere",
    "erase_free_text",
    "ids_only",
    "needle_variants",
    "person_identifiers",
    "rejects_naming",
]

ERASED = "[erased]"
"""What an erased text reads."""
TOMBSTONE_PREFIX = "erased:"
SALT_KEY = ("scrm", "privacy.salt")
"""The plugin_state row holding the tombstone salt (never erased itself)."""
MIN_NEEDLE = 4
"""Identifiers shorter than this are not searched for in free text (too many false hits)."""

# -- helpers ------------------------------------------------------------------------------


def chunks(seq: Sequence[Any], n: int = 500) -> Iterator[Sequence[Any]]:
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


def ids_only(value: Any) -> Any:
    """Keep numbers, booleans and ids of a JSON value; drop every string (content)."""
    if isinstance(value, dict):
        return {k: v for k, v in ((k, ids_only(v)) for k, v in value.items()) if v is not None}
    if isinstance(value, list):
        return [v for v in (ids_only(v) for v in value) if v is not None]
    if isinstance(value, bool | int | float):
        return value
    return None


def needle_variants(needles: Iterable[str]) -> list[str]:
    """Lower-cased needles plus their JSON-escaped forms (``\\u015f``, ``\\/``)."""
    out: set[str] = set()
    for n in needles:
        if not n or len(n) < MIN_NEEDLE or n.startswith(TOMBSTONE_PREFIX):
            continue
        low = n.lower()
        out.add(low)
        out.add(json.dumps(low)[1:-1])
        out.add(json.dumps(low)[1:-1].replace("/", "\\/"))
    return sorted(out)


def mentions(text: str, needles: Sequence[str]) -> bool:
    low = text.lower()
    return any(n in low for n in needles)


def contains_any(column: Any, needles: Sequence[str]) -> Any:
    return sa.or_(*(sa.func.lower(column).contains(n, autoescape=True) for n in needles))


def matching_ids(
    session: Session, model: Any, column: Any, needles: Sequence[str], extra: Any = None
) -> list[int]:
    """Ids of rows whose ``column`` (text, or JSON cast to text) mentions a needle."""
    found: set[int] = set()
    for part in chunks(needles, 40):
        cond = contains_any(column, part)
        if extra is not None:
            cond = sa.and_(cond, extra)
        found.update(session.scalars(sa.select(model.id).where(cond)))
    return sorted(found)


def as_text(column: Any) -> Any:
    return sa.cast(column, sa.Text)


def person_identifiers(customers: Iterable[Any], identities: Iterable[Any]) -> list[str]:
    """What names a person: their identities' ids, handles, addresses and phone numbers
    (also without ``+``), and their customer records' addresses and phone numbers."""
    return [
        v
        for i in identities
        for v in (i.external_id, i.handle, i.email, i.phone, i.phone and i.phone.lstrip("+"))
        if v
    ] + [v for c in customers for v in (c.email, c.phone) if v]


def rejects_naming(session: Session, needles: Sequence[str]) -> list[int]:
    """Ids of rejects whose payload, reason or source mentions a needle."""
    if not needles:
        return []
    found = matching_ids(session, Reject, Reject.payload, needles)
    found += matching_ids(session, Reject, Reject.reason, needles)
    found += matching_ids(session, Reject, Reject.source, needles)
    return sorted(set(found))


#: Tables erasure handles one by one; in any other table, :func:`erase_elsewhere` redacts
#: the person's identifiers wherever they appear.
HANDLED_TABLES = {
    "customers",
    "customer_merges",
    "identities",
    "interactions",
    "cases",
    "case_events",
    "follow_ups",
    "outbox",
    "label_corrections",
    "rejects",
    "webhook_deliveries",
    "inbox",
    "plugin_state",
    "audit_log",
    "alembic_version",
}


def payload_mentions(
    obj: Any, ids: dict[str, set[int]], needles: Sequence[str], parent: str = ""
) -> bool:
    """Does a JSON payload name the person (their ids under known keys, or an identifier)?

    ``customer_id``/``case_id``/``interaction_id`` keys, ``id`` inside a ``customer``/
    ``case``/``interaction`` object, and the ``data.id`` of an event whose ``type`` starts
    with one of those words (``interaction.stored``) are the person's when in ``ids``.
    """
    if isinstance(obj, dict):
        kind = str(obj.get("type") or "").split(".")[0]
        data = obj.get("data")
        if kind in ids and isinstance(data, dict) and data.get("id") in ids[kind]:
            return True
        for k, v in obj.items():
            if isinstance(v, int) and not isinstance(v, bool):
                key = k.removesuffix("_id") if k.endswith("_id") else (parent if k == "id" else "")
                if v in ids.get(key, ()):
                    return True
            elif payload_mentions(v, ids, needles, k):
                return True
        return False
    if isinstance(obj, list):
        return any(payload_mentions(v, ids, needles, parent) for v in obj)
    return isinstance(obj, str) and mentions(obj, needles)


def erase_free_text(
    session: Session,
    family: list[int],
    case_ids: list[int],
    interaction_ids: list[int],
    person_needles: list[str],
    needles: list[str],
    report: ErasureReport,
) -> None:
    """Rejects, webhook payloads, inbox bodies, plugin state, audit details naming the person."""
    if needles:
        for part in chunks(rejects_naming(session, needles)):
            report.add(
                "rejects",
                session.execute(sa.delete(Reject).where(Reject.id.in_(part))).rowcount,  # type: ignore[attr-defined]
            )
        inbox = matching_ids(session, InboxPayload, InboxPayload.body, needles)
        inbox += matching_ids(session, InboxPayload, InboxPayload.error, needles)
        for entry in session.scalars(
            sa.select(InboxPayload).where(InboxPayload.id.in_(sorted(set(inbox))))
        ):
            # body_sha256 stays: a redelivery of this body is still recognised.
            entry.body, entry.error = ERASED, None
            if entry.status == "pending":
                entry.status, entry.error = "failed", "erased with a customer's data"
            report.add("inbox", 1)
    ids = {
        "customer": set(family),
        "case": set(case_ids),
        "interaction": set(interaction_ids),
    }
    hits = [
        rid
        for rid, payload, error in session.execute(
            sa.select(WebhookDelivery.id, WebhookDelivery.payload, WebhookDelivery.last_error)
        )
        if payload_mentions(payload, ids, needles) or (error and mentions(error, needles))
    ]
    for part in chunks(hits):
        session.execute(
            sa.update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(part))
            .values(payload={"erased": True}, last_error=None)
        )
        # Never send a person's data out after they had it erased.
        session.execute(
            sa.update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(part), WebhookDelivery.status.in_(("pending", "sending")))
            .values(status="cancelled", lease_until=None)
        )
    report.add("webhook_deliveries", len(hits))
    if person_needles:
        state = matching_ids(session, PluginState, PluginState.key, person_needles)
        state += matching_ids(session, PluginState, as_text(PluginState.value), person_needles)
        if state:
            report.add(
                "plugin_state",
                session.execute(
                    sa.delete(PluginState).where(
                        PluginState.id.in_(sorted(set(state))),
                        sa.not_(
                            sa.and_(
                                PluginState.plugin == SALT_KEY[0], PluginState.key == SALT_KEY[1]
                            )
                        ),
                    )
                ).rowcount,  # type: ignore[attr-defined]
            )
    about = sa.and_(
        AuditEntry.target_type == "customer",
        AuditEntry.target_id.in_([str(c) for c in family]),
    )
    audit_ids = set(session.scalars(sa.select(AuditEntry.id).where(about)))
    if needles:
        audit_ids |= set(matching_ids(session, AuditEntry, as_text(AuditEntry.details), needles))
    for audit in session.scalars(sa.select(AuditEntry).where(AuditEntry.id.in_(audit_ids))):
        audit.details = ids_only(audit.details or {})
        report.add("audit_log", 1)


def redact(value: Any, needles: Sequence[str]) -> Any:
    """Replace every string of a JSON value that names the person with :data:`ERASED`."""
    if isinstance(value, dict):
        return {k: redact(v, needles) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, needles) for v in value]
    if isinstance(value, str) and mentions(value, needles):
        return ERASED
    return value


def erase_elsewhere(session: Session, needles: list[str], report: ErasureReport) -> None:
    """Redact the person's identifiers from every other table (department modules', say).

    Found by reflection: in each text column a value naming one of the person's identifiers
    (ids, handles, addresses, phone numbers, message ids) becomes NULL (or ``[erased]`` when
    the column is required); in each JSON column such strings become ``[erased]``.  Content
    copied from a message without an identifier (an idea's title, say) is the owning
    module's to erase.
    """
    if not needles:
        return
    # The database's own tables, not the models: a plugin's tables are searched whether or
    # not its models were imported in this process (or the plugin is still enabled).
    found_tables = sa.MetaData()
    found_tables.reflect(session.connection(), only=lambda name, _: include_name(name, "table", None))
    for table in found_tables.sorted_tables:
        if table.name in HANDLED_TABLES or "id" not in table.c:
            continue
        unique = _unique_columns(table)
        for col in table.c:
            is_json = isinstance(col.type, sa.JSON)
            if col.primary_key or col.name in unique or not (is_json or isinstance(col.type, sa.String)):
                continue
            found: dict[int, Any] = {}
            for part in chunks(needles, 40):
                for rid, value in session.execute(
                    sa.select(table.c.id, col).where(contains_any(as_text(col), part))
                ):
                    found[rid] = value
            for rid, value in found.items():
                new: Any = (
                    redact(value, needles) if is_json else (sa.null() if col.nullable else ERASED)
                )
                session.execute(sa.update(table).where(table.c.id == rid).values({col: new}))
            report.add(table.name, len(found))


def _unique_columns(table: sa.Table) -> set[str]:
    """The columns unique on their own (a name, a key): never overwritten with a marker."""
    keys = [c.columns for c in table.constraints if isinstance(c, sa.UniqueConstraint)]
    keys += [i.columns for i in table.indexes if i.unique]
    return {next(iter(cols)).name for cols in keys if len(cols) == 1}
