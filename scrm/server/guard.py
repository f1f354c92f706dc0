"""The checks every request passes before a route sees it: body size, and no NUL.

:class:`BodyLimit` reads the body up to ``server.max_body_bytes`` before the route runs, so
an oversized body is refused with 413 whether its size was declared (``Content-Length``) or
not (chunked).  :class:`InputGuard` refuses, with 422 naming the parameter, a query
parameter or a JSON body field of the API holding a NUL or a lone surrogate: neither can be
stored (PostgreSQL refuses NUL, UTF-8 surrogates), and a search for them finds nothing on
either database.  The ingest route is the exception: a message is normalised by the
interchange schema (see :mod:`scrm.core.bounds`) and stored, like one from a file.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scrm.core.bounds import MAX_DEPTH, TooDeep, clean_json, clean_text
from scrm.server.errors import error_response

__all__ = ["BodyLimit", "InputGuard"]


class BodyLimit:
    """ASGI middleware refusing bodies over ``max_bytes`` (declared or streamed) with 413."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_bytes:
                    await self._refuse(scope, receive, send)
                    return
        # Read the whole body first (at most max_bytes): refusing it half-way through a
        # route's own read would surface as that route's parse error (400), not 413.
        parts: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            body = message.get("body", b"")
            seen += len(body)
            if seen > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            parts.append(body)
            if not message.get("more_body", False):
                break
        body = {"type": "http.request", "body": b"".join(parts), "more_body": False}
        await self.app(scope, _replay(body, receive), send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response: Any = error_response(
            413, "too_large", f"the request body is over the limit of {self.max_bytes} bytes"
        )
        await response(scope, receive, send)


def _replay(first: Message, receive: Receive) -> Receive:
    """A ``receive`` that gives ``first`` again, then what the client sends next."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return first
        return await receive()

    return replay


class InputGuard:
    """ASGI middleware: 422 for a NUL or lone surrogate in a query parameter or an API body.

    :param api_prefix: bodies are checked under this path only (webhook bodies are the
        platform's bytes, verified by signature and kept as received).
    :param ingest_paths: ``(method, path)`` pairs whose body is a message to normalise.
    """

    def __init__(
        self, app: ASGIApp, api_prefix: str, ingest_paths: tuple[tuple[str, str], ...] = ()
    ) -> None:
        self.app, self.api_prefix, self.ingest_paths = app, api_prefix, ingest_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = scope.get("query_string", b"").decode("latin-1")
        for key, value in parse_qsl(query, keep_blank_values=True, errors="surrogateescape"):
            if clean_text(key)[1] or clean_text(value)[1]:
                name = clean_text(key)[0][:64]
                await _invalid(scope, receive, send, name, "must not contain NUL or invalid text")
                return
        path, method = scope.get("path", ""), scope.get("method", "")
        if not path.startswith(self.api_prefix) or (method, path) in self.ingest_paths:
            await self.app(scope, receive, send)
            return
        body = b""
        message = await receive()
        if message["type"] == "http.request":
            body = message.get("body", b"")
        where = _bad_text(body)
        if where is not None:
            await _invalid(scope, receive, send, where, "must not contain NUL or invalid text")
            return
        await self.app(scope, _replay(message, receive), send)


def _bad_text(body: bytes) -> str | None:
    """Return the dotted path of the first string with NUL or a surrogate in a JSON body."""
    if b"\\u" not in body and b"\x00" not in body:
        return None  # JSON can only carry those characters escaped (or raw, and invalid)
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        return None  # not JSON: the route refuses it with its own message
    try:
        _, changed = clean_json(payload, max_depth=MAX_DEPTH * 4, drop_nonfinite=False)
    except TooDeep:
        return None
    return (changed[0] or "body") if changed else None


async def _invalid(scope: Scope, receive: Receive, send: Send, field: str, message: str) -> None:
    response: Any = error_response(422, "invalid", f"{field} {message}", field)
    await response(scope, receive, send)
