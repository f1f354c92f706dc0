"""Webhook intake for channel plugins.

A plugin's ``POST /webhooks/<channel>`` route (added through the ``register_routes`` hook)
returns ``await receive_webhook(request, "<channel>", background_tasks)``:

1. the raw body is read (over ``server.max_body_bytes``: 413, nothing stored);
2. ``Channel.verify(headers, body)`` checks the platform's signature (wrong: 403, nothing
   stored);
3. the body is committed to the ``inbox`` table (a redelivery is found, not stored again);
4. 200 is answered, and the body is ingested right after, as a background task.  If the
   process dies in between, or the ingest fails, ``scrm inbox process`` (or the worker)
   ingests what is still pending, with a backoff and a cap (see :mod:`scrm.core.inbox`).
"""

from __future__ import annotations

import logging

from fastapi import BackgroundTasks, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from scrm.core import inbox
from scrm.core.app import Scrm, UnknownChannel
from scrm.server.errors import error_response

__all__ = ["receive_webhook"]

log = logging.getLogger(__name__)


def _process(app: Scrm, inbox_id: int, channel: str) -> None:
    # A failure is logged and counted by process_one (the row is retried after a backoff by
    # `scrm inbox process` or the worker); only a database gone away escapes, logged here.
    try:
        inbox.process_one(app, inbox_id)
    except Exception as exc:
        log.warning(
            "inbox %s (%s): left pending: %s: %s", inbox_id, channel, type(exc).__name__, exc
        )


async def receive_webhook(
    request: Request, channel: str, background: BackgroundTasks
) -> JSONResponse:
    """Verify, store durably, answer, then ingest one webhook delivery for ``channel``."""
    app: Scrm = request.app.state.scrm
    try:
        ch = app.channel(channel)
    except UnknownChannel:
        return error_response(404, "not_found", f"channel {channel} is not available")
    body = await request.body()
    headers = {k: v for k, v in request.headers.items()}
    if not ch.verify(headers, body):
        log.warning("webhook for %s refused: bad or missing signature", channel)
        return error_response(403, "bad_signature", "the signature is missing or does not match")
    inbox_id, new = await run_in_threadpool(inbox.store, app, channel, body)
    if new and app.config.server.process_webhooks:
        background.add_task(_process, app, inbox_id, channel)
    return JSONResponse({"status": "accepted" if new else "duplicate", "inbox_id": inbox_id})
