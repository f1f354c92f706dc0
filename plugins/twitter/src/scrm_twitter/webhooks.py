"""Account Activity webhooks: answer the CRC challenge and verify the signature of deliveries.

X signs both with the app's consumer secret: ``sha256=`` + base64 HMAC-SHA256 of the CRC
token (GET) or of the raw request body (POST, header ``x-twitter-webhooks-signature``).
The HTTP server mounts :func:`crc_response` and :func:`receive`; nothing here opens a socket.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

from scrm_twitter.mapping import split_payload

if TYPE_CHECKING:
    from scrm.plugin import IngestReport, Scrm

__all__ = [
    "SIGNATURE_HEADER",
    "WebhookRejected",
    "crc_response",
    "receive",
    "sign",
    "verify_signature",
]

SIGNATURE_HEADER = "x-twitter-webhooks-signature"


class WebhookRejected(Exception):
    """A delivery was refused (bad or missing signature, not JSON); nothing was stored."""


def sign(consumer_secret: str, message: bytes) -> str:
    """Return ``sha256=<base64 HMAC-SHA256(consumer_secret, message)>``."""
    digest = hmac.new(consumer_secret.encode(), message, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode("ascii")


def crc_response(consumer_secret: str, crc_token: str) -> dict[str, str]:
    """Return the JSON body that answers X's ``GET ?crc_token=...`` challenge."""
    return {"response_token": sign(consumer_secret, crc_token.encode())}


def verify_signature(consumer_secret: str, headers: Mapping[str, str], body: bytes) -> bool:
    """Return True if ``headers`` carry a valid signature of the raw ``body``.

    Header names are matched case-insensitively; the comparison is constant-time.
    """
    given = next((v for k, v in headers.items() if k.lower() == SIGNATURE_HEADER), None)
    if not given or not consumer_secret:
        return False
    return hmac.compare_digest(given.strip().encode(), sign(consumer_secret, body).encode())


def receive(app: Scrm, headers: Mapping[str, str], body: bytes) -> IngestReport:
    """Verify one Account Activity delivery and ingest it; what the server's POST route calls.

    :raises WebhookRejected: when the signature is wrong or missing, or the body is not a
        JSON object; nothing is stored then.
    """
    channel = app.channel("twitter")
    if not channel.verify(headers, body):
        raise WebhookRejected(f"missing or invalid {SIGNATURE_HEADER} header")
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise WebhookRejected(f"the body is not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise WebhookRejected("the body is not a JSON object")
    return app.ingest_native("twitter", split_payload(payload), source="webhook:twitter")
