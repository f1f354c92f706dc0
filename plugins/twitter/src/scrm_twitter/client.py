"""A small X API v2 client: the credentials X takes, and how X words its errors.

Rate-limit headers, waiting on 429 and retrying 5xx are :class:`scrm.plugin.polling.ApiClient`'s.
Errors carry what X said (its problem ``title``/``detail``) and the *name* of the credential
involved, never its value.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from scrm.plugin.polling import ApiClient, AuthError, Retry
from scrm_twitter import oauth1

if TYPE_CHECKING:
    import httpx

    from scrm_twitter.channel import TwitterChannel

__all__ = ["XClient"]

USER_AGENT = "scrm-twitter/0.1"


class XClient(ApiClient):
    """Talk to the X API as configured in a :class:`TwitterChannel`'s settings.

    Requests take ``auth="app"`` (the bearer token, else user context) or ``auth="user"``.

    :param sleep: called with seconds to wait (injectable so that tests do not sleep).
    :param clock: returns the current Unix time.
    """

    service = "X"
    hints: ClassVar[Mapping[int, str]] = {
        401: "the credential is wrong, expired or revoked",
        403: "check the app's access level and the credential's permissions",
    }

    def __init__(
        self,
        channel: TwitterChannel,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        http: httpx.Client | None = None,
    ) -> None:
        import httpx  # here, not at the top: importing httpx also imports click and rich

        self.s = s = channel.settings
        super().__init__(
            http or httpx.Client(
                base_url=s.base_url, timeout=s.timeout, headers={"user-agent": USER_AGENT}
            ),
            Retry(retries=s.max_retries, backoff=s.backoff, max_wait=s.max_rate_limit_wait),
            sleep=sleep,
            clock=clock,
        )

    def credential_name(self, auth: str | None) -> str:
        """Name the credential a request with ``auth`` uses, for error messages."""
        s = self.s
        if auth != "user" and s.bearer_token:
            return "channels.twitter.bearer_token"
        if s.user_access_token:
            return "channels.twitter.user_access_token (OAuth 2.0 user context)"
        if s.has_oauth1():
            return "the OAuth 1.0a keys channels.twitter.consumer_key/consumer_secret/access_token/access_token_secret"
        return "no credential"

    def authorization(
        self, method: str, url: str, params: Mapping[str, Any], auth: str | None
    ) -> dict[str, str]:
        s = self.s
        if auth != "user" and s.bearer_token:
            return {"authorization": "Bearer " + s.bearer_token.get_secret_value()}
        if s.user_access_token:
            return {"authorization": "Bearer " + s.user_access_token.get_secret_value()}
        if s.has_oauth1():
            assert s.consumer_key and s.consumer_secret and s.access_token
            assert s.access_token_secret
            header = oauth1.authorization_header(
                method,
                url,
                {k: str(v) for k, v in params.items()},
                consumer_key=s.consumer_key.get_secret_value(),
                consumer_secret=s.consumer_secret.get_secret_value(),
                token=s.access_token.get_secret_value(),
                token_secret=s.access_token_secret.get_secret_value(),
            )
            return {"authorization": header}
        needs = (
            "channels.twitter.bearer_token (or user credentials)"
            if auth != "user"
            else "channels.twitter.user_access_token or the four OAuth 1.0a keys "
            "(consumer_key, consumer_secret, access_token, access_token_secret)"
        )
        raise AuthError(f"{method} {url.split('?')[0]} needs {needs}; none is configured")

    def decode(self, r: httpx.Response) -> dict[str, Any]:
        """Return the JSON object of a response (a list as ``{"data": [...]}``; else ``{}``)."""
        body = super().decode(r)
        if body is None:
            return {}
        return body if isinstance(body, dict) else {"data": body}
