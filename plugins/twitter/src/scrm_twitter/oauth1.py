"""Sign requests with OAuth 1.0a (HMAC-SHA1), X's user-context scheme for the four app keys."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from urllib.parse import quote, urlsplit

__all__ = ["authorization_header", "signature", "signature_base"]


def _enc(value: str) -> str:
    return quote(value, safe="")


def _base_url(url: str) -> str:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    return f"{parts.scheme.lower()}://{host}{port}{parts.path}"


def signature_base(method: str, url: str, params: Mapping[str, str]) -> str:
    """Return the signature base string (RFC 5849 §3.4.1) of a request."""
    pairs = sorted((_enc(k), _enc(v)) for k, v in params.items())
    query = "&".join(f"{k}={v}" for k, v in pairs)
    return "&".join((method.upper(), _enc(_base_url(url)), _enc(query)))


def signature(base: str, consumer_secret: str, token_secret: str) -> str:
    """Return the base64 HMAC-SHA1 signature of ``base``."""
    key = f"{_enc(consumer_secret)}&{_enc(token_secret)}".encode()
    return base64.b64encode(hmac.new(key, base.encode(), hashlib.sha1).digest()).decode()


def authorization_header(
    method: str,
    url: str,
    query: Mapping[str, str],
    *,
    consumer_key: str,
    consumer_secret: str,
    token: str,
    token_secret: str,
    nonce: str | None = None,
    timestamp: int | None = None,
) -> str:
    """Return the ``Authorization: OAuth ...`` value for a request.

    :param query: the query (or form) parameters; a JSON body is not signed.
    """
    oauth = {
        "oauth_consumer_key": consumer_key,
        "oauth_nonce": nonce or secrets.token_hex(16),
        "oauth_signature_method": "HMAC-SHA1",
        "oauth_timestamp": str(timestamp if timestamp is not None else int(time.time())),
        "oauth_token": token,
        "oauth_version": "1.0",
    }
    base = signature_base(method, url, {**query, **oauth})
    oauth["oauth_signature"] = signature(base, consumer_secret, token_secret)
    return "OAuth " + ", ".join(f'{_enc(k)}="{_enc(v)}"' for k, v in sorted(oauth.items()))
