"""Poll mentions, the brand's own statuses and searches incrementally.

A :class:`Poller` reads one account; :func:`pollers` makes one per configured account
(``[channels.mastodon.accounts.<label>]``) and :func:`poll_all` runs them.  Each stream keeps
a cursor in plugin state under ``mastodon/<stream>`` (an account's under
``mastodon/<label>/<stream>``): ``since_id`` (the
newest id already read) and, while a walk back over several pages is under way, ``max_id``
(where the walk goes on) and the ``newest_id`` that becomes the next ``since_id`` once the
walk ends.  The cursor is saved after each page's interactions are committed, so a restart
neither misses nor re-reads a page.  The next page comes from the ``Link`` header's
``max_id`` (notifications, account statuses) or the page's oldest id (search); a ``Link``
URL is never requested as such.

A mention that answers another status has its thread read (``/api/v1/statuses/:id/context``)
when ``fetch_context`` is set: the statuses above it are stored, and those the brand wrote
below it, so a case sees what the customer answered and what the brand already said.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scrm.plugin import polling
from scrm.plugin.polling import (
    ApiError,
    AuthError,
    PollReport,
    TransientError,
    poll_accounts,
    readable_accounts,
    stream_name,
    watch_accounts,
)
from scrm_mastodon.client import MastodonClient, next_max_id
from scrm_mastodon.mapping import ID_PATTERN, split_payload, tagged

if TYPE_CHECKING:
    from scrm.plugin import Scrm
    from scrm_mastodon.channel import MastodonChannel

__all__ = ["PLUGIN", "Poller", "Stream", "StreamResult", "poll_all", "poll_task", "pollers"]

PLUGIN = "mastodon"
_ID = re.compile(ID_PATTERN)


@dataclass(frozen=True)
class Stream:
    """One thing to poll: an endpoint with its parameters and its cursor's state key."""

    key: str
    path: str
    endpoint: str
    params: dict[str, str]
    label: str
    search: bool = False


@dataclass
class StreamResult(polling.StreamResult):
    """One stream's cycle; ``error`` (``stopped``) says why it stopped early (rate limit,
    the instance failing)."""

    pages: int = 0
    threads: int = 0
    """Thread contexts read for mentions that answer another status."""

    columns = (
        ("stream", "name"), ("pages", "pages"), ("stored", "stored"),
        ("duplicates", "duplicates"), ("updated", "updated"), ("rejected", "rejected"),
        ("threads", "threads"), ("stopped", "error"),
    )  # fmt: skip

    @property
    def stopped(self) -> str | None:
        return self.error


def _key(status_id: str) -> tuple[int, str]:
    """Order ids: decimal snowflakes by value, flake ids of one length as strings."""
    return (len(status_id), status_id)


def _ids(items: Iterable[Any]) -> list[str]:
    return [i["id"] for i in items if isinstance(i, dict) and isinstance(i.get("id"), str) and _ID.match(i["id"])]  # fmt: skip


