"""A small X API v2 client: authentication, rate-limit headers, waiting on 429, retrying 5xx.

Errors carry what X said (its problem ``title``/``detail``) and the *name* of the credential
involved, never its value.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from scrm_twitter import oauth1

if TYPE_CHECKING:
    import httpx

    from scrm_twitter.channel import TwitterChannel

__all__ = [
    "ApiError",
    "AuthError",
    "RateLimited",
    "RateState",
    "Response",
    "ServerError",
    "XClient",
]

Auth = Literal["app", "user"]
USER_AGENT = "scrm-twitter/0.1"


@dataclass(frozen=True)
class RateState:
    """The ``x-rate-limit-*`` headers of the last response of one endpoint."""

    limit: int | None
    remaining: int | None
    reset: float | None
    """Unix time (seconds) at which the window resets."""

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateState | None:
        def num(name: str) -> int | None:
            try:
                return int(headers[name])
            except (KeyError, ValueError):
                return None

        if "x-rate-limit-remaining" not in headers and "x-rate-limit-reset" not in headers:
            return None
        reset = num("x-rate-limit-reset")
        return cls(num("x-rate-limit-limit"), num("x-rate-limit-remaining"), reset)


class ApiError(Exception):
    """X answered with an error (or could not be reached: ``status`` 0)."""

    def __init__(self, message: str, status: int = 0, reset: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.reset = reset


class AuthError(ApiError):
    """401/403 or missing credentials: retrying will not help until the configuration changes."""


class RateLimited(ApiError):
    """429 and waiting was not allowed or would take too long."""


class ServerError(ApiError):
    """5xx or a connection problem that outlasted the retries."""


@dataclass(frozen=True)
class Response:
    status: int
    body: dict[str, Any]
    headers: Mapping[str, str]


class XClient:
    """Talk to the X API as configured in a :class:`TwitterChannel`'s settings.

    :param sleep: called with seconds to wait (injectable so that tests do not sleep).
    :param clock: returns the current Unix time.
    """

    def __init__(
        self,
        channel: TwitterChannel,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        http: httpx.Client | None = None,
    ) -> None:
        import httpx  # here, not at the top: importing httpx also imports click and rich
        self.s = channel.settings
        self.sleep = sleep
        self.clock = clock
        self.http = http or httpx.Client(
            base_url=self.s.base_url, timeout=self.s.timeout, headers={"user-agent": USER_AGENT}
        )
        self.rates: dict[str, RateState] = {}

    def close(self) -> None:
        self.http.close()

    # -- credentials -----------------------------------------------------------------------

    def credential_name(self, auth: Auth) -> str:
        """Name the credential a request with ``auth`` uses, for error messages."""
        s = self.s
        if auth == "app" and s.bearer_token:
            return "channels.twitter.bearer_token"
        if s.user_access_token:
            return "channels.twitter.user_access_token (OAuth 2.0 user context)"
        if s.has_oauth1():
            return "the OAuth 1.0a keys channels.twitter.consumer_key/consumer_secret/access_token/access_token_secret"
        return "no credential"

    def _authorization(self, auth: Auth, method: str, url: str, params: Mapping[str, str]) -> str:
        s = self.s
        if auth == "app" and s.bearer_token:
            return "Bearer " + s.bearer_token.get_secret_value()
        if s.user_access_token:
            return "Bearer " + s.user_access_token.get_secret_value()
        if s.has_oauth1():
            assert s.consumer_key and s.consumer_secret and s.access_token
            assert s.access_token_secret
            return oauth1.authorization_header(
                method,
                url,
                params,
                consumer_key=s.consumer_key.get_secret_value(),
                consumer_secret=s.consumer_secret.get_secret_value(),
                token=s.access_token.get_secret_value(),
                token_secret=s.access_token_secret.get_secret_value(),
            )
        needs = (
            "channels.twitter.bearer_token (or user credentials)"
            if auth == "app"
            else "channels.twitter.user_access_token or the four OAuth 1.0a keys "
            "(consumer_key, consumer_secret, access_token, access_token_secret)"
        )
        raise AuthError(f"{method} {url.split('?')[0]} needs {needs}; none is configured")

    # -- requests --------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        endpoint: str,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        auth: Auth = "app",
        wait: bool = True,
        retries: int | None = None,
    ) -> Response:
        """Send one request; wait on 429 and retry 5xx when allowed; return a 2xx response.

        :param endpoint: the route template (``GET /2/users/:id/mentions``) whose
            rate-limit state the response updates.
        :param wait: sleep until the rate-limit window resets on 429 (up to
            ``max_rate_limit_wait``); otherwise raise :class:`RateLimited` at once.
        :param retries: how often to retry 5xx and connection errors (default: settings).
        :raises AuthError, RateLimited, ServerError, ApiError:
        """
        import httpx  # here, not at the top: importing httpx also imports click and rich
        params = dict(params or {})
        retries = self.s.max_retries if retries is None else retries
        attempt = waits = 0
        while True:
            self._respect_window(endpoint, wait)
            url = str(self.http.base_url.join(path))
            headers = {"authorization": self._authorization(auth, method, url, params)}
            try:
                r = self.http.request(method, path, params=params, json=json, headers=headers)
            except httpx.TransportError as exc:
                err: ApiError = ServerError(f"{endpoint}: cannot reach X: {type(exc).__name__}")
            else:
                rate = RateState.from_headers(r.headers)
                if rate is not None:
                    self.rates[endpoint] = rate
                if r.is_success:
                    return Response(r.status_code, _json(r), r.headers)
                err = self._error(r, endpoint, auth, rate)
                if isinstance(err, RateLimited) and wait:
                    delay = self._until(err.reset)
                    if delay <= self.s.max_rate_limit_wait and waits < 3:
                        waits += 1
                        self.sleep(delay)
                        continue
            if isinstance(err, ServerError) and attempt < retries:
                self.sleep(self.s.backoff * 2**attempt)
                attempt += 1
                continue
            raise err

    def _respect_window(self, endpoint: str, wait: bool) -> None:
        rate = self.rates.get(endpoint)
        if rate is None or rate.remaining != 0 or rate.reset is None:
            return
        delay = self._until(rate.reset)
        if delay <= 0:
            return
        if not wait or delay > self.s.max_rate_limit_wait:
            raise RateLimited(
                f"{endpoint}: rate limit exhausted until {_hhmm(rate.reset)} UTC", 429, rate.reset
            )
        self.sleep(delay)

    def _until(self, reset: float | None) -> float:
        # One second of slack: X's reset is rounded down to the second.
        return max(0.0, (reset or self.clock()) - self.clock() + 1)

    def _error(
        self, r: httpx.Response, endpoint: str, auth: Auth, rate: RateState | None
    ) -> ApiError:
        said = _problem(r)
        reset = rate.reset if rate else None
        if r.status_code == 429:
            return RateLimited(f"{endpoint}: rate limited by X ({said})", 429, reset)
        if r.status_code >= 500:
            return ServerError(f"{endpoint}: X failed with {r.status_code} ({said})", r.status_code)
        if r.status_code == 401:
            return AuthError(
                f"X rejected {self.credential_name(auth)} (401 {said}): the credential is "
                "wrong, expired or revoked",
                401,
            )
        if r.status_code == 403:
            return AuthError(
                f"X refused {endpoint} with {self.credential_name(auth)} (403 {said}): check "
                "the app's access level and the credential's permissions",
                403,
            )
        return ApiError(f"{endpoint}: X answered {r.status_code} ({said})", r.status_code)


def _json(r: httpx.Response) -> dict[str, Any]:
    try:
        body = r.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {"data": body}


def _problem(r: httpx.Response) -> str:
    """Summarise an error body: v2 problem (title/detail) or v1.1 ``errors`` list."""
    body = _json(r)
    errors = body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        e = errors[0]
        text = e.get("detail") or e.get("message") or e.get("title")
        if text:
            return str(text)[:300]
    title, detail = body.get("title"), body.get("detail")
    if title and detail and title != detail:
        return f"{title}: {detail}"[:300]
    return str(title or detail or r.reason_phrase or "no details")[:300]


def _hhmm(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(ts))
