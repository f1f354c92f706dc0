"""A small Mastodon REST client: bearer token, rate-limit headers, waiting on 429, retrying 5xx.

Errors carry what the server said (its ``error`` field) and the *name* of the credential,
never its value.  Requests only ever go to the configured instance: a ``Link`` header is read
for its ``max_id``, never followed as a URL (a hostile server could point it elsewhere and
collect the token).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    import httpx

    from scrm_mastodon.channel import MastodonChannel

# httpx is imported when a client is made: it loads click and rich, which an application
# opened with scrm.open() (the channel is built with it) should not pay for.

__all__ = [
    "ApiError",
    "AuthError",
    "MastodonClient",
    "RateLimited",
    "RateState",
    "Response",
    "ServerError",
    "next_max_id",
]

USER_AGENT = "scrm-mastodon/0.1"
TOKEN = "channels.mastodon.access_token"
#: Longest error text kept from a response body (it is the server's, and untrusted).
_SAID = 300


def _reset_time(value: str | None) -> float | None:
    """Read ``X-RateLimit-Reset`` (ISO 8601 on Mastodon; Unix seconds elsewhere)."""
    if not value or len(value) > 64:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.timestamp() if when.tzinfo else None


def _retry_after(value: str | None, now: float) -> float | None:
    """Read ``Retry-After``: seconds, or an HTTP date."""
    if not value or len(value) > 64:
        return None
    if value.strip().isdigit():
        return now + int(value.strip())
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


@dataclass(frozen=True)
class RateState:
    """The ``X-RateLimit-*`` headers of the last response."""

    limit: int | None
    remaining: int | None
    reset: float | None
    """Unix time (seconds) at which the window resets."""

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateState | None:
        def num(name: str) -> int | None:
            value = headers.get(name, "")
            return int(value) if value.isdigit() and len(value) < 19 else None

        if "x-ratelimit-remaining" not in headers and "x-ratelimit-reset" not in headers:
            return None
        reset = _reset_time(headers.get("x-ratelimit-reset"))
        return cls(num("x-ratelimit-limit"), num("x-ratelimit-remaining"), reset)


class ApiError(Exception):
    """The server answered with an error (or could not be reached: ``status`` 0)."""

    def __init__(self, message: str, status: int = 0, reset: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.reset = reset


class AuthError(ApiError):
    """401/403 or no token: retrying will not help until the configuration changes."""


class RateLimited(ApiError):
    """429 and waiting was not allowed or would take too long."""


class ServerError(ApiError):
    """5xx or a connection problem that outlasted the retries."""


@dataclass(frozen=True)
class Response:
    status: int
    body: Any
    headers: Mapping[str, str]


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


class MastodonClient:
    """Talk to one Mastodon instance as configured in a :class:`MastodonChannel`'s settings.

    :param sleep: called with seconds to wait (injectable so that tests do not sleep).
    :param clock: returns the current Unix time.
    """

    def __init__(
        self,
        channel: MastodonChannel,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        http: httpx.Client | None = None,
    ) -> None:
        self.s = channel.settings
        self.sleep = sleep
        self.clock = clock
        import httpx

        self.http = http or httpx.Client(
            base_url=self.s.instance_url or "http://unset.invalid",
            timeout=self.s.timeout,
            headers={"user-agent": USER_AGENT},
            follow_redirects=False,
        )
        self.rate: RateState | None = None

    def close(self) -> None:
        self.http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        endpoint: str,
        params: Any = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        wait: bool = True,
        retries: int | None = None,
    ) -> Response:
        """Send one request; wait on 429 and retry 5xx when allowed; return a 2xx response.

        :param endpoint: the route template (``GET /api/v1/notifications``) named in errors.
        :param wait: sleep until the rate-limit window resets on 429 (up to
            ``max_rate_limit_wait``); otherwise raise :class:`RateLimited` at once.
        :param retries: how often to retry 5xx and connection errors (default: settings).
        :raises AuthError, RateLimited, ServerError, ApiError:
        """
        if not self.s.instance_url:
            raise AuthError(f"{endpoint} needs channels.mastodon.instance_url; none is configured")
        if self.s.access_token is None:
            raise AuthError(f"{endpoint} needs {TOKEN}; none is configured")
        import httpx

        retries = self.s.max_retries if retries is None else retries
        attempt = waits = 0
        while True:
            self._respect_window(endpoint, wait)
            sent = {"authorization": "Bearer " + self.s.access_token.get_secret_value()}
            sent.update(headers or {})
            try:
                r = self.http.request(method, path, params=params, json=json, headers=sent)
            except httpx.TransportError as exc:
                err: ApiError = ServerError(
                    f"{endpoint}: cannot reach {self.s.instance_url}: {type(exc).__name__}"
                )
            else:
                rate = RateState.from_headers(r.headers)
                if rate is not None:
                    self.rate = rate
                if r.is_success:
                    return Response(r.status_code, _json(r), r.headers)
                err = self._error(r, endpoint, rate)
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
        rate = self.rate
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
        self.rate = None

    def _until(self, reset: float | None) -> float:
        # One second of slack: clocks differ, and the reset is rounded.
        return max(0.0, (reset or self.clock()) - self.clock() + 1)

    def _error(self, r: httpx.Response, endpoint: str, rate: RateState | None) -> ApiError:
        said = _problem(r)
        if r.status_code == 429:
            reset = _retry_after(r.headers.get("retry-after"), self.clock())
            if reset is None and rate is not None:
                reset = rate.reset
            return RateLimited(f"{endpoint}: rate limited by the instance ({said})", 429, reset)
        if r.status_code >= 500:
            return ServerError(
                f"{endpoint}: the instance failed with {r.status_code} ({said})", r.status_code
            )
        if r.status_code == 401:
            return AuthError(
                f"the instance rejected {TOKEN} (401 {said}): the token is wrong, expired or "
                "revoked",
                401,
            )
        if r.status_code == 403:
            return AuthError(
                f"the instance refused {endpoint} with {TOKEN} (403 {said}): check the token's "
                "scopes (read, write:statuses)",
                403,
            )
        return ApiError(
            f"{endpoint}: the instance answered {r.status_code} ({said})", r.status_code
        )


def _json(r: httpx.Response) -> Any:
    try:
        return r.json()
    except ValueError:
        return None


def _problem(r: httpx.Response) -> str:
    """Summarise an error body: Mastodon's ``{"error": ..., "error_description": ...}``."""
    body = _json(r)
    if isinstance(body, dict):
        error, detail = body.get("error"), body.get("error_description")
        if isinstance(error, str) and isinstance(detail, str) and detail != error:
            return f"{error}: {detail}"[:_SAID]
        if isinstance(error, str) and error:
            return error[:_SAID]
    return str(r.reason_phrase or "no details")[:_SAID]


def _hhmm(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(ts))
