"""What a polling channel needs: HTTP errors, a rate-limit aware client, back-off, the poll report.

*Provisional* (see CHANGELOG.md).  A channel that reads a platform's API on a schedule
subclasses :class:`ApiClient` (naming the service, its credentials and how to sign a
request) and gets, for every request: waiting out the rate-limit window the last response
announced (``X-RateLimit-Remaining``/``X-RateLimit-Reset``, and X's ``x-rate-limit-*``),
waiting on ``429`` until ``Retry-After`` or the window's reset, retrying ``5xx`` and
connection errors with a capped exponential back-off, and one-line errors that say whether
a retry can help (:class:`TransientError`) or not (:class:`AuthError`, :class:`ApiError`)::

    class ShopClient(ApiClient):
        service = "the shop"

        def authorization(self, method, url, params, auth):
            return {"authorization": f"Bearer {self.token}"}

A poller reports each stream it read as a :class:`StreamResult` in a :class:`PollReport`;
:func:`scrm.plugin.cli.show_poll_report` prints it (a table, or ``--json``) and
:func:`scrm.plugin.cli.exit_if_failed` ends the command with exit status 1 when a stream failed.

A channel configured with several accounts (``[channels.<name>.accounts.<label>]``) polls
each with its own settings and cursors (:meth:`~scrm.plugin.Channel.state_key`):
:func:`poll_accounts` (and :func:`watch_accounts`) run one poller per account, so that an
account whose credentials fail is reported and the others are still read, and
:func:`stream_name` names a stream ``<label>: <stream>`` in the report.

Importing this module is cheap: httpx is loaded when a request is sent.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

if TYPE_CHECKING:
    from collections.abc import Sequence

    import httpx

    from scrm.core.app import Scrm
    from scrm.core.channel import Channel
    from scrm.core.pipeline import IngestReport

__all__ = [
    "MAX_HEADER_WAIT",
    "AccountPoller",
    "ApiClient",
    "ApiError",
    "AuthError",
    "PollReport",
    "RateLimited",
    "RateState",
    "Response",
    "Retry",
    "ServerError",
    "StreamResult",
    "TransientError",
    "backoff",
    "poll_accounts",
    "readable_accounts",
    "reset_time",
    "retry_after",
    "stream_name",
    "watch_accounts",
]

C = TypeVar("C", bound="Channel")

#: Longest wait a header may ask for (a week): a broken or hostile server cannot park a poller.
MAX_HEADER_WAIT = 7 * 86_400
#: Longest error text kept from a response body (it is the server's, and untrusted).
_SAID = 300


# -- errors ----------------------------------------------------------------------------------


class ApiError(Exception):
    """The API refused a request: a retry will not help (404, 422, ...).

    :param status: the HTTP status (0: the server could not be reached).
    :param reset: Unix time after which a retry may succeed, when the server said so.
    """

    def __init__(self, message: str, status: int = 0, reset: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.reset = reset

    def retry_after(self, now: float) -> float | None:
        """Return the seconds from ``now`` until a retry may succeed; None if nobody said."""
        return None if self.reset is None else max(0.0, self.reset - now)


class AuthError(ApiError):
    """401/403 or missing credentials: nothing helps until the configuration changes."""


class TransientError(ApiError):
    """A retry later may succeed: the server failed, could not be reached, or limited us."""


class ServerError(TransientError):
    """5xx or a connection problem that outlasted the retries."""


class RateLimited(TransientError):
    """429, or the window is spent, and waiting was not allowed or would take too long."""


# -- headers and back-off --------------------------------------------------------------------


def reset_time(value: str | None) -> float | None:
    """Read a rate-limit reset: Unix seconds, or an ISO 8601 time with an offset (Mastodon)."""
    if not value or len(value) > 64:
        return None
    try:
        when = float(value)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            return None
        when = parsed.timestamp()
    return when if math.isfinite(when) and when >= 0 else None


def retry_after(value: str | None, now: float) -> float | None:
    """Read ``Retry-After`` (delta seconds or an HTTP date): the seconds to wait from ``now``.

    At most :data:`MAX_HEADER_WAIT`; None when there is no readable value.
    """
    if not value or len(value) > 64:
        return None
    value = value.strip()
    if value.isdigit():
        return float(min(int(value), MAX_HEADER_WAIT))
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
    return min(max(0.0, when - now), MAX_HEADER_WAIT)


def backoff(base: float, attempt: int, cap: float) -> float:
    """Return ``base * 2**attempt`` seconds, at most ``cap`` (attempt 0 waits ``base``)."""
    return min(base * 2.0 ** min(attempt, 20), cap)


@dataclass(frozen=True)
class RateState:
    """The rate-limit headers of the last response in one window."""

    limit: int | None
    remaining: int | None
    reset: float | None
    """Unix time (seconds) at which the window resets."""

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateState | None:
        """Read ``X-RateLimit-*`` (or X's ``x-rate-limit-*``); None when neither is there."""
        for prefix in ("x-ratelimit-", "x-rate-limit-"):
            if prefix + "remaining" in headers or prefix + "reset" in headers:
                break
        else:
            return None

        def num(name: str) -> int | None:
            value = headers.get(prefix + name, "").strip()
            return int(value) if value.isdigit() and len(value) < 19 else None

        return cls(num("limit"), num("remaining"), reset_time(headers.get(prefix + "reset")))


@dataclass(frozen=True)
class Retry:
    """How hard :class:`ApiClient` tries.

    :param retries: retries of 5xx and connection errors.
    :param backoff: the first pause before a retry; it doubles with each one.
    :param max_backoff: the longest pause before a retry.
    :param max_wait: the longest wait for a rate-limit window; a longer one raises
        :class:`RateLimited` at once.
    :param max_waits: how often one request waits on a rate limit.
    """

    retries: int = 3
    backoff: float = 1.0
    max_backoff: float = 300.0
    max_wait: float = 900.0
    max_waits: int = 3


@dataclass(frozen=True)
class Response:
    """A successful answer: the status, the decoded body and the headers."""

    status: int
    body: Any
    headers: Mapping[str, str]


# -- the client ------------------------------------------------------------------------------


class ApiClient:
    """Send requests to one HTTP API: wait out its rate limits, retry its failures, name errors.

    Subclass it per platform; the class attributes and methods below are what to change.

    :param http: the ``httpx.Client`` (its ``base_url`` is the API's root).
    :param sleep: called with seconds to wait (tests pass a recorder and never sleep).
    :param clock: returns the current Unix time.
    :param shared_window: one rate-limit window for every endpoint (Mastodon), instead of
        one per endpoint (X).
    """

    #: How messages name the other side ("X", "the instance").
    service: ClassVar[str] = "the server"
    #: What to check, by status, after "<service> rejected <credential> (401 ...)".
    hints: ClassVar[Mapping[int, str]] = {
        401: "the credential is wrong, expired or revoked",
        403: "check the credential's permissions",
    }

    def __init__(
        self,
        http: httpx.Client,
        retry: Retry | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        shared_window: bool = False,
    ) -> None:
        self.http = http
        self.retry = retry or Retry()
        self.sleep = sleep
        self.clock = clock
        self.shared_window = shared_window
        #: The last rate-limit state seen, by endpoint (by "*" with a shared window).
        self.rates: dict[str, RateState] = {}
        #: How "cannot reach ..." names the server (the instance's URL, say).
        self.where = self.service

    def close(self) -> None:
        self.http.close()

    # -- what a platform changes -------------------------------------------------------------

    def authorization(
        self, method: str, url: str, params: Mapping[str, Any], auth: str | None
    ) -> Mapping[str, str]:
        """Return the headers that authenticate one attempt (made anew for each).

        :param auth: which credential the caller asked for (``request(auth=...)``).
        :raises AuthError: when that credential is not configured.
        """
        return {}

    def credential_name(self, auth: str | None) -> str:
        """Name the credential a request with ``auth`` uses (never its value), for errors."""
        return "the credentials"

    def decode(self, r: httpx.Response) -> Any:
        """Return the body of a successful response: its JSON, None when it is not JSON."""
        try:
            return r.json()
        except ValueError:
            return None

    def problem(self, r: httpx.Response) -> str:
        """Summarise an error body in one bounded line (what the server said)."""
        try:
            body = r.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            errors = body.get("errors")
            if isinstance(errors, list) and errors and isinstance(errors[0], dict):
                e = errors[0]
                text = e.get("detail") or e.get("message") or e.get("title")
                if text:
                    return str(text)[:_SAID]
            for head, more in (("title", "detail"), ("error", "error_description")):
                a, b = body.get(head), body.get(more)
                if a and b and a != b:
                    return f"{a}: {b}"[:_SAID]
                if a or b:
                    return str(a or b)[:_SAID]
        return str(r.reason_phrase or "no details")[:_SAID]

    def error(
        self, r: httpx.Response, endpoint: str, auth: str | None, reset: float | None
    ) -> ApiError:
        """Turn an unsuccessful response into the error it means.

        :param reset: when a retry may succeed (``Retry-After``, else the window's reset).
        """
        said, status, who = self.problem(r), r.status_code, self.service
        if status == 429:
            return RateLimited(f"{endpoint}: rate limited by {who} ({said})", 429, reset)
        if status >= 500:
            return ServerError(f"{endpoint}: {who} failed with {status} ({said})", status, reset)
        if status == 401:
            return AuthError(
                f"{who} rejected {self.credential_name(auth)} (401 {said}): {self.hints[401]}", 401
            )
        if status == 403:
            return AuthError(
                f"{who} refused {endpoint} with {self.credential_name(auth)} (403 {said}): "
                f"{self.hints[403]}",
                403,
            )
        return ApiError(f"{endpoint}: {who} answered {status} ({said})", status)

    # -- requests ----------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        endpoint: str,
        params: Any = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        auth: str | None = None,
        wait: bool = True,
        retries: int | None = None,
    ) -> Response:
        """Send one request; wait on rate limits and retry failures when allowed.

        :param endpoint: the route template (``GET /2/users/:id/mentions``) named in errors
            and keying the rate-limit window.
        :param wait: sleep until a spent window resets (up to ``retry.max_wait``); otherwise
            raise :class:`RateLimited` at once.
        :param retries: how often to retry 5xx and connection errors (default:
            ``retry.retries``); 0 for a request that must not be repeated.
        :returns: the 2xx response.
        :raises AuthError, RateLimited, ServerError, ApiError:
        """
        import httpx  # here: importing httpx also imports click and rich

        retries = self.retry.retries if retries is None else retries
        attempt = waits = 0
        while True:
            self._respect_window(endpoint, wait)
            url = str(self.http.base_url.join(path))
            sent = dict(self.authorization(method, url, params or {}, auth))
            sent.update(headers or {})
            try:
                r = self.http.request(method, path, params=params, json=json, headers=sent)
            except httpx.TransportError as exc:
                err: ApiError = ServerError(
                    f"{endpoint}: cannot reach {self.where}: {type(exc).__name__}"
                )
            else:
                rate = RateState.from_headers(r.headers)
                if rate is not None:
                    self.rates[self._window(endpoint)] = rate
                if r.is_success:
                    return Response(r.status_code, self.decode(r), r.headers)
                later = retry_after(r.headers.get("retry-after"), self.clock())
                if later is not None:
                    reset: float | None = self.clock() + later
                else:  # a spent window says when a 429 ends, not when a 5xx does
                    reset = rate.reset if rate is not None and r.status_code == 429 else None
                err = self.error(r, endpoint, auth, reset)
                if isinstance(err, RateLimited) and wait:
                    delay = self._until(err.reset)
                    if delay <= self.retry.max_wait and waits < self.retry.max_waits:
                        waits += 1
                        self.sleep(delay)
                        self.rates.pop(self._window(endpoint), None)  # waited out
                        continue
            if isinstance(err, ServerError) and attempt < retries:
                delay = backoff(self.retry.backoff, attempt, self.retry.max_backoff)
                asked = err.retry_after(self.clock())
                if asked is None or asked <= self.retry.max_wait:
                    self.sleep(max(delay, asked or 0.0))
                    attempt += 1
                    continue
            raise err

    def _window(self, endpoint: str) -> str:
        return "*" if self.shared_window else endpoint

    def _respect_window(self, endpoint: str, wait: bool) -> None:
        rate = self.rates.get(self._window(endpoint))
        if rate is None or rate.remaining != 0 or rate.reset is None:
            return
        delay = self._until(rate.reset)
        if delay <= 0:
            return
        if not wait or delay > self.retry.max_wait:
            when = time.strftime("%H:%M:%S", time.gmtime(rate.reset))
            raise RateLimited(f"{endpoint}: rate limit exhausted until {when} UTC", 429, rate.reset)
        self.sleep(delay)
        del self.rates[self._window(endpoint)]  # spent and waited out: the next answer says more

    def _until(self, reset: float | None) -> float:
        # One second of slack: clocks differ, and resets are rounded down to the second.
        return max(0.0, (reset or self.clock()) - self.clock() + 1)


