"""scrm's own request log: method, route template, status and time, never the URL itself.

A web server's access log writes each request line whole: the Facebook handshake's
``hub.verify_token``, a customer search for an e-mail address, an API key a client put in
the URL.  ``scrm serve`` turns uvicorn's access log off and :class:`RequestLog` logs each
request instead (logger ``scrm.access``, INFO)::

    GET /api/v1/customers/{customer_id} 200 3.1ms

The path is the matched route's *template*, so not even ids are logged; a path no route
matches is logged as ``-``.  The client's address is not logged either (it is personal data).

Under ``/api/v1`` a query parameter that carries a credential (``api_key``, ``token``, ...) is
refused with 400 before anything else runs: an API key belongs in the ``Authorization``
header, which proxies and logs do not keep.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scrm.server.errors import error_response

__all__ = ["CREDENTIAL_PARAMS", "RequestLog"]

log = logging.getLogger("scrm.access")

#: Query parameter names (compared lower-cased, ``-`` read as ``_``) refused on API routes.
CREDENTIAL_PARAMS = frozenset(
    {
        "access_token",
        "api_key",
        "apikey",
        "auth",
        "auth_token",
        "authorization",
        "bearer",
        "key",
        "password",
        "secret",
        "token",
    }
)


def _credential_in_query(scope: Scope) -> bool:
    query = scope.get("query_string", b"").decode("latin-1")
    if not query:
        return False
    names = (k.lower().replace("-", "_") for k, _ in parse_qsl(query, keep_blank_values=True))
    return any(n in CREDENTIAL_PARAMS for n in names)


class RequestLog:
    """ASGI middleware: log every HTTP request safely; refuse credentials in API URLs."""

    def __init__(self, app: ASGIApp, api_prefix: str) -> None:
        self.app, self.api_prefix = app, api_prefix
        self._paths: dict[int, str] | None = None

    def _template(self, scope: Scope) -> str:
        """The full path template of the route that answered (``-`` when none did)."""
        route = scope.get("route")
        if route is None:
            return "-"
        if self._paths is None:
            # A route included from a router knows only its own part of the path; the
            # application's flattened routes know the whole.
            from scrm.server.app import iter_routes

            self._paths = {
                id(getattr(r, "original_route", r)): path
                for _, path, r in iter_routes(scope["app"])
            }
        return self._paths.get(id(route)) or str(getattr(route, "path", "-"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # what the client gets if the application raises

        async def seen(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            path: str = scope.get("path", "")
            if (path + "/").startswith(self.api_prefix + "/") and _credential_in_query(scope):
                response: Any = error_response(
                    400,
                    "credential_in_url",
                    "an API key or token may not be sent in the URL; "
                    "use the header Authorization: Bearer <token>",
                )
                await response(scope, receive, seen)
                return
            await self.app(scope, receive, seen)
        finally:
            route = self._template(scope)
            ms = (time.perf_counter() - start) * 1000
            log.info(
                "%s %s %d %.1fms",
                scope.get("method", "-"),
                route,
                status,
                ms,
                extra={"method": scope.get("method"), "route": route, "status": status, "ms": ms},
            )
