"""Small persisted state for plugins: poll cursors, IMAP UIDVALIDITY, request budgets.

State is a JSON object per (plugin, key).  Writes happen in the caller's transaction, so a
cursor advances in the same commit as the messages it covers: a crash never skips messages
(at worst they are read again, and deduplicated).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from scrm.core.db import utcnow
from scrm.core.models import PluginState

__all__ = ["get_state", "set_state"]


def get_state(session: Session, plugin: str, key: str) -> dict[str, Any] | None:
    """Return the stored state of ``plugin`` under ``key``, or None."""
    value: dict[str, Any] | None = session.scalar(
        sa.select(PluginState.value).where(PluginState.plugin == plugin, PluginState.key == key)
    )
    return value


def set_state(session: Session, plugin: str, key: str, value: dict[str, Any]) -> None:
    """Store ``value`` as the state of ``plugin`` under ``key`` (insert or replace)."""
    row = session.scalar(
        sa.select(PluginState)
        .where(PluginState.plugin == plugin, PluginState.key == key)
        .with_for_update()
    )
    if row is None:
        session.add(PluginState(plugin=plugin, key=key, value=value))
    else:
        row.value = value
        row.updated_at = utcnow()
    session.flush()
