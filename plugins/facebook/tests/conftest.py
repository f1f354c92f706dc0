"""A local fake of the Graph API on 127.0.0.1, and the channel configured against it.

The fake answers like graph.facebook.com does: JSON bodies, error objects
``{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`` with HTTP 400/403
for throttling, usage headers, and ``paging.cursors``/``paging.next`` on edges.  Nothing here
reaches the internet.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from scrm_facebook.channel import FacebookChannel

from scrm.core.config import Config
from scrm.testing import LoopbackHTTPServer

PAGE_ID = "112233445566778"
TOKEN = "EAAG-page-token-never-shown"
APP_SECRET = "test_app_secret"
VERIFY_TOKEN = "meatyhamhock"
VERSION = "v21.0"


@dataclass
class Seen:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode()))


@dataclass
class Reply:
    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


Route = Callable[[Seen], Reply]


def graph_error(
    code: int, message: str, *, subcode: int | None = None, type_: str = "OAuthException"
) -> dict[str, Any]:
    """Return a Graph API error object shaped like the documented one."""
    err: dict[str, Any] = {"message": message, "type": type_, "code": code}
    if subcode is not None:
        err["error_subcode"] = subcode
    err["fbtrace_id"] = "AbCdEfGhIjK"
    return {"error": err}


class FakeGraph:
    """Routes keyed by (method, path without the version); each a queue of replies or a function."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], list[Reply] | Route] = {}
        self.seen: list[Seen] = []
        self.token = TOKEN
        #: Page tokens of more pages (one app serving several brands' pages).
        self.other_tokens: set[str] = set()
        self._server = LoopbackHTTPServer(self._handler())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"{self._server.url}/{VERSION}"

    def on(self, method: str, path: str, *replies: Reply | Route) -> None:
        """Answer ``method path`` with ``replies`` in turn (the last one repeats), or a function."""
        if len(replies) == 1 and callable(replies[0]):
            self.routes[(method, path)] = replies[0]
        else:
            self.routes[(method, path)] = [r for r in replies if isinstance(r, Reply)]

    def answer(self, seen: Seen) -> Reply:
        auth = seen.headers.get("authorization", "")
        if auth.removeprefix("Bearer ") not in {self.token, *self.other_tokens}:
            return Reply(
                graph_error(
                    190,
                    "Error validating access token: Session has expired on Friday, "
                    "25-Oct-24 10:00:00 PDT.",
                    subcode=463,
                ),
                400,
            )
        route = self.routes.get((seen.method, seen.path))
        if route is None:
            return Reply(
                graph_error(
                    100,
                    f"Unsupported {seen.method.lower()} request. Object with ID "
                    f"'{seen.path.split('/')[0]}' does not exist",
                    subcode=33,
                    type_="GraphMethodException",
                ),
                400,
            )
        if callable(route):
            return route(seen)
        return route.pop(0) if len(route) > 1 else route[0]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("content-length") or 0)
                seen = Seen(
                    self.command,
                    parts.path.removeprefix(f"/{VERSION}/"),
                    dict(parse_qsl(parts.query)),
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length) if length else b"",
                )
                fake.seen.append(seen)
                reply = fake.answer(seen)
                data = json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("x-fb-trace-id", "AbCdEfGhIjK")
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            do_GET = _serve
            do_POST = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    fake = FakeGraph()
    fake.start()
    yield fake
    fake.stop()


def settings_for(graph_url: str) -> dict[str, Any]:
    return {
        "graph_url": graph_url,
        "page_id": PAGE_ID,
        "page_name": "Acme Türkiye",
        "page_access_token": TOKEN,
        "app_secret": APP_SECRET,
        "verify_token": VERIFY_TOKEN,
    }


@pytest.fixture
def scrm_config(scrm_database_url: str, graph: FakeGraph) -> Config:
    return Config(database_url=scrm_database_url, channels={"facebook": settings_for(graph.url)})


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def channel(graph: FakeGraph, sleeps: Sleeps) -> Iterator[FacebookChannel]:
    """A channel talking to the fake, without a database; its sleeps are recorded."""
    ch = FacebookChannel(settings_for(graph.url))
    ch.sleep = sleeps
    yield ch
    ch.close()


class Builders:
    """Webhook bodies as Meta sends them (feed times in seconds, Messenger in milliseconds)."""

    page_id = PAGE_ID
    post_id = f"{PAGE_ID}_998877"

    def comment(
        self,
        comment_id: str = "998877_1234567",
        message: str | None = "Kargom hâlâ gelmedi!",
        *,
        verb: str = "add",
        parent_id: str | None = None,
        sender: tuple[str, str] = ("3088119634567890", "Cinderella Hoover"),
        created_time: int = 1520544814,
    ) -> dict[str, Any]:
        value: dict[str, Any] = {
            "from": {"id": sender[0], "name": sender[1]},
            "post": {
                "status_type": "added_photos",
                "is_published": True,
                "updated_time": "2018-03-08T21:33:34+0000",
                "permalink_url": f"https://www.facebook.com/{PAGE_ID}/posts/998877",
                "promotion_status": "inactive",
                "id": self.post_id,
            },
            "post_id": self.post_id,
            "comment_id": comment_id,
            "created_time": created_time,
            "item": "comment",
            "parent_id": parent_id or self.post_id,
            "verb": verb,
        }
        if message is not None:
            value["message"] = message
        return {"field": "feed", "value": value}

    def message(
        self,
        mid: str = "mid.1457764197618:41d102a3e1ae206a38",
        text: str | None = "hello, world!",
        *,
        psid: str = "6890213847561920",
        timestamp: int = 1457764197627,
        echo: bool = False,
        **extra: Any,
    ) -> dict[str, Any]:
        message: dict[str, Any] = {"mid": mid, **extra}
        if text is not None:
            message["text"] = text
        if echo:
            message = {"is_echo": True, "app_id": 1517776481860111, **message}
        sender, recipient = (PAGE_ID, psid) if echo else (psid, PAGE_ID)
        return {
            "sender": {"id": sender},
            "recipient": {"id": recipient},
            "timestamp": timestamp,
            "message": message,
        }

    def body(self, *events: dict[str, Any], time: int = 1520544820) -> dict[str, Any]:
        """One entry per event: feed changes under ``changes``, Messenger under ``messaging``."""
        entries = []
        for e in events:
            key = "changes" if "field" in e else "messaging"
            entries.append({"id": PAGE_ID, "time": time, key: [e]})
        return {"object": "page", "entry": entries}

    @staticmethod
    def raw(payload: dict[str, Any]) -> bytes:
        """Serialise like Meta: compact, non-ASCII as \\u escapes."""
        return json.dumps(payload, separators=(",", ":")).encode()

    @staticmethod
    def sign(body: bytes, secret: str = APP_SECRET) -> dict[str, str]:
        import hashlib
        import hmac

        digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return {"X-Hub-Signature-256": f"sha256={digest}"}


@pytest.fixture
def fb() -> Builders:
    return Builders()


@pytest.fixture
def graph_url(graph: FakeGraph) -> str:
    return graph.url
