"""Helpers for the HTTP service tests: configured apps, API keys, a live uvicorn server,
signed channel deliveries, and a local receiver for outgoing webhooks."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import httpx
import pytest
import uvicorn

from scrm.core.apikeys import create_key
from scrm.core.app import Scrm
from scrm.core.config import Config
from scrm.server import create_app
from scrm.testing import LoopbackHTTPServer

SERVER_KEY = "server-key-for-tests-0123456789"
TW_SECRET = "tw-consumer-secret-for-tests"
FB_SECRET = "fb-app-secret-for-tests"
FB_PAGE = "1000111"
FB_VERIFY = "fb-verify-token-for-tests"
MAX_BODY = 64 * 1024


def server_config(url: str, **server: Any) -> Config:
    return Config(
        database_url=url,
        server={
            "secret_key": SERVER_KEY,
            "deliver_interval": 0,
            "max_body_bytes": MAX_BODY,
            **server,
        },
        channels={
            "twitter": {"consumer_secret": TW_SECRET, "brand_user_id": "583920147"},
            "facebook": {"page_id": FB_PAGE, "app_secret": FB_SECRET, "verify_token": FB_VERIFY},
        },
    )


@pytest.fixture
def scrm_config(scrm_database_url: str) -> Config:
    return server_config(scrm_database_url)


def make_key(app: Scrm, role: str, *, name: str | None = None, **kwargs: Any) -> str:
    with app.session() as s:
        _, token = create_key(s, name=name or role, role=role, actor="test", **kwargs)
    return token


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def seed_cases(app: Scrm, cli: Any) -> dict[str, str]:
    """Add an agent and three phone complaints (so ids 1..3 exist); return admin headers."""
    cli("agents", "add", "ece", "--department", "support")
    app.ingest_native(
        "phone",
        [{"record_id": f"S-{n}", "channel": "phone", "received_at": "2024-10-21T10:00:00+03:00",
          "caller": {"name": "A", "phone": f"+90 532 111 22 3{n}"}, "text": "Kargom gelmedi, berbat!"}
         for n in range(3)],
    )  # fmt: skip
    return auth(make_key(app, "admin"))


def asgi_client(app: Scrm) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(app)), base_url="http://scrm.test"
    )


@contextmanager
def live_server(app: Scrm) -> Iterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1 (a free port) in a thread; yield its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(app), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def tweet_payload(
    n: int, text: str = "@AcmeDestek kargom nerede? berbat bir hizmet"
) -> dict[str, Any]:
    """An Account Activity delivery with one tweet."""
    return {
        "for_user_id": "583920147",
        "tweet_create_events": [
            {
                "created_at": "Wed Feb 05 08:39:31 +0000 2020",
                "id": 1224972300000000000 + n,
                "id_str": str(1224972300000000000 + n),
                "text": text,
                "in_reply_to_user_id_str": "583920147",
                "lang": "tr",
                "user": {
                    "id": 2086537338,
                    "id_str": "2086537338",
                    "name": "Ayşe Yılmaz",
                    "screen_name": "aysylmz",
                    "followers_count": 312,
                },
            }
        ],
    }


def twitter_signature(body: bytes, secret: str = TW_SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return {"x-twitter-webhooks-signature": "sha256=" + base64.b64encode(digest).decode()}


def facebook_payload(comment_id: str, message: str = "Kargom hâlâ gelmedi!") -> dict[str, Any]:
    return {
        "object": "page",
        "entry": [
            {
                "id": FB_PAGE,
                "time": 1520544816,
                "changes": [
                    {
                        "field": "feed",
                        "value": {
                            "from": {"id": "3088119634567890", "name": "Cinderella Hoover"},
                            "post_id": f"{FB_PAGE}_998877",
                            "comment_id": comment_id,
                            "created_time": 1520544814,
                            "item": "comment",
                            "parent_id": f"{FB_PAGE}_998877",
                            "verb": "add",
                            "message": message,
                        },
                    }
                ],
            }
        ],
    }


def facebook_signature(body: bytes, secret: str = FB_SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}"}


def body_of(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode()


@dataclass
class Receiver:
    """A local HTTP endpoint recording what it is sent; ``statuses`` scripts its answers."""

    url: str
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)


@contextmanager
def receiver() -> Iterator[Receiver]:
    rec = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            rec.requests.append(({k: v for k, v in self.headers.items()}, body))
            status = rec.statuses.pop(0) if rec.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = LoopbackHTTPServer(Handler)
    rec.url = server.url + "/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()


class SyncClient:
    """A blocking client for an ASGI app over ``httpx.ASGITransport`` (one loop per call)."""

    def __init__(self, api: Any) -> None:
        self.api = api

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.api)
            async with httpx.AsyncClient(transport=transport, base_url="http://scrm.test") as c:
                return await c.request(method, url, **kwargs)

        return asyncio.run(go())

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)
