"""The audit log: who did which administrative action, when, to what (never with a secret).

API keys, webhook subscriptions, customer merges, erasures and configuration changes are
recorded here, in the caller's transaction, so the entry exists exactly when the change does.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from scrm.core.models import AuditEntry

__all__ = ["AuditOut", "list_audit", "record"]


class AuditOut(BaseModel):
    """An audit entry as the CLI and the API show it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    at: Any
    actor: str
    action: str
    target_type: str | None
    target_id: str | None
    details: dict[str, Any]


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    target_type: str | None = None,
    target_id: object = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add an audit entry in the caller's transaction; ``details`` must hold no secret.

    :param actor: who acted (``apikey:<name>``, an agent username, ``cli``).
    :param action: a dotted verb such as ``apikey.create`` or ``customer.merge``.
    :param target_type: the kind of thing acted on (``api_key``, ``customer``...).
    :param target_id: its id.
    :param details: what else an auditor needs (names, roles, URLs; no tokens).
    """
    entry = AuditEntry(
        actor=actor[:64],
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        details=details or {},
    )
    session.add(entry)
    session.flush()
    return entry


def list_audit(
    session: Session, *, action: str | None = None, limit: int = 100, after: int | None = None
) -> list[AuditOut]:
    """Return audit entries, oldest first, optionally only those of one action."""
    q = sa.select(AuditEntry).order_by(AuditEntry.id).limit(limit)
    if action:
        q = q.where(AuditEntry.action == action)
    if after is not None:
        q = q.where(AuditEntry.id > after)
    return [AuditOut.model_validate(e) for e in session.scalars(q)]
