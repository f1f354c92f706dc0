"""Poll mentions, recent search and DM events incrementally, within the request budget.

A :class:`Poller` reads one account; :func:`pollers` makes one per configured account
(``[channels.twitter.accounts.<label>]``) and :func:`poll_all` runs them, so that an account
whose credentials fail does not stop the others.  Each stream (mentions, one per search
query, DMs) keeps a cursor in plugin state under ``twitter/<stream>`` (an account's under
``twitter/<label>/<stream>``, with its own budget): ``since_id`` (the newest tweet already read), and while a walk over
several pages is under way, ``next_token`` and the ``newest_id`` that becomes the next
``since_id`` once the walk ends.  The cursor is saved after each page's interactions are
committed, so a restart neither misses nor re-reads a page.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
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
from scrm_twitter.budget import PLUGIN, STATE_KEY, Budget
from scrm_twitter.client import XClient
from scrm_twitter.mapping import FOR_ACCOUNT

if TYPE_CHECKING:
    from scrm.plugin import Scrm
    from scrm_twitter.channel import TwitterChannel

__all__ = ["TWEET_PARAMS", "Poller", "Stream", "StreamResult", "poll_all", "pollers", "watch"]

TWEET_PARAMS = {
    "tweet.fields": "created_at,author_id,conversation_id,in_reply_to_user_id,"
    "referenced_tweets,lang,public_metrics",
    "expansions": "author_id",
    "user.fields": "username,name,public_metrics,verified,created_at",
}
DM_PARAMS = {
    "dm_event.fields": "id,text,event_type,dm_conversation_id,created_at,sender_id,participant_ids",
    "event_types": "MessageCreate",
    "expansions": "sender_id,participant_ids",
    "user.fields": "username,name,public_metrics,verified,created_at",
}


@dataclass(frozen=True)
class Stream:
    """One thing to poll: an endpoint with its parameters and its cursor's state key."""

    key: str
    budget_key: str
    path: str
    endpoint: str
    params: dict[str, str]
    page_param: str
    auth: str = "app"
    label: str = ""


@dataclass
class StreamResult(polling.StreamResult):
    """One stream's cycle; ``error`` (``stopped``) says why it stopped early (budget, rate
    limit, X failing)."""

    pages: int = 0

    columns = (
        ("stream", "name"), ("pages", "pages"), ("stored", "stored"),
        ("duplicates", "duplicates"), ("updated", "updated"), ("rejected", "rejected"),
        ("stopped", "error"),
    )  # fmt: skip

    @property
    def stopped(self) -> str | None:
        return self.error


