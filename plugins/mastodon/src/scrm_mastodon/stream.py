"""Listen to the streaming API: mentions and the brand's own statuses as they happen.

``GET /api/v1/streaming/user`` sends server-sent events: ``notification`` (a Notification;
mentions carry a status) and ``update`` (a status of the home timeline; only the brand's own
are kept, so a reply written in the Mastodon app moves its case at once).  Lines starting with
``:`` are heartbeats.  Every event is ingested as it arrives; a dropped connection is opened
again after ``backoff`` seconds, doubling (up to five minutes), up to ``max_retries`` failures in a row.

The server is untrusted: an event is read into a bounded buffer (:data:`MAX_EVENT_BYTES`), and
a longer one ends the connection with an error instead of growing memory.  Streaming keeps no
cursor: what it missed while disconnected, the next ``scrm mastodon poll`` reads (ingest
stores each status once).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from scrm.plugin.polling import ApiError, AuthError, Retry, ServerError, backoff
from scrm_mastodon.client import TOKEN, USER_AGENT
from scrm_mastodon.content import MAX_HTML_LENGTH

if TYPE_CHECKING:
    from scrm.plugin import Scrm
    from scrm_mastodon.channel import MastodonChannel

__all__ = ["MAX_EVENT_BYTES", "StreamReport", "Streamer", "sse_events"]

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
    events: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    reconnects: int = 0


class Streamer:
    """Ingest the brand account's stream into ``app``.

    :param sleep: how to wait between reconnections (tests pass a recorder).
    """

    def __init__(
        self,
        app: Scrm,
        channel: MastodonChannel,
        *,
        sleep: Callable[[float], None] = time.sleep,
        http: httpx.Client | None = None,
    ) -> None:
        self.app = app
        self.s = channel.settings
        self.brands = set(self.s.brand_ids())
        self.sleep = sleep
        base = self.s.streaming_url or self.s.instance_url or "http://unset.invalid"
        self.http = http or httpx.Client(
            base_url=base, headers={"user-agent": USER_AGENT}, follow_redirects=False,
            timeout=httpx.Timeout(self.s.timeout, read=self.s.stream_read_timeout),
        )  # fmt: skip

    def close(self) -> None:
        self.http.close()

    def run(self, max_events: int | None = None) -> StreamReport:
        """Listen until ``max_events`` events were handled (forever when None).

        :raises AuthError: on 401/403: listening cannot go on.
        :raises ServerError: after ``max_retries`` failed connections in a row.
        """
        report = StreamReport()
        failures = 0
        while max_events is None or report.events < max_events:
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
            yield from sse_events(r.iter_bytes())

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
        channel = self.app.channel("mastodon")
        rep = self.app.ingest_native(
            "mastodon", channel.split(payload), source=f"mastodon:stream:{event}"
        )
        report.stored += rep.stored
        report.duplicates += rep.duplicates
        report.rejected += rep.rejected
