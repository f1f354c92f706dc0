"""API keys: create and revoke, each one transaction with its audit entry."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from scrm.core import apikeys
from scrm.core.apikeys import ApiKeyOut

if TYPE_CHECKING:
    from scrm.core.app import Scrm

__all__ = ["create", "revoke"]


def create(
    app: Scrm,
    *,
    name: str,
    role: str,
    actor: str,
    departments: Sequence[str] = (),
    agent: str | None = None,
) -> tuple[ApiKeyOut, str]:
    """Create a key; return it and its token, which exists in clear only now.

    :raises InvalidInput: for a role and departments that do not fit together.
    :raises NotFound: for an unknown department or agent.
    """
    with app.session() as s:
        return apikeys.create_key(
            s, name=name, role=role, actor=actor, departments=list(departments), agent=agent
        )


def revoke(app: Scrm, key_id: int, *, actor: str) -> ApiKeyOut:
    """Revoke a key at once; revoking a revoked key changes nothing.  :raises NotFound:"""
    with app.session() as s:
        return apikeys.revoke_key(s, key_id, actor=actor)
