"""Poll the configured feeds that are due, each on its own interval, backing off on errors.

Each source keeps its state in plugin state under ``feeds/source:<name>``: the validators of
its last good read (ETag and Last-Modified, or a file's size and modification time), when it
is due next, its consecutive errors and the last one.  A failing source is reported and
backed off (its interval doubles with each consecutive error, up to ``max_backoff``, or the
server's ``Retry-After`` when longer); the other sources are read all the same.  Matching
items are ingested under their stable id, so an item read twice is stored once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx

from scrm.plugin import polling
from scrm.plugin.polling import backoff, readable_accounts
from scrm_feeds.fetch import Fetched, FetchError, fetch_file, fetch_http
from scrm_feeds.mapping import CHANNEL, record_for
from scrm_feeds.match import Matcher
from scrm_feeds.parse import FeedError, parse_feed

if TYPE_CHECKING:
    from scrm.plugin import Scrm
    from scrm_feeds.channel import FeedsChannel, FeedSource, FeedsSettings

__all__ = ["PLUGIN", "PollReport", "Poller", "SourceResult", "poll_task"]

PLUGIN = "feeds"


@dataclass
class SourceResult(polling.StreamResult):
    """What one source gave in one run; ``error`` is set when it failed."""

    status: str = "ok"
    """ok, not modified, not due, disabled or error."""
    items: int = 0
    matched: int = 0
    warning: str | None = None
    next_due: float | None = None

    columns = (
        ("source", "name"), ("status", "status"), ("items", "items"), ("matched", "matched"),
        ("stored", "stored"), ("dupes", "duplicates"), ("rejected", "rejected"),
        ("next", "next_at"), ("error", "note"),
    )  # fmt: skip
    json_fields = ("name", "status", "items", "matched", "stored", "duplicates", "rejected",
                   "error", "warning", "next_due")  # fmt: skip

    @property
    def next_at(self) -> datetime | None:
        """When the source is due next (the table shows it in the configured time zone)."""
        return datetime.fromtimestamp(self.next_due, UTC) if self.next_due else None

    @property
    def note(self) -> str | None:
        return self.error or self.warning


class PollReport(polling.PollReport):
    """One run over the sources: :attr:`sources` is :attr:`streams`."""

    @property
    def sources(self) -> list[SourceResult]:
        return self.streams  # type: ignore[return-value]

    def __str__(self) -> str:
        done = [s for s in self.sources if s.status not in ("not due", "disabled")]
        return (
            f"{len(done)} feeds read, {sum(s.matched for s in done)} items matched, "
            f"{self.stored} stored, {len(self.failed)} failed"
        )


class Poller:
    """Read the sources of a :class:`FeedsChannel` into ``app``.

    :param client: the HTTP client (tests pass one bound to a local server).
    :param clock: the current Unix time.
    """

    def __init__(
        self,
        app: Scrm,
        channel: FeedsChannel,
        *,
        client: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app, self.channel, self.s = app, channel, channel.settings
        #: Every account's sources by name, with their account's settings.
        accounts = readable_accounts(app, channel)  # a brand's: not other brands' sources
        self._sources = {src.name: (src, s) for src, s in channel.sources(accounts)}
        self.clock = clock
        self._own_client = client is None
        self.client = client or httpx.Client(
            timeout=self.s.timeout,
            follow_redirects=True,
            max_redirects=5,
            headers={"User-Agent": self.s.user_agent},
        )

    def close(self) -> None:
        if self._own_client:
            self.client.close()

    def sources(self, names: Iterable[str] = ()) -> list[FeedSource]:
        """Return the configured sources, or those named (unknown names are an error).

        :raises KeyError: naming the unknown source.
        """
        wanted = list(names)
        known = {name: src for name, (src, _) in self._sources.items()}
        for n in wanted:
            if n not in known:
                raise KeyError(f"no feed source {n!r}; configured: {', '.join(known) or 'none'}")
        return [known[n] for n in wanted] if wanted else list(known.values())

    def settings_of(self, source: FeedSource) -> FeedsSettings:
        """The settings of the account ``source`` belongs to (its terms and limits)."""
        return self._sources[source.name][1]

    def state(self, source: FeedSource) -> dict[str, Any]:
        return self.app.load_state(PLUGIN, f"source:{source.name}") or {}

    def poll(
        self, names: Iterable[str] = (), *, force: bool = False, placement: Any = None
    ) -> PollReport:
        """Read every source that is due (all of them with ``force``), each on its own.

        :param placement: move the items in time as they are ingested (``--as-of``, for
            sample and recorded feeds; see ``Scrm.ingest_records``).
        """
        report = PollReport()
        for source in self.sources(names):
            report.streams.append(self.poll_source(source, force=force, placement=placement))
        return report

    def poll_source(
        self, source: FeedSource, *, force: bool = False, placement: Any = None
    ) -> SourceResult:
        """Read one source if it is due; its error is recorded, never raised."""
        result = SourceResult(source.name)
        state = self.state(source)
        now = self.clock()
        if not source.enabled:
            result.status = "disabled"
            return result
        if not force and state.get("next_due", 0) > now:
            result.status, result.next_due = "not due", state["next_due"]
            return result
        validators = dict(state.get("validators") or {})
        try:
            fetched = self._fetch(source, validators)
            if fetched.body is not None:
                self._ingest(source, fetched, result, now, placement)
                validators = fetched.validators or {}
            else:
                result.status = "not modified"
        except (FetchError, FeedError) as exc:
            failures = int(state.get("failures", 0)) + 1
            pause = backoff(source.interval, failures, self.settings_of(source).max_backoff)
            retry_after = getattr(exc, "retry_after", None)
            pause = max(pause, min(retry_after or 0.0, self.settings_of(source).max_backoff))
            result.status, result.error = "error", str(exc)
            result.next_due = now + pause
            self._save(source, {**state, "failures": failures, "last_error": str(exc),
                                "last_checked": now, "next_due": result.next_due})  # fmt: skip
            return result
        result.next_due = now + source.interval
        self._save(source, {"validators": validators, "failures": 0, "last_error": None,
                            "last_checked": now, "last_ok": now, "next_due": result.next_due,
                            "warning": result.warning})  # fmt: skip
        return result

    def _fetch(self, source: FeedSource, validators: dict[str, Any]) -> Fetched:
        if source.path:
            return fetch_file(source.path, validators, max_bytes=self.settings_of(source).max_bytes)
        assert source.url is not None
        return fetch_http(
            self.client, source.url, validators, max_bytes=self.settings_of(source).max_bytes
        )

    def _ingest(
        self,
        source: FeedSource,
        fetched: Fetched,
        result: SourceResult,
        now: float,
        placement: Any = None,
    ) -> None:
        assert fetched.body is not None
        s = self.settings_of(source)
        feed = parse_feed(fetched.body, fetched.content_type, max_items=s.max_items)
        result.warning = feed.warning
        matcher = Matcher([*s.terms, *source.terms])
        fetched_at = datetime.fromtimestamp(now, UTC)
        records = []
        for item in feed.items:
            matched = matcher.find(item.title, item.text)
            if not matched and not source.match_all:
                continue
            rec = record_for(source.name, source.location, feed, item, fetched_at=fetched_at,
                             matched=matched)  # fmt: skip
            if rec is not None:
                records.append(rec)
        result.items, result.matched = len(feed.items), len(records)
        if records:
            rep = self.app.ingest_native(
                CHANNEL, records, source=f"feeds:{source.name}", placement=placement
            )
            result.count(rep)

    def _save(self, source: FeedSource, state: dict[str, Any]) -> None:
        self.app.save_state(PLUGIN, f"source:{source.name}", state)


def poll_task(app: Any, now: Any) -> str:
    """The ``poll:feeds`` task of ``scrm worker``: read the sources that are due."""
    channel = app.channel(CHANNEL)
    if not channel.sources():
        return "not configured (channels.feeds.sources)"
    poller = Poller(app, channel)
    try:
        return str(poller.poll())
    finally:
        poller.close()
