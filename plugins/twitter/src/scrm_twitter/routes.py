"""``/webhooks/twitter``: the Account Activity webhook, mounted by ``scrm serve``.

``GET`` answers X's CRC challenge with the consumer secret; ``POST`` hands the raw delivery
to the core intake (:func:`scrm.server.receive_webhook`), which checks the
``x-twitter-webhooks-signature`` through :meth:`TwitterChannel.verify`, stores the body in
the inbox before answering 200 and ingests it right after.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Query, Request
from fastapi.responses import JSONResponse

from scrm.plugin.web import error_response, receive_webhook
from scrm_twitter.webhooks import crc_response

__all__ = ["add_routes"]

PATH = "/webhooks/twitter"


async def crc(
    request: Request, crc_token: Annotated[str, Query(min_length=1, max_length=512)]
) -> JSONResponse:
    """Answer the CRC challenge: ``{"response_token": "sha256=..."}``."""
    secret = request.app.state.scrm.channel("twitter").settings.consumer_secret
    if secret is None or not secret.get_secret_value():
        return error_response(403, "not_configured", "channels.twitter.consumer_secret is not set")
    return JSONResponse(crc_response(secret.get_secret_value(), crc_token))


async def deliver(request: Request, background_tasks: BackgroundTasks) -> JSONResponse:
    """Receive one signed Account Activity delivery."""
    return await receive_webhook(request, "twitter", background_tasks)


def add_routes(router: APIRouter) -> None:
    """Mount the CRC check and the delivery route on ``router``."""
    router.add_api_route(PATH, crc, methods=["GET"], summary="X webhook CRC challenge")
    router.add_api_route(PATH, deliver, methods=["POST"], summary="X Account Activity delivery")