class Poller:
    """Poll the configured streams of a :class:`MastodonChannel` into ``app``.

    :param sleep: how to wait (rate limits, backoff, intervals); tests pass a recorder.
    :param clock: the current Unix time.
    """

    def __init__(
        self,
        app: Scrm,
        channel: MastodonChannel,
        *,
        client: MastodonClient | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app = app
        self.channel = channel
        self.s = channel.settings
        self.sleep = sleep
        self.client = client or MastodonClient(channel, sleep=sleep, clock=clock)

    def streams(self) -> list[Stream]:
        """Return the streams the settings ask for."""
        s, key, name, found = self.s, self.channel.state_key, self._name, []
        limit = {"limit": str(s.page_size)}
        if s.poll_mentions:
            found.append(
                Stream(
                    key("mentions"), "/api/v1/notifications", "GET /api/v1/notifications",
                    {"types[]": "mention", **limit}, name("mentions"),
                )
            )  # fmt: skip
        for n, aid in enumerate(s.brand_ids() if s.poll_own_statuses else []):
            found.append(
                Stream(
                    key("own" if n == 0 else f"own:{aid}"), f"/api/v1/accounts/{aid}/statuses",
                    "GET /api/v1/accounts/:id/statuses", {"exclude_reblogs": "true", **limit},
                    name("own statuses" if n == 0 else f"statuses of {aid}"),
                )
            )  # fmt: skip
        for q in s.search_queries:
            digest = hashlib.sha256(q.encode()).hexdigest()[:16]
            found.append(
                Stream(
                    key(f"search:{digest}"), "/api/v2/search", "GET /api/v2/search",
                    {"q": q, "type": "statuses", "resolve": "false", **limit},
                    name(f"search {q!r}"), search=True,
                )
            )  # fmt: skip
        return found

    def _name(self, stream: str) -> str:
        return stream_name(self.channel, stream)

    def next_interval(self) -> float:
        """Return the seconds between two cycles (``poll_interval``)."""
        return self.s.poll_interval

    def poll_once(self) -> PollReport:
        """Run one cycle over every stream.

        :raises AuthError: on 401/403 or a missing token: polling cannot go on.
        """
        return PollReport([self._poll(stream) for stream in self.streams()])

    def watch(
        self, cycles: int | None = None, on_cycle: Callable[[PollReport], None] | None = None
    ) -> None:
        """Poll forever (or ``cycles`` times), pausing ``poll_interval`` between cycles."""
        watch_accounts(
            [self], cycles, None if on_cycle is None else lambda report, _: on_cycle(report)
        )

    # -- one stream ------------------------------------------------------------------------

    def _poll(self, st: Stream) -> StreamResult:
        result = StreamResult(st.label)
        cursor: dict[str, Any] = self.app.load_state(PLUGIN, st.key) or {}
        since, max_id, newest = (
            cursor.get("since_id"),
            cursor.get("max_id"),
            cursor.get("newest_id"),
        )
        while result.pages < self.s.max_pages:
            params = dict(st.params)
            if since and not st.search:
                params["since_id"] = since
            if max_id:
                params["max_id"] = max_id
            try:
                r = self.client.request("GET", st.path, endpoint=st.endpoint, params=params)
            except AuthError:
                raise
            except ApiError as exc:
                result.error = str(exc)
                break
            items = _items(r.body, st.search)
            if items is None:
                result.error = f"{st.endpoint}: the instance answered something else than a page"
                break
            ids = _ids(items)
            if not max_id and ids:  # the first page of a walk holds the newest item
                newest = max(ids, key=_key)
            reached_old = False
            if since and st.search:  # search has no since_id: stop at what was read
                kept = [i for i in items if not (isinstance(i, dict) and i.get("id") in ids and _key(i["id"]) <= _key(since))]  # fmt: skip
                reached_old = len(kept) < len(items)
                items = kept
            self._ingest(items, st, result)
            result.pages += 1
            if st.key == "mentions" and self.s.fetch_context:
                self._threads(items, result)
            if reached_old or not ids:
                follow = None
            elif st.search:  # a short page is the last one
                follow = min(ids, key=_key) if len(ids) >= self.s.page_size else None
            else:
                follow = next_max_id(r.headers)
            if follow and max_id and _key(follow) >= _key(max_id):
                follow = None  # a page that does not move back ends the walk
            max_id = follow
            if max_id:
                state = {"since_id": since, "newest_id": newest, "max_id": max_id}
            else:
                state = {"since_id": _newer(newest, since)}
            self.app.save_state(PLUGIN, st.key, state)
            if not max_id:
                break
        return result

    def _ingest(self, items: list[Any], st: Stream, result: StreamResult) -> None:
        if not items:
            return
        result.count(
            self.app.ingest_native(
                "mastodon",
                tagged(split_payload(items), self.s.brand_acct),
                source=f"mastodon:{st.key}",
            )
        )

    def _threads(self, notifications: list[Any], result: StreamResult) -> None:
        """Store the thread above each mention that answers another status."""
        brands = set(self.s.brand_ids())
        for status in split_payload(notifications):
            if not isinstance(status, dict) or not status.get("in_reply_to_id"):
                continue
            sid = status.get("id")
            if not isinstance(sid, str) or not _ID.match(sid):
                continue
            try:
                context = self.thread(sid, brands)
            except TransientError as exc:
                result.error = str(exc)
                return
            except AuthError:
                raise
            except ApiError:
                continue  # the status was deleted meanwhile, or is not visible
            result.threads += 1
            result.count(context)

    def thread(self, status_id: str, brands: set[str] | None = None) -> Any:
        """Read the context of ``status_id``; store its ancestors and the brand's replies below it.

        :returns: the ingest report.
        :raises ApiError: as the client raises it (404: deleted or not visible).
        """
        brands = set(self.s.brand_ids()) if brands is None else brands
        r = self.client.request(
            "GET", f"/api/v1/statuses/{status_id}/context",
            endpoint="GET /api/v1/statuses/:id/context",
        )  # fmt: skip
        body: dict[str, Any] = r.body if isinstance(r.body, dict) else {}
        ancestors, below = (
            v if isinstance(v := body.get(k), list) else [] for k in ("ancestors", "descendants")
        )
        own = [
            d for d in below
            if isinstance(d, dict) and isinstance(d.get("account"), dict)
            and d["account"].get("id") in brands
        ]  # fmt: skip
        return self.app.ingest_native(
            "mastodon",
            tagged(split_payload([*ancestors, *own]), self.s.brand_acct),
            source=f"mastodon:context:{status_id}",
        )


def _items(body: Any, search: bool) -> list[Any] | None:
    if search:
        statuses = body.get("statuses") if isinstance(body, dict) else None
        return statuses if isinstance(statuses, list) else None
    return body if isinstance(body, list) else None


def _newer(a: str | None, b: str | None) -> str | None:
    ids = [i for i in (a, b) if i]
    return max(ids, key=_key) if ids else None


def pollers(app: Scrm, channel: MastodonChannel, **kw: Any) -> list[Poller]:
    """Return a :class:`Poller` per account of ``channel`` with an instance, a token and
    something to poll (``[channels.mastodon.accounts.<label>]``).

    :param kw: passed to each (``sleep``, ``clock``).
    """
    found = [
        Poller(app, account, **kw)
        for account in readable_accounts(app, channel)
        if account.settings.instance_url and account.settings.access_token is not None
    ]
    return [p for p in found if p.streams()]


def poll_all(found: list[Poller]) -> PollReport:
    """Run one cycle of every account's poller (:func:`scrm.plugin.polling.poll_accounts`)."""
    return poll_accounts(found, (AuthError,), StreamResult)


def poll_task(app: Any, now: Any) -> str:
    """The ``poll:mastodon`` task of ``scrm worker``: one polling cycle of every account, if
    configured."""
    found = pollers(app, app.channel("mastodon"))
    if not found:
        return "not configured (channels.mastodon.instance_url and access_token)"
    try:
        return str(poll_all(found))
    finally:
        for poller in found:
            poller.client.close()