# -- the poll report -------------------------------------------------------------------------


@dataclass
class StreamResult:
    """What one stream (a timeline, a search, a feed) gave in one polling cycle.

    Subclass it to count more; :attr:`columns` says what the table shows (a header and the
    attribute, or property, of each column) and :attr:`json_fields` what ``--json`` prints.
    """

    name: str
    stored: int = 0
    duplicates: int = 0
    updated: int = 0
    rejected: int = 0
    error: str | None = None
    """Why the stream stopped early or failed, in one line; None when it read everything."""

    columns: ClassVar[tuple[tuple[str, str], ...]] = (
        ("stream", "name"), ("stored", "stored"), ("duplicates", "duplicates"),
        ("updated", "updated"), ("rejected", "rejected"), ("error", "error"),
    )  # fmt: skip
    #: The keys of :meth:`as_json`, in order (default: every field).
    json_fields: ClassVar[tuple[str, ...] | None] = None

    @property
    def failed(self) -> bool:
        """Whether the stream failed (a command exits 1); an early stop may not be a failure."""
        return self.error is not None

    def count(self, report: IngestReport) -> None:
        """Add what an ingest of this stream's items stored, found known, updated, rejected."""
        self.stored += report.stored
        self.duplicates += report.duplicates
        self.updated += report.updated
        self.rejected += report.rejected

    def row(self) -> tuple[Any, ...]:
        return tuple("" if (v := getattr(self, attr)) is None else v for _, attr in self.columns)

    def as_json(self) -> dict[str, Any]:
        names = self.json_fields or tuple(f.name for f in fields(self))
        return {name: getattr(self, name) for name in names}


