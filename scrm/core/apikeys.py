"""API keys for the REST API: random tokens, stored only as their SHA-256.

A token looks like ``scrm_<43 url-safe characters>``; its first characters (the *prefix*)
are stored in clear so that an operator can tell keys apart, the rest never is.  The
token is shown once, when the key is created.  Roles:

``admin``        everything, including merges and delivery runs;
``agent``        reads, and works cases of its departments only (others are invisible);
``readonly``     reads;
``integration``  reads and creates interactions (ingest).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from scrm.core import audit
from scrm.core.db import utcnow
from scrm.core.errors import N_, InvalidInput
from scrm.core.models import Agent, ApiKey, Department
from scrm.core.queries import NotFound

__all__ = [
    "ROLES",
    "ApiKeyOut",
    "Principal",
    "authenticate",
    "create_key",
    "hash_token",
    "list_keys",
    "principal_for",
    "revoke_key",
]

ROLES = ("admin", "agent", "readonly", "integration")
TOKEN_PREFIX = "scrm_"
PREFIX_LENGTH = 12
_TOUCH_EVERY = timedelta(minutes=1)


class ApiKeyOut(BaseModel):
    """A key as listed: never its token or its hash."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str
    role: str
    departments: list[str]
    agent: str | None = None
    brand_id: int | None = None
    created_by: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's role, its departments (agents), the actor name it acts as,
    and the brand it is limited to (None: the agency, across brands)."""

    key_id: int
    name: str
    role: str
    departments: tuple[str, ...] = ()
    agent: str | None = None
    brand_id: int | None = None

    @property
    def actor(self) -> str:
        """The name written on timelines: the linked agent's username, else ``key:<name>``."""
        return self.agent or f"key:{self.name}"

    def sees_department(self, code: str | None) -> bool:
        """Whether this caller may see a case of department ``code``."""
        return self.role != "agent" or (code is not None and code in self.departments)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _out(key: ApiKey, agent: str | None) -> ApiKeyOut:
    return ApiKeyOut.model_validate(
        {
            **{c.key: getattr(key, c.key) for c in ApiKey.__table__.columns},
            "departments": list(key.departments),
            "agent": agent,
        }
    )


def create_key(
    session: Session,
    *,
    name: str,
    role: str,
    actor: str,
    departments: tuple[str, ...] | list[str] = (),
    agent: str | None = None,
) -> tuple[ApiKeyOut, str]:
    """Create a key; return it and its token (the only time the token exists in clear).

    :raises InvalidInput: for an unknown role, an agent key without departments, or a key
        with departments that is not an agent key.
    :raises NotFound: for an unknown department or agent.
    """
    if role not in ROLES:
        raise InvalidInput(
            N_("role must be one of %(roles)s, not %(role)r"), roles=", ".join(ROLES), role=role
        )
    if role == "agent" and not departments:
        raise InvalidInput(N_("an agent key needs at least one department (--department)"))
    if role != "agent" and departments:
        raise InvalidInput(N_("only agent keys are limited to departments"))
    known = set(session.scalars(sa.select(Department.code)))
    for code in departments:
        if code not in known:
            raise NotFound(
                N_("no department %(code)r; departments: %(known)s"),
                code=code,
                known=", ".join(sorted(known)),
            )
    agent_id = brand_id = None
    if agent is not None:
        found = session.execute(
            sa.select(Agent.id, Agent.brand_id).where(Agent.username == agent)
        ).first()
        if found is None:
            raise NotFound(N_("no agent %(name)r; add one with `scrm agents add`"), name=agent)
        agent_id, brand_id = found  # a brand's agent's key is limited to the brand

    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        name=name,
        prefix=token[:PREFIX_LENGTH],
        key_hash=hash_token(token),
        role=role,
        departments=sorted(set(departments)),
        agent_id=agent_id,
        brand_id=brand_id,
        created_by=actor,
    )
    session.add(key)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="apikey.create",
        target_type="api_key",
        target_id=key.id,
        details={
            "name": name,
            "role": role,
            "departments": key.departments,
            "agent": agent,
            "brand_id": key.brand_id,
        },
    )
    return _out(key, agent), token


def list_keys(session: Session, *, include_revoked: bool = False) -> list[ApiKeyOut]:
    q = (
        sa.select(ApiKey, Agent.username)
        .outerjoin(Agent, Agent.id == ApiKey.agent_id)
        .order_by(ApiKey.id)
    )
    if not include_revoked:
        q = q.where(ApiKey.revoked_at.is_(None))
    return [_out(k, u) for k, u in session.execute(q)]


def revoke_key(session: Session, key_id: int, *, actor: str) -> ApiKeyOut:
    """Revoke a key at once; it can never be used again.  :raises NotFound:"""
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(N_("no API key %(id)s"), id=key_id)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        audit.record(
            session,
            actor=actor,
            action="apikey.revoke",
            target_type="api_key",
            target_id=key.id,
            details={"name": key.name},
        )
    agent = session.get(Agent, key.agent_id) if key.agent_id else None
    return _out(key, agent.username if agent else None)


def authenticate(session: Session, token: str, now: datetime | None = None) -> Principal | None:
    """Return the caller a token belongs to, or None for an unknown or revoked token."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    return _principal(session, ApiKey.key_hash == hash_token(token), now)


def principal_for(session: Session, key_id: int, now: datetime | None = None) -> Principal | None:
    """Return the caller of key ``key_id`` (a console session holds the key's id, never its
    token), or None once the key is revoked or gone."""
    return _principal(session, ApiKey.id == key_id, now)


def _principal(session: Session, where: Any, now: datetime | None) -> Principal | None:
    row = session.execute(
        sa.select(ApiKey, Agent.username).outerjoin(Agent, Agent.id == ApiKey.agent_id).where(where)
    ).first()
    if row is None:
        return None
    key, agent = row
    if key.revoked_at is not None:
        return None
    now = now or utcnow()
    if key.last_used_at is None or now - key.last_used_at > _TOUCH_EVERY:
        key.last_used_at = now
    return Principal(
        key_id=key.id,
        name=key.name,
        role=key.role,
        departments=tuple(key.departments),
        agent=agent,
        brand_id=key.brand_id,
    )
