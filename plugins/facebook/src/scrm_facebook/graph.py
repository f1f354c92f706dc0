"""A small Graph API client: the page token in a header, errors mapped, usage headers honoured.

Throttling errors come back as HTTP 400/403 (rarely 429) with ``error.code`` 4, 17, 32, 613
or 80001, so the mapping looks at the code, not at the status.  Every response's
``X-App-Usage`` / ``X-Business-Use-Case-Usage`` header is read; at 90 % of a limit the client
sleeps before its next call instead of running into the wall.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from scrm.plugin import PermanentSendError, TransientSendError

if TYPE_CHECKING:
    import httpx

__all__ = [
    "PERMISSION_CODES",
    "TRANSIENT_CODES",
    "GraphClient",
    "GraphError",
    "usage_percent",
]

log = logging.getLogger(__name__)

#: Temporary API errors (1, 2), rate limits (4 app, 17 user, 32 page, 613, 80001 Pages BUC)
#: and 341 (application limit reached): retrying later may succeed.
TRANSIENT_CODES = frozenset({1, 2, 4, 17, 32, 341, 613, 80001})
PERMISSION_CODES = frozenset({10, *range(200, 300)})


class GraphError(PermanentSendError):
    """An error object returned by the Graph API, already worded for an operator."""

    def __init__(self, message: str, code: int | None = None, subcode: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.subcode = subcode


def usage_percent(headers: Mapping[str, str]) -> tuple[float, float]:
    """Return (highest usage percentage, seconds until access is regained) from usage headers.

    Reads ``X-App-Usage`` (``{"call_count":28,"total_time":25,"total_cputime":25}``) and
    ``X-Business-Use-Case-Usage`` (``{"<id>":[{"type":"pages","call_count":…,
    "estimated_time_to_regain_access":<minutes>}]}``); unparsable headers count as 0.
    """
    top, regain = 0.0, 0.0

    def take(obj: Any) -> None:
        nonlocal top, regain
        if not isinstance(obj, Mapping):
            return
        for key in ("call_count", "total_time", "total_cputime"):
            value = obj.get(key)
            if isinstance(value, int | float):
                top = max(top, float(value))
        minutes = obj.get("estimated_time_to_regain_access")
        if isinstance(minutes, int | float):
            regain = max(regain, float(minutes) * 60)

    for name in ("x-app-usage", "x-page-usage", "x-business-use-case-usage"):
        value = headers.get(name)
        if not value:
            continue
        try:
            data = json.loads(value)
        except ValueError:
            continue
        if name == "x-business-use-case-usage" and isinstance(data, Mapping):
            for entries in data.values():
                for item in entries if isinstance(entries, list) else []:
                    take(item)
        else:
            take(data)
    return top, regain


class GraphClient:
    """Call the Graph API at ``base_url`` (with version) on behalf of a page.

    :param base_url: e.g. ``https://graph.facebook.com/v21.0``.
    :param token: the page access token; sent as ``Authorization: Bearer`` so that it never
        appears in a URL (httpx logs URLs).
    :param sleep: called with seconds to wait when usage is high (injectable for tests).
    :param threshold: usage percentage from which the client slows down.
    :param pause: seconds to wait at the threshold when the platform does not say how long.
    :param max_pause: never wait longer than this in one go.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
        threshold: float = 90.0,
        pause: float = 60.0,
        max_pause: float = 900.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._sleep = sleep
        self.threshold = threshold
        self.pause = pause
        self.max_pause = max_pause
        self._wait = 0.0
        import httpx  # here, not at the top: importing httpx also imports click and rich

        self._http = httpx.Client(
            timeout=timeout,
            headers={"Authorization": f"Bearer {token}"},
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    # -- requests ------------------------------------------------------------------------

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """GET ``path`` (relative to the base URL) and return the decoded JSON object."""
        return self.request("GET", path, params=params)

    def post(
        self,
        path: str,
        *,
        data: Mapping[str, Any] | None = None,
        json_body: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """POST form ``data`` or a ``json_body`` to ``path`` and return the decoded JSON object."""
        return self.request("POST", path, data=data, json_body=json_body)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        json_body: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Send one request, honouring the usage budget first.

        :raises TransientSendError: on throttling, 5xx and connection errors.
        :raises GraphError: on any other error object (a :class:`PermanentSendError`).
        """
        import httpx  # here, not at the top: importing httpx also imports click and rich
        if self._wait > 0:
            log.info("Graph API usage is high: waiting %.0f s before the next call", self._wait)
            self._sleep(self._wait)
            self._wait = 0.0
        url = path if path.startswith(("http://", "https://")) else f"{self.base_url}/{path}"
        try:
            # params=None, not {}: an empty mapping would drop the query of a paging.next URL.
            resp = self._http.request(method, url, params=params or None, data=data, json=json_body)
        except httpx.TransportError as exc:
            raise TransientSendError(f"cannot reach the Graph API: {type(exc).__name__}") from None
        top, regain = usage_percent(resp.headers)
        if top >= self.threshold:
            self._wait = min(self.max_pause, max(regain, self.pause * top / 100))
        try:
            body = resp.json()
        except ValueError:
            body = None
        if resp.is_success and isinstance(body, dict):
            return body
        raise self._error(resp.status_code, body, regain)

    def pages(self, path: str, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """Yield the items of a paginated edge, following ``paging.cursors.after``/``paging.next``."""
        query = dict(params)
        url = path
        visited: set[str] = set()
        while True:
            where = f"{url}?{sorted(query.items())}"
            if where in visited:  # a cursor that does not move would loop forever
                log.warning("Graph API paging repeated itself at %s; stopping", url)
                return
            visited.add(where)
            page = self.get(url, query)
            data = page.get("data")
            yield from (d for d in data if isinstance(d, dict)) if isinstance(data, list) else ()
            paging = page.get("paging") or {}
            if not data or not paging.get("next"):
                return
            after = (paging.get("cursors") or {}).get("after")
            if after:
                query = {**dict(params), "after": after}
                url = path
            else:
                url, query = self._same_origin(paging["next"]), {}

    def _same_origin(self, next_url: str) -> str:
        """Return ``next_url`` without its access_token, refusing one on another host."""
        base, nxt = urlsplit(self.base_url), urlsplit(next_url)
        if (nxt.scheme, nxt.netloc) != (base.scheme, base.netloc):
            raise GraphError(f"refusing to follow paging.next to another host: {nxt.netloc}")
        query = urlencode([(k, v) for k, v in parse_qsl(nxt.query) if k != "access_token"])
        return urlunsplit((nxt.scheme, nxt.netloc, nxt.path, query, ""))

    # -- errors --------------------------------------------------------------------------

    def _redact(self, text: str) -> str:
        return text.replace(self._token, "[token]") if self._token else text

    def _error(self, status: int, body: Any, regain: float) -> Exception:
        err = body.get("error") if isinstance(body, dict) else None
        if not isinstance(err, dict):
            if status >= 500 or status == 429:
                return TransientSendError(
                    f"Graph API answered HTTP {status}", retry_after=regain or None
                )
            return GraphError(f"Graph API answered HTTP {status} without an error object")
        code = err.get("code") if isinstance(err.get("code"), int) else None
        sub = err.get("error_subcode") if isinstance(err.get("error_subcode"), int) else None
        text = self._redact(str(err.get("message") or "no message"))
        trace = err.get("fbtrace_id")
        where = f"(code {code}{f', subcode {sub}' if sub else ''}{f', fbtrace_id {trace}' if trace else ''})"
        if code in TRANSIENT_CODES or err.get("is_transient") is True:
            kind = "rate limit reached" if code not in (1, 2) else "temporary Graph API error"
            return TransientSendError(f"{kind}: {text} {where}", retry_after=regain or self.pause)
        if status >= 500:
            return TransientSendError(
                f"Graph API error: {text} {where}", retry_after=regain or None
            )
        if code == 190:
            msg = f"the page access token is invalid or has expired; generate a new one: {text} {where}"
        elif code in PERMISSION_CODES:
            msg = f"the page token lacks a permission or the action is not allowed: {text} {where}"
        elif code == 100:
            msg = f"the Graph API refused a parameter (wrong id, or the object is gone): {text} {where}"
        elif code == 368:
            msg = f"the page is blocked from this action by a policy: {text} {where}"
        else:
            msg = f"Graph API error: {text} {where}"
        return GraphError(msg, code, sub)