@dataclass
class PollReport:
    """One polling cycle: a :class:`StreamResult` per stream, in the order they were read."""

    streams: list[StreamResult] = field(default_factory=list)

    @property
    def stored(self) -> int:
        return sum(s.stored for s in self.streams)

    @property
    def failed(self) -> list[StreamResult]:
        return [s for s in self.streams if s.failed]

    def __str__(self) -> str:
        return f"{len(self.streams)} streams read, {self.stored} stored, {len(self.failed)} failed"


# -- several accounts ------------------------------------------------------------------------


def readable_accounts(app: Scrm, channel: C) -> list[C]:
    """The accounts of ``channel`` that ``app`` polls: every one, for an application across
    brands; for a brand's (``scrm --brand KEY``), those no other brand lists in
    ``[brands.<key>] accounts``."""
    return [a for a in channel.accounts() if app.brands.readable(a, app.brand_id)]


def stream_name(channel: Channel, name: str) -> str:
    """Name stream ``name`` of ``channel``'s account in a report: ``<label>: <name>``; the
    streams of a single ``[channels.<name>]`` account keep their names."""
    from scrm.core.channel import DEFAULT_ACCOUNT

    label = channel.account_label
    return name if label == DEFAULT_ACCOUNT else f"{label}: {name}"


class AccountPoller(Protocol):
    """What :func:`poll_accounts` and :func:`watch_accounts` need of one account's poller."""

    @property
    def channel(self) -> Channel: ...

    @property
    def sleep(self) -> Callable[[float], None]: ...

    def poll_once(self) -> PollReport: ...

    def next_interval(self) -> float: ...


