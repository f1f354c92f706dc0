"""Agents' console passwords: set by an administrator, stored as a salted scrypt hash.

The stored string names the function and carries its parameters and salt, so the cost can be
raised later without breaking stored hashes: ``scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>``
(:func:`hashlib.scrypt`, standard library).  Verification compares in constant time, and a
sign-in for an unknown agent or one without a password costs one hash too, so the time taken does not say
which usernames exist.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

import sqlalchemy as sa
from sqlalchemy.orm import Session

from scrm.core import audit
from scrm.core.apikeys import Principal
from scrm.core.errors import N_, InvalidInput
from scrm.core.models import Agent
from scrm.core.queries import NotFound

__all__ = [
    "MAX_LENGTH",
    "MIN_LENGTH",
    "PasswordError",
    "agent_principal",
    "check_agent_password",
    "fingerprint",
    "hash_password",
    "set_agent_password",
    "verify_password",
]

MIN_LENGTH = 10
MAX_LENGTH = 1024
#: scrypt's cost (2**15), block size and parallelism: about 32 MiB and a tenth of a second.
N, R, P = 2**15, 8, 1
_SALT_BYTES, _HASH_BYTES = 16, 32


class PasswordError(InvalidInput):
    """A password that cannot be set: too short, too long, or with NUL."""

    def __init__(self, message: str, **params: object) -> None:
        super().__init__(message, field="password", **params)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=2 * 128 * r * n + 2**20,
        dklen=_HASH_BYTES,
    )  # fmt: skip


def hash_password(password: str) -> str:
    """The stored form of ``password``, with a new random salt."""
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise PasswordError(
            N_("a password has %(min)s to %(max)s characters"), min=MIN_LENGTH, max=MAX_LENGTH
        )
    if "\x00" in password:
        raise PasswordError(N_("a password must not contain NUL"))
    salt = secrets.token_bytes(_SALT_BYTES)
    return f"scrypt${N}${R}${P}${_b64(salt)}${_b64(_scrypt(password, salt, N, R, P))}"


def verify_password(password: str, stored: str | None) -> bool:
    """Whether ``password`` matches ``stored``; a missing or malformed hash matches nothing
    (after hashing anyway, so that the answer takes as long)."""
    try:
        name, n, r, p, salt, digest = (stored or "").split("$")
        params = int(n), int(r), int(p)
        expected = base64.b64decode(digest, validate=True)
        salt_bytes = base64.b64decode(salt, validate=True)
        if name != "scrypt" or params[0] > 2**20 or params[1] > 32 or params[2] > 16:
            raise ValueError(name)
    except ValueError:
        params, salt_bytes, expected = (N, R, P), b"\0" * _SALT_BYTES, b""
    if len(password) > MAX_LENGTH:
        password = password[:MAX_LENGTH]
    got = _scrypt(password, salt_bytes, *params)
    return bool(expected) and hmac.compare_digest(got, expected)


def fingerprint(stored: str) -> str:
    """A short digest of a stored hash: a session keeps it, so a new password ends it."""
    return hashlib.sha256(stored.encode("ascii")).hexdigest()[:16]


def set_agent_password(session: Session, username: str, password: str, *, actor: str) -> None:
    """Set agent ``username``'s password, with its ``agent.password`` audit entry (no secret).

    :raises NotFound: for an unknown agent.
    :raises PasswordError: for a password that cannot be used.
    """
    agent = session.scalar(sa.select(Agent).where(Agent.username == username))
    if agent is None:
        raise NotFound(N_("no agent %(name)r"), name=username)
    agent.password_hash = hash_password(password)
    audit.record(
        session, actor=actor, action="agent.password", target_type="agent", target_id=username
    )
    session.flush()


def check_agent_password(session: Session, username: str, password: str) -> Agent | None:
    """Agent ``username`` if ``password`` is theirs, else None (whatever the agent's status:
    an agent who is away may still sign in)."""
    agent = session.scalar(sa.select(Agent).where(Agent.username == username[:64]))
    ok = verify_password(password, agent.password_hash if agent is not None else None)
    return agent if ok else None


def agent_principal(session: Session, agent_id: int, fingerprint_: str | None) -> Principal | None:
    """Who an agent signed in by password is: role ``agent`` in their own department, acting
    as themselves; None once the agent is gone or their password changed (or was removed)."""
    agent = session.get(Agent, agent_id)
    if agent is None or agent.password_hash is None:
        return None
    if not hmac.compare_digest(fingerprint(agent.password_hash), fingerprint_ or ""):
        return None
    department = agent.department.code if agent.department is not None else None
    return Principal(
        key_id=0,
        name=f"password:{agent.username}",
        role="agent",
        departments=(department,) if department else (),
        agent=agent.username,
        brand_id=agent.brand_id,
    )
