"""A small Mastodon REST client: the bearer token, and how the instance words its errors.

Rate-limit headers (one window for the whole account), waiting on 429 (``Retry-After``, else
``X-RateLimit-Reset``) and retrying 5xx are :class:`scrm.plugin.polling.ApiClient`'s.  Errors
carry what the server said (its ``error`` field) and the *name* of the credential, never its
value.  Requests only ever go to the configured instance: a ``Link`` header is read for its
``max_id``, never followed as a URL (a hostile server could point it elsewhere and collect
the token).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from scrm.plugin.polling import ApiClient, AuthError, RateState, Response, Retry

if TYPE_CHECKING:
    import httpx

    from scrm_mastodon.channel import MastodonChannel

# httpx is imported when a client is made: it loads click and rich, which an application
# opened with scrm.open() (the channel is built with it) should not pay for.

__all__ = ["MastodonClient", "next_max_id"]

USER_AGENT = "scrm-mastodon/0.1"
TOKEN = "channels.mastodon.access_token"


def next_max_id(headers: Mapping[str, str]) -> str | None:
    """Return the ``max_id`` of the ``rel="next"`` page in a ``Link`` header, if any."""
    value = headers.get("link", "")
    if len(value) > 8192:
        return None
    for part in value.split(","):
        url, _, params = part.partition(";")
        if 'rel="next"' not in params.replace(" ", ""):
            continue
        query = parse_qs(urlsplit(url.strip().strip("<>")).query)
        ids = query.get("max_id") or []
        if ids and 0 < len(ids[0]) <= 64:
            return ids[0]
    return None


class MastodonClient(ApiClient):
    """Talk to one Mastodon instance as configured in a :class:`MastodonChannel`'s settings.

    :param sleep: called with seconds to wait (injectable so that tests do not sleep).
    :param clock: returns the current Unix time.
    """

    service = "the instance"
    hints: ClassVar[Mapping[int, str]] = {
        401: "the token is wrong, expired or revoked",
        403: "check the token's scopes (read, write:statuses)",
    }

    def __init__(
        self,
        channel: MastodonChannel,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        http: httpx.Client | None = None,
    ) -> None:
        import httpx

        self.s = s = channel.settings
        super().__init__(
            http or httpx.Client(
                base_url=s.instance_url or "http://unset.invalid",
                timeout=s.timeout,
                headers={"user-agent": USER_AGENT},
                follow_redirects=False,
            ),
            Retry(retries=s.max_retries, backoff=s.backoff, max_wait=s.max_rate_limit_wait),
            sleep=sleep,
            clock=clock,
            shared_window=True,
        )
        self.where = s.instance_url or self.service

    @property
    def rate(self) -> RateState | None:
        """The account's rate-limit state from the last response (None before one)."""
        return self.rates.get("*")

    def credential_name(self, auth: str | None) -> str:
        return TOKEN

    def authorization(
        self, method: str, url: str, params: Mapping[str, Any], auth: str | None
    ) -> dict[str, str]:
        assert self.s.access_token is not None  # request() checked
        return {"authorization": "Bearer " + self.s.access_token.get_secret_value()}

    def request(self, method: str, path: str, *, endpoint: str, **kw: Any) -> Response:
        """Send one request (see :meth:`ApiClient.request`) once the instance and token are set.

        :raises AuthError, RateLimited, ServerError, ApiError:
        """
        if not self.s.instance_url:
            raise AuthError(f"{endpoint} needs channels.mastodon.instance_url; none is configured")
        if self.s.access_token is None:
            raise AuthError(f"{endpoint} needs {TOKEN}; none is configured")
        return super().request(method, path, endpoint=endpoint, **kw)