def poll_accounts(
    pollers: Sequence[AccountPoller],
    errors: tuple[type[Exception], ...] = (AuthError,),
    result: type[StreamResult] = StreamResult,
) -> PollReport:
    """Run one cycle of every account's poller; an account whose cycle raises one of
    ``errors`` (its credentials are refused, say) becomes a failed ``<label>: account``
    stream and the others are still read.  With a single account the error is raised, as
    polling it alone would.

    :param result: the class of the failed account's row (the pollers' stream results').
    """
    report = PollReport()
    for poller in pollers:
        try:
            report.streams.extend(poller.poll_once().streams)
        except errors as exc:
            if len(pollers) == 1:
                raise
            name = stream_name(poller.channel, "account")
            report.streams.append(result(name, error=str(exc)))
    return report


def watch_accounts(
    pollers: Sequence[AccountPoller],
    cycles: int | None = None,
    on_cycle: Callable[[PollReport, float], None] | None = None,
    errors: tuple[type[Exception], ...] = (AuthError,),
    result: type[StreamResult] = StreamResult,
) -> None:
    """Poll the accounts forever (or ``cycles`` times), pausing between cycles the shortest
    :meth:`~AccountPoller.next_interval` of them; ``on_cycle`` gets each report and pause."""
    done = 0
    while cycles is None or done < cycles:
        report = poll_accounts(pollers, errors, result)
        done += 1
        pause = min(p.next_interval() for p in pollers)
        if on_cycle is not None:
            on_cycle(report, pause)
        if cycles is None or done < cycles:
            pollers[0].sleep(pause)
