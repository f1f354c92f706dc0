"""Data portability: everything scrm stores about a person, as JSON (KVKK art. 11, GDPR art. 20)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from scrm.core.customers import family_ids, root_ids
from scrm.core.db import utcnow
from scrm.core.errors import N_
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
    Reject,
)
from scrm.core.queries import NotFound
from scrm.core.redaction import needle_variants, person_identifiers, rejects_naming

__all__ = ["export_customer", "finite"]

# -- export -------------------------------------------------------------------------------


def _row(obj: Any, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    out = {}
    for col in sa.inspect(obj).mapper.column_attrs:
        if col.key in skip:
            continue
        value = getattr(obj, col.key)
        out[col.key] = value.isoformat() if isinstance(value, datetime) else value
    return out


def finite(value: Any) -> Any:
    """``value`` with every NaN or infinite float (JSON has none) replaced by ``None``."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def export_customer(session: Session, customer_id: int) -> dict[str, Any]:
    """Return everything stored about a person (their whole merge family) as JSON-able data.

    Customer records, identities, merges between their records (with the reasons given),
    interactions (with the native payloads), cases with their events, promises and ratings,
    replies queued or sent to them, label corrections of their messages, and the rejects
    that name them (the same ones erasure deletes).  Valid JSON always: a NaN or infinite
    number (a stored payload may hold one) is exported as ``null``.

    :raises NotFound: when there is no such customer.
    """
    if session.get(Customer, customer_id) is None:
        raise NotFound(N_("no customer %(id)s"), id=customer_id)
    root = root_ids(session, [customer_id])[customer_id]
    family = sorted(family_ids(session, root))
    customers = list(session.scalars(sa.select(Customer).where(Customer.id.in_(family))))
    identities = list(
        session.scalars(
            sa.select(Identity).where(Identity.customer_id.in_(family)).order_by(Identity.id)
        )
    )
    cases = list(
        session.scalars(sa.select(Case).where(Case.customer_id.in_(family)).order_by(Case.id))
    )
    case_ids = [c.id for c in cases] or [-1]
    interactions = list(
        session.scalars(
            sa.select(Interaction)
            .where(
                sa.or_(
                    Interaction.customer_id.in_(family),
                    Interaction.identity_id.in_([i.id for i in identities] or [-1]),
                    Interaction.case_id.in_(case_ids),
                )
            )
            .order_by(Interaction.created_at, Interaction.id)
        )
    )
    events = session.scalars(
        sa.select(CaseEvent).where(CaseEvent.case_id.in_(case_ids)).order_by(CaseEvent.id)
    )
    follow_ups = session.scalars(
        sa.select(FollowUp).where(FollowUp.case_id.in_(case_ids)).order_by(FollowUp.id)
    )
    by_case: dict[int, dict[str, list[Any]]] = {
        c.id: {"events": [], "follow_ups": []} for c in cases
    }
    for e in events:
        by_case[e.case_id]["events"].append(_row(e, ("case_id",)))
    for f in follow_ups:
        by_case[f.case_id]["follow_ups"].append(_row(f, ("case_id",)))
    pairs = [(i.channel, i.external_id) for i in identities]
    outbox_cond = [OutboxMessage.case_id.in_(case_ids)] + [
        sa.and_(OutboxMessage.channel == ch, OutboxMessage.recipient == ext) for ch, ext in pairs
    ]
    outbox = session.scalars(
        sa.select(OutboxMessage).where(sa.or_(*outbox_cond)).order_by(OutboxMessage.id)
    )
    corrections = session.scalars(
        sa.select(LabelCorrection)
        .where(LabelCorrection.interaction_id.in_([i.id for i in interactions] or [-1]))
        .order_by(LabelCorrection.id)
    )
    merges = session.scalars(
        sa.select(CustomerMerge)
        .where(sa.or_(CustomerMerge.source_id.in_(family), CustomerMerge.target_id.in_(family)))
        .order_by(CustomerMerge.id)
    )
    needles = needle_variants(
        [*person_identifiers(customers, identities), *(i.external_id for i in interactions)]
    )
    rejects = session.scalars(
        sa.select(Reject).where(Reject.id.in_(rejects_naming(session, needles))).order_by(Reject.id)
    )
    data = {
        "format": "scrm.customer-export/1",
        "exported_at": utcnow().isoformat(),
        "customer_id": root,
        "customers": [_row(c) for c in customers],
        "identities": [_row(i) for i in identities],
        "merges": [_row(m) for m in merges],
        "interactions": [_row(i) for i in interactions],
        "cases": [
            {
                **_row(c),
                "csat": {"score": c.csat_score, "at": c.csat_at.isoformat() if c.csat_at else None},
                **by_case[c.id],
            }
            for c in cases
        ],
        "outbox": [_row(o, ("lease_until",)) for o in outbox],
        "label_corrections": [_row(lc) for lc in corrections],
        "rejects": [_row(r, ("fingerprint",)) for r in rejects],
    }
    return finite(data)
