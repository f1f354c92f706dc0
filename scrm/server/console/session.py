"""The console's sign-in session: one signed cookie, its CSRF token, and flash messages.

The cookie holds the signed-in API key's *id* (never its token), or for a password sign-in
the agent's id and a fingerprint of their password's hash (never the password), a CSRF token and the
messages to show on the next page, signed with a key derived from ``server.secret_key``
(itsdangerous; tampering or age past :data:`MAX_AGE` reads as signed out).  Every request
looks the key up again, so revoking it ends its console sessions at once.  The cookie is
HttpOnly, SameSite=Lax, scoped to ``/app``, and Secure when the request came over TLS.
Every form carries the CSRF token, and a POST without the session's token is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from scrm.core.config import ServerConfig

__all__ = ["COOKIE", "MAX_AGE", "ConsoleSession", "Signer", "csrf_ok"]

log = logging.getLogger(__name__)

COOKIE = "scrm_console"
PATH = "/app"
#: A sign-in lasts a working day (seconds).
MAX_AGE = 12 * 3600
_MAX_FLASH = 3


@dataclass
class ConsoleSession:
    """What the cookie carries."""

    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    key_id: int | None = None
    agent_id: int | None = None
    """Signed in by password: the agent's id, and the fingerprint of the password's hash
    (a new password ends the session)."""
    password: str | None = None
    language: str | None = None
    """The interface language the person picked (``tr``, ``en``); None: the browser's."""
    brand: int | None = None
    """The brand an agency-level person limits the pages to; None: every brand.  Read only
    for a caller of no brand (a brand's own people always see their brand)."""
    flash: list[str] = field(default_factory=list)
    changed: bool = False

    def say(self, message: str) -> None:
        """Show ``message`` on the next page rendered."""
        self.flash = [*self.flash, message[:300]][-_MAX_FLASH:]
        self.changed = True

    def take_flash(self) -> list[str]:
        """The messages to show now (shown once)."""
        out, self.flash = self.flash, []
        if out:
            self.changed = True
        return out


class Signer:
    """Reads and writes the session cookie with a key derived from the server key."""

    def __init__(self, config: ServerConfig) -> None:
        key = config.secret_key.get_secret_value() if config.secret_key else ""
        if not key:
            # Without a server key sessions still work, but end when the server restarts.
            log.warning("no server.secret_key: console sign-ins end when the server restarts")
            key = secrets.token_urlsafe(32)
        derived = hmac.new(key.encode(), b"scrm console session", hashlib.sha256).hexdigest()
        self._serializer = URLSafeTimedSerializer(derived, salt="scrm.console")

    def load(self, request: Request) -> ConsoleSession:
        """The request's session; a new anonymous one if it has none or a bad one."""
        raw = request.cookies.get(COOKIE)
        if raw:
            try:
                data: Any = self._serializer.loads(raw, max_age=MAX_AGE)
            except BadSignature:
                data = None
            if isinstance(data, dict) and isinstance(data.get("c"), str):
                key_id, agent_id, password = data.get("k"), data.get("a"), data.get("p")
                language, brand = data.get("l"), data.get("b")
                flash = data.get("f")
                return ConsoleSession(
                    csrf=data["c"],
                    key_id=key_id if isinstance(key_id, int) else None,
                    agent_id=agent_id if isinstance(agent_id, int) else None,
                    password=password if isinstance(password, str) else None,
                    language=language if isinstance(language, str) else None,
                    brand=brand if isinstance(brand, int) else None,
                    flash=[str(m) for m in flash][:_MAX_FLASH] if isinstance(flash, list) else [],
                )
        return ConsoleSession(changed=True)

    def save(self, request: Request, response: Response, session: ConsoleSession) -> None:
        """Write the session onto ``response``."""
        value = self._serializer.dumps(
            {"c": session.csrf, "k": session.key_id, "a": session.agent_id,
             "p": session.password, "l": session.language, "b": session.brand,
             "f": session.flash}
        )  # fmt: skip
        response.set_cookie(
            COOKIE,
            value,
            max_age=MAX_AGE,
            path=PATH,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )

    def clear(self, request: Request, response: Response) -> None:
        """Sign out: the cookie is deleted with the same attributes it was set with."""
        response.delete_cookie(
            COOKIE,
            path=PATH,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )


def csrf_ok(session: ConsoleSession, given: str | None) -> bool:
    """Whether a form's token is the session's (compared in constant time)."""
    return bool(given) and hmac.compare_digest(session.csrf.encode(), (given or "").encode())
