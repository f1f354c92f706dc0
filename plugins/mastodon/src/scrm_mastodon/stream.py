"""Listen to the streaming API: mentions and the brand's own statuses as they happen.

``GET /api/v1/streaming/user`` sends server-sent events: ``notification`` (a Notification;
mentions carry a status) and ``update`` (a status of the home timeline; only the brand's own
are kept, so a reply written in the Mastodon app moves its case at once).  Lines starting with
``:`` are heartbeats.  Every event is ingested as it arrives; a dropped connection is opened
again after ``backoff`` seconds, doubling (up to five minutes), up to ``max_retries`` failures in a row.

A :class:`Streamer` listens for one account (an element of ``channel.accounts()``): its
token, its streaming URL, its brand ids, and every status it stores is tagged with the
account (``for_account``), as the poller tags what it reads, so the status names that account
and is read from its point of view (the brand's own statuses are outbound).
:class:`Listener` runs the streamers of several accounts, a thread each.

The server is untrusted: an event is read into a bounded buffer (:data:`MAX_EVENT_BYTES`), and
a longer one ends the connection with an error instead of growing memory.  Streaming keeps no
cursor: what it missed while disconnected, the next ``scrm mastodon poll`` reads (ingest
stores each status once).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from scrm.plugin.polling import (
    ApiError,
    AuthError,
    Retry,
    ServerError,
    backoff,
    readable_accounts,
)
from scrm_mastodon.client import TOKEN, USER_AGENT
from scrm_mastodon.content import MAX_HTML_LENGTH
from scrm_mastodon.mapping import tagged

if TYPE_CHECKING:
    from scrm.plugin import Scrm
    from scrm_mastodon.channel import MastodonChannel

__all__ = [
    "MAX_EVENT_BYTES",
    "Listener",
    "StreamReport",
    "Streamer",
    "sse_events",
    "streamed_accounts",
]

PATH = "/api/v1/streaming/user"
#: Longest event read (bytes): a status at the content bound, with room for its JSON.
MAX_EVENT_BYTES = 4 * MAX_HTML_LENGTH + 1_000_000


class EventTooLong(ApiError):
    """The server sent an event over :data:`MAX_EVENT_BYTES`."""


def sse_events(chunks: Iterator[bytes], limit: int = MAX_EVENT_BYTES) -> Iterator[tuple[str, str]]:
    """Yield ``(event, data)`` from a server-sent event byte stream, one event at a time.

    :raises EventTooLong: when an event grows past ``limit`` bytes.
    """
    buffer = b""
    event, size = "message", 0
    data: list[str] = []
    for chunk in chunks:
        buffer += chunk
        if len(buffer) + size > limit:
            raise EventTooLong(f"an event over {limit} bytes: the connection was dropped")
        *lines, buffer = buffer.split(b"\n")
        for raw in lines:
            line = raw.rstrip(b"\r").decode("utf-8", "replace")
            if not line:
                if data:
                    yield event, "\n".join(data)
                event, data, size = "message", [], 0
            elif line.startswith(":"):
                continue  # a heartbeat
            else:
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "event":
                    event = value[:64]
                elif name == "data":
                    data.append(value)
                    size += len(raw)


@dataclass
class StreamReport:
    """What one account's listening did; ``error``: why it stopped early (its token refused,
    the instance unreachable after ``max_retries`` attempts)."""

    events: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    reconnects: int = 0
    error: str | None = None

    def __str__(self) -> str:
        line = (
            f"{self.events} events: {self.stored} stored, {self.duplicates} already known, "
            f"{self.rejected} rejected, {self.reconnects} reconnections"
        )
        return line if self.error is None else f"{line}; stopped: {self.error}"


class Streamer:
    """Ingest one account's stream into ``app``.

    :param channel: the account, an element of ``channel.accounts()``: its settings (token,
        ``streaming_url``, brand ids) are used, and each status stored names it.
    :param sleep: how to wait between reconnections (tests pass a recorder); by default a
        wait that :meth:`stop` ends.
    :param stop: set to stop listening (shared by the streamers of a :class:`Listener`).
    :param lock: held while ingesting (shared likewise: one writer at a time).
    """

    def __init__(
        self,
        app: Scrm,
        channel: MastodonChannel,
        *,
        sleep: Callable[[float], object] | None = None,
        http: httpx.Client | None = None,
        stop: threading.Event | None = None,
        lock: threading.Lock | None = None,
    ) -> None:
        self.app = app
        self.channel = channel
        self.s = channel.settings
        self.brands = set(self.s.brand_ids())
        self.stopping = stop or threading.Event()
        self.lock = lock or threading.Lock()
        self.sleep = sleep or self.stopping.wait
        self.report = StreamReport()
        base = self.s.streaming_url or self.s.instance_url or "http://unset.invalid"
        self.http = http or httpx.Client(
            base_url=base, headers={"user-agent": USER_AGENT}, follow_redirects=False,
            timeout=httpx.Timeout(self.s.timeout, read=self.s.stream_read_timeout),
        )  # fmt: skip

    def stop(self) -> None:
        """Ask :meth:`run` to return: at once when it waits to reconnect, else at the next
        bytes the server sends (Mastodon sends a heartbeat every few seconds)."""
        self.stopping.set()

    def close(self) -> None:
        self.http.close()

    def run(self, max_events: int | None = None) -> StreamReport:
        """Listen until ``max_events`` events were handled (forever when None) or
        :meth:`stop`; :attr:`report` counts them as they come.

        :raises AuthError: on 401/403: listening cannot go on.
        :raises ServerError: after ``max_retries`` failed connections in a row.
        """
        report = self.report = StreamReport()
        failures = 0
        while not self.stopping.is_set() and (max_events is None or report.events < max_events):
            try:
                for event, data in self._connect():
                    failures = 0
                    self._handle(event, data, report)
                    if max_events is not None and report.events >= max_events:
                        return report
                reason = f"GET {PATH}: the server closed the stream"
            except httpx.TransportError as exc:
                reason = f"GET {PATH}: cannot reach the streaming API: {type(exc).__name__}"
            except (ServerError, EventTooLong) as exc:
                reason = str(exc)
            if self.stopping.is_set():
                break
            failures += 1
            if failures > self.s.max_retries:
                raise ServerError(f"{reason}; gave up after {failures} attempts")
            report.reconnects += 1
            self.sleep(backoff(self.s.backoff, failures - 1, Retry().max_backoff))
        return report

    def _connect(self) -> Iterator[tuple[str, str]]:
        if self.s.access_token is None:
            raise AuthError(f"GET {PATH} needs {TOKEN}; none is configured")
        headers = {"authorization": "Bearer " + self.s.access_token.get_secret_value()}
        with self.http.stream("GET", PATH, headers=headers) as r:
            if r.status_code in (401, 403):
                raise AuthError(f"the instance rejected {TOKEN} on GET {PATH} ({r.status_code})")
            if not r.is_success:
                raise ServerError(f"GET {PATH}: the instance answered {r.status_code}")
            yield from sse_events(self._until_stopped(r.iter_bytes()))

    def _until_stopped(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            if self.stopping.is_set():
                return
            yield chunk

    def _handle(self, event: str, data: str, report: StreamReport) -> None:
        if event not in ("notification", "update"):
            return  # deletions, edits, filters: nothing to store
        report.events += 1
        try:
            payload: Any = json.loads(data)
        except ValueError:
            payload = data  # kept as a reject, with the reason
        if event == "update" and isinstance(payload, dict):
            account = payload.get("account")
            if not (isinstance(account, dict) and account.get("id") in self.brands):
                return  # someone the brand follows: not a message to the brand
        parts = tagged(self.channel.split(payload), self.s.brand_acct)
        with self.lock:
            if self.stopping.is_set():
                return  # stopping: nothing more is written (the next poll reads it)
            rep = self.app.ingest_native("mastodon", parts, source=f"mastodon:stream:{event}")
        report.stored += rep.stored
        report.duplicates += rep.duplicates
        report.rejected += rep.rejected


def streamed_accounts(
    app: Scrm, channel: MastodonChannel, label: str | None = None
) -> list[MastodonChannel]:
    """Return the accounts of ``channel`` to listen on: every one ``app`` reads
    (:func:`~scrm.plugin.polling.readable_accounts`) with an instance and a token, or the
    one labelled ``label``.

    :raises LookupError: when ``label`` names no account (naming those there are), another
        brand's, or one without an instance and a token.
    """
    readable = readable_accounts(app, channel)
    if label is None:
        return [a for a in readable if a.settings.instance_url and a.settings.access_token]
    chosen = channel.by_label(label)
    if chosen not in readable:
        raise LookupError(f"the mastodon account {label!r} is another brand's")
    if not (chosen.settings.instance_url and chosen.settings.access_token):
        raise LookupError(
            f"set channels.mastodon.accounts.{label}.instance_url and access_token to listen "
            "with it"
        )
    return [chosen]


class Listener:
    """Listen on several accounts at once: a :class:`Streamer` each, each in its own thread
    (one connection each, reconnecting on its own), sharing a stop and an ingest lock.

    :param kw: passed to each streamer (``sleep``).
    """

    def __init__(self, app: Scrm, accounts: Sequence[MastodonChannel], **kw: Any) -> None:
        self.stopping = threading.Event()
        self.lock = lock = threading.Lock()
        self.streamers = [
            Streamer(app, account, stop=self.stopping, lock=lock, **kw) for account in accounts
        ]

    def stop(self) -> None:
        """Ask every streamer to return (safe from a signal handler)."""
        self.stopping.set()

    def close(self) -> None:
        for streamer in self.streamers:
            streamer.close()

    def run(
        self,
        max_events: int | None = None,
        on_stopped: Callable[[Streamer, Exception], None] | None = None,
    ) -> list[StreamReport]:
        """Listen until every account has handled ``max_events`` events (each; forever when
        None), stopped on an error, or :meth:`stop` was called; return a report per account.

        An account whose listening fails on an :class:`~scrm.plugin.polling.ApiError` (its
        token refused, the instance unreachable) has it in its report's ``error``, given to
        ``on_stopped`` as it happens, and the others go on.  Any other exception (the
        database failing) stops them all and is raised here.  On return, and on
        KeyboardInterrupt, nothing is being written: a streamer still waiting on the
        network is a daemon thread that writes nothing more.
        """
        crashed: list[BaseException] = []

        def listen(streamer: Streamer) -> None:
            try:
                streamer.run(max_events)
            except Exception as exc:
                if self.stopping.is_set():
                    return  # the connection closed under it while stopping
                if not isinstance(exc, ApiError):
                    crashed.append(exc)
                    self.stop()
                    return
                streamer.report.error = str(exc)
                if on_stopped is not None:
                    on_stopped(streamer, exc)

        threads = [
            threading.Thread(
                target=listen,
                args=(s,),
                name=f"mastodon-stream:{s.channel.account_label}",
                daemon=True,
            )
            for s in self.streamers
        ]
        for t in threads:
            t.start()
        try:
            while any(t.is_alive() for t in threads) and not self.stopping.wait(0.2):
                pass
        finally:
            self.stop()
            with self.lock:  # an ingest under way commits; none starts after
                pass
        if crashed:
            raise crashed[0]
        return [s.report for s in self.streamers]
