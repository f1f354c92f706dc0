"""``/webhooks/facebook``: the page webhook, mounted by ``scrm serve``.

``GET`` answers Meta's subscription handshake (``hub.mode``, ``hub.verify_token``,
``hub.challenge``); ``POST`` hands the raw delivery to the core intake
(:func:`scrm.server.receive_webhook`), which checks ``X-Hub-Signature-256`` through
:meth:`FacebookChannel.verify`, stores the body in the inbox before answering 200 and
ingests it right after (one record per event, so a bad event is rejected alone).
"""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from scrm.plugin.web import error_response, receive_webhook
from scrm_facebook.channel import FacebookChannel
from scrm_facebook.webhook import SubscriptionError

__all__ = ["add_routes"]

PATH = "/webhooks/facebook"


async def handshake(request: Request) -> Response:
    """Echo ``hub.challenge`` when the verify token matches; 403 otherwise."""
    ch = request.app.state.scrm.channel("facebook")
    assert isinstance(ch, FacebookChannel)
    try:
        challenge = ch.verify_subscription(dict(request.query_params))
    except SubscriptionError:
        return error_response(403, "bad_handshake", "the subscription handshake is not valid")
    return PlainTextResponse(challenge)


async def deliver(request: Request, background_tasks: BackgroundTasks) -> JSONResponse:
    """Receive one signed page webhook delivery."""
    return await receive_webhook(request, "facebook", background_tasks)


def add_routes(router: APIRouter) -> None:
    """Mount the handshake and the delivery route on ``router``."""
    router.add_api_route(PATH, handshake, methods=["GET"], summary="Meta webhook handshake")
    router.add_api_route(PATH, deliver, methods=["POST"], summary="Meta page webhook delivery")