class Poller:
    """Poll the configured streams of one account of a :class:`TwitterChannel` into ``app``.

    :param sleep: how to wait (rate limits, backoff, intervals); tests pass a recorder.
    :param clock: the current Unix time.
    """

    def __init__(
        self,
        app: Scrm,
        channel: TwitterChannel,
        *,
        client: XClient | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app = app
        self.channel = channel
        self.s = channel.settings
        self.sleep = sleep
        self.client = client or XClient(channel, sleep=sleep, clock=clock)
        self.budget = Budget(app, self.s, clock, key=channel.state_key(STATE_KEY))

    def streams(self) -> list[Stream]:
        """Return the streams the settings ask for."""
        s, key, name, found = self.s, self.channel.state_key, self._name, []
        page = {"max_results": str(s.max_results)}
        for n, uid in enumerate(s.brand_ids() if s.poll_mentions else []):
            found.append(
                Stream(
                    key("mentions" if n == 0 else f"mentions:{uid}"), "mentions",
                    f"/2/users/{uid}/mentions", "GET /2/users/:id/mentions",
                    {**TWEET_PARAMS, **page}, "pagination_token",
                    label=name("mentions" if n == 0 else f"mentions of {uid}"),
                )
            )  # fmt: skip
        for q in s.search_queries:
            digest = hashlib.sha256(q.encode()).hexdigest()[:16]
            found.append(
                Stream(
                    key(f"search:{digest}"), "search", "/2/tweets/search/recent",
                    "GET /2/tweets/search/recent", {**TWEET_PARAMS, **page, "query": q},
                    "next_token", label=name(f"search {q!r}"),
                )
            )  # fmt: skip
        if s.poll_direct_messages:
            found.append(
                Stream(
                    key("dm_events"), "dm_events", "/2/dm_events", "GET /2/dm_events",
                    {**DM_PARAMS, **page}, "pagination_token", auth="user",
                    label=name("direct messages"),
                )
            )  # fmt: skip
        return found

    def _name(self, stream: str) -> str:
        return stream_name(self.channel, stream)

    def poll_once(self) -> PollReport:
        """Run one cycle over every stream.

        :raises AuthError: on 401/403 or missing credentials: polling cannot go on.
        """
        report = PollReport()
        for stream in self.streams():
            report.streams.append(self._poll(stream))
        return report

    def next_interval(self) -> float:
        """Return the seconds to wait before the next cycle (adapted to the budget)."""
        return self.budget.interval(st.budget_key for st in self.streams())

    def watch(
        self, cycles: int | None = None, on_cycle: Callable[[PollReport, float], None] | None = None
    ) -> None:
        """Poll forever (or ``cycles`` times), pausing :meth:`next_interval` between cycles."""
        watch([self], cycles, on_cycle)

    # -- one stream ------------------------------------------------------------------------

    def _poll(self, st: Stream) -> StreamResult:
        result = StreamResult(st.label)
        cursor: dict[str, Any] = self.app.load_state(PLUGIN, st.key) or {}
        since, token, newest = (
            cursor.get("since_id"),
            cursor.get("next_token"),
            cursor.get("newest_id"),
        )
        dm = st.budget_key == "dm_events"
        while result.pages < self.s.max_pages:
            if self.budget.remaining(st.budget_key) == 0:
                result.error = f"daily budget of {st.budget_key} spent; renews at 00:00 UTC"
                break
            params = dict(st.params)
            if since and not dm:
                params["since_id"] = since
            if token:
                params[st.page_param] = token
            self.budget.spend(st.budget_key)
            try:
                r = self.client.request(
                    "GET",
                    st.path,
                    endpoint=st.endpoint,
                    params=params,
                    auth=st.auth,
                )
            except TransientError as exc:
                result.error = str(exc)
                break
            except AuthError:
                raise
            except ApiError as exc:
                if token and exc.status == 400:  # an expired pagination token: walk again
                    token = None
                    continue
                result.error = str(exc)
                break
            finally:
                self.budget.save(self.client.rates)
            body, meta = r.body, r.body.get("meta") or {}
            if not token:  # the first page of a walk holds the newest item
                newest = meta.get("newest_id") or _newest(body) or newest
            reached_old = False
            if dm and since:
                body, reached_old = _newer_than(body, since)
            self._ingest(body, st, result)
            result.pages += 1
            token = None if reached_old else meta.get("next_token")
            if token:
                state = {"since_id": since, "newest_id": newest, "next_token": token}
            else:
                state = {"since_id": _max_id(newest, since)}
            self.app.save_state(PLUGIN, st.key, state)
            if not token:
                break
        return result

    def _ingest(self, body: dict[str, Any], st: Stream, result: StreamResult) -> None:
        ids = self.channel.account_ids()
        if ids:  # the page says which account read it: its items are that account's
            body = {**body, FOR_ACCOUNT: ids[0]}
        result.count(
            self.app.ingest_native("twitter", self.channel.split(body), source=f"twitter:{st.key}")
        )


def _ids(body: dict[str, Any]) -> Iterator[str]:
    data = body.get("data")
    for item in data if isinstance(data, list) else []:
        if isinstance(item, dict) and str(item.get("id", "")).isdigit():
            yield str(item["id"])


def _newest(body: dict[str, Any]) -> str | None:
    return max(_ids(body), key=int, default=None)


def _max_id(a: str | None, b: str | None) -> str | None:
    ids = [i for i in (a, b) if i]
    return max(ids, key=int) if ids else None


def _newer_than(body: dict[str, Any], since: str) -> tuple[dict[str, Any], bool]:
    """Drop DM events at or before ``since`` (dm_events has no since_id parameter)."""
    data = body.get("data")
    if not isinstance(data, list):
        return body, False
    keep = [
        d for d in data if not (isinstance(d, dict) and str(d.get("id", "0")).isdigit())
        or int(d["id"]) > int(since)
    ]  # fmt: skip
    return {**body, "data": keep}, len(keep) < len(data)


def pollers(app: Scrm, channel: TwitterChannel, **kw: Any) -> list[Poller]:
    """Return a :class:`Poller` per account of ``channel`` that has something to poll (a
    brand's application: not the accounts of other brands).

    :param kw: passed to each (``sleep``, ``clock``).
    """
    found = [Poller(app, account, **kw) for account in readable_accounts(app, channel)]
    return [p for p in found if p.streams()]


def poll_all(found: list[Poller]) -> PollReport:
    """Run one cycle of every account's poller (:func:`scrm.plugin.polling.poll_accounts`)."""
    return poll_accounts(found, (AuthError,), StreamResult)


def watch(
    found: list[Poller],
    cycles: int | None = None,
    on_cycle: Callable[[PollReport, float], None] | None = None,
) -> None:
    """Poll the accounts forever (or ``cycles`` times), pausing between cycles the shortest
    :meth:`Poller.next_interval` of them."""
    watch_accounts(found, cycles, on_cycle, (AuthError,), StreamResult)


def poll_task(app: Any, now: Any) -> str:
    """The ``poll:twitter`` task of ``scrm worker``: one polling cycle of every account, if
    anything is configured."""
    found = pollers(app, app.channel("twitter"))
    if not found:
        return "not configured (channels.twitter.brand_user_id or search_queries)"
    return str(poll_all(found))
