"""A local fake of a Mastodon instance's REST API on 127.0.0.1, built from the documented shapes.

Shapes follow docs.joinmastodon.org (methods/notifications, statuses, search, accounts;
entities/Status, Account, Notification, Context; api/rate-limits): string ids, newest first,
``limit`` capped per endpoint, ``since_id``/``max_id``/``min_id``, a ``Link`` header with the
``next`` (``max_id``) and ``prev`` (``min_id``) pages when a page is full, the
``X-RateLimit-Limit/Remaining/Reset`` headers (the reset an ISO 8601 time) on every
response, ``{"error": ...}`` bodies for 401, 404, 422 and 429, ``Idempotency-Key`` honoured
on posting, and ``types[]`` filtering of notifications.  Authentication is a bearer token:
the brand's, or another account's (:meth:`FakeMastodon.add_user`), which has a streaming
queue of its own; the other endpoints answer from the brand's point of view.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from scrm.testing import LoopbackHTTPServer

INVALID_TOKEN = {"error": "The access token is invalid"}
NOT_FOUND = {"error": "Record not found"}
TOO_MANY = {"error": "Too many requests"}
BLANK = {"error": "Validation failed: Text can't be blank"}
LIMITS = {"notifications": (40, 80), "statuses": (20, 40), "search": (20, 40)}


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def account(aid: str, username: str, *, domain: str | None = None, followers: int = 100,
            display_name: str | None = None, bot: bool = False) -> dict[str, Any]:  # fmt: skip
    """An Account entity as the API returns it (remote when ``domain`` is given)."""
    host = domain or "mastodon.example"
    return {
        "id": aid, "username": username, "acct": f"{username}@{domain}" if domain else username,
        "display_name": display_name if display_name is not None else username.title(),
        "locked": False, "bot": bot, "discoverable": True, "group": False,
        "created_at": "2022-11-07T00:00:00.000Z", "note": "<p></p>",
        "url": f"https://{host}/@{username}", "uri": f"https://{host}/users/{username}",
        "avatar": f"https://{host}/avatars/original/missing.png",
        "avatar_static": f"https://{host}/avatars/original/missing.png",
        "header": f"https://{host}/headers/original/missing.png",
        "header_static": f"https://{host}/headers/original/missing.png",
        "followers_count": followers, "following_count": 12, "statuses_count": 340,
        "last_status_at": "2024-10-27", "emojis": [], "fields": [],
    }  # fmt: skip


def mention_of(acc: dict[str, Any]) -> dict[str, Any]:
    return {k: acc[k] for k in ("id", "username", "url", "acct")}


def status(sid: str, acc: dict[str, Any], html: str, *, created_at: str,
           reply_to: dict[str, Any] | None = None, visibility: str = "public",
           mentions: list[dict[str, Any]] = (), language: str | None = "tr",  # type: ignore[assignment]
           favourites: int = 0, reblogs: int = 0, spoiler: str = "",
           media: list[dict[str, Any]] = ()) -> dict[str, Any]:  # type: ignore[assignment]  # fmt: skip
    """A Status entity (``reply_to``: the status it answers)."""
    host = "mastodon.example"
    return {
        "id": sid, "created_at": created_at,
        "in_reply_to_id": reply_to["id"] if reply_to else None,
        "in_reply_to_account_id": reply_to["account"]["id"] if reply_to else None,
        "sensitive": bool(spoiler), "spoiler_text": spoiler, "visibility": visibility,
        "language": language, "uri": f"https://{host}/users/{acc['username']}/statuses/{sid}",
        "url": f"https://{host}/@{acc['username']}/{sid}", "replies_count": 0,
        "reblogs_count": reblogs, "favourites_count": favourites, "edited_at": None,
        "favourited": False, "reblogged": False, "muted": False, "bookmarked": False,
        "content": html, "filtered": [], "reblog": None,
        "application": {"name": "Web", "website": None}, "account": acc,
        "media_attachments": list(media), "mentions": [mention_of(m) for m in mentions],
        "tags": [], "emojis": [], "card": None, "poll": None,
    }  # fmt: skip


@dataclass
class Fault:
    """A scripted answer for the next requests whose path starts with ``prefix``."""

    prefix: str
    status: int
    body: Any
    times: int = 1
    headers: dict[str, str] = field(default_factory=dict)
    method: str | None = None


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


class FakeMastodon:
    """State and behaviour of the fake instance; :meth:`start` serves it on 127.0.0.1."""

    def __init__(self, *, brand: dict[str, Any], token: str) -> None:
        self.brand = brand
        self.token = token
        self.accounts: dict[str, dict[str, Any]] = {brand["id"]: brand}
        self.statuses: dict[str, dict[str, Any]] = {}
        self.notifications: list[dict[str, Any]] = []
        self.faults: list[Fault] = []
        self.requests: list[Seen] = []
        self.idempotency: dict[str, dict[str, Any]] = {}
        #: Raw server-sent event streams, one per connection to /api/v1/streaming/user.
        self.streams: list[bytes] = []
        #: Each token's account and streams (the brand's: :attr:`streams`).
        self.users: dict[str, tuple[dict[str, Any], list[bytes]]] = {token: (brand, self.streams)}
        self.rate_limit = 300
        self.used = 0
        self.window_reset = time.time() + 300
        self.lock = threading.Lock()
        self.url = ""
        self._next_notification = 34975000
        self._next_status = 113400000000000000

    # -- data ------------------------------------------------------------------------------

    def add_account(self, acc: dict[str, Any]) -> dict[str, Any]:
        self.accounts[acc["id"]] = acc
        return acc

    def add_user(self, acc: dict[str, Any], token: str) -> list[bytes]:
        """Another account (another brand's, say) signing in with ``token``; return its
        streams, one per connection to /api/v1/streaming/user with that token."""
        self.add_account(acc)
        self.users[token] = (acc, [])
        return self.users[token][1]

    def add_status(self, st: dict[str, Any]) -> dict[str, Any]:
        """Store a status, and a mention notification when it names the brand."""
        self.statuses[st["id"]] = st
        if any(m["id"] == self.brand["id"] for m in st["mentions"]):
            self._next_notification += 1
            self.notifications.append({
                "id": str(self._next_notification), "type": "mention",
                "created_at": st["created_at"], "account": st["account"], "status": st,
            })  # fmt: skip
        return st

    def add_notification(self, kind: str, acc: dict[str, Any], st: dict[str, Any] | None) -> None:
        self._next_notification += 1
        n = {"id": str(self._next_notification), "type": kind, "created_at": iso(time.time()),
             "account": acc}  # fmt: skip
        if st is not None:
            n["status"] = st
        self.notifications.append(n)

    def fail(self, prefix: str, status: int, body: Any = None, *, times: int = 1,
             headers: dict[str, str] | None = None, method: str | None = None) -> None:  # fmt: skip
        """Answer the next ``times`` requests under ``prefix`` (of ``method``) with ``status``."""
        self.faults.append(Fault(prefix, status, body, times, headers or {}, method))

    def seen(self, prefix: str, method: str = "GET") -> list[Seen]:
        return [r for r in self.requests if r.path.startswith(prefix) and r.method == method]

    # -- server ----------------------------------------------------------------------------

    def start(self) -> Iterator[FakeMastodon]:
        server = LoopbackHTTPServer(_handler(self))
        self.url = server.url
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()

    def rate_headers(self) -> dict[str, str]:
        left = max(0, self.rate_limit - self.used)
        return {"x-ratelimit-limit": str(self.rate_limit), "x-ratelimit-remaining": str(left),
                "x-ratelimit-reset": iso(self.window_reset)}  # fmt: skip

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes
               ) -> tuple[int, dict[str, str], Any]:  # fmt: skip
        parts = urlsplit(raw_path)
        path, query = parts.path, parse_qs(parts.query, keep_blank_values=True)
        payload = json.loads(body) if body else None
        with self.lock:
            self.requests.append(Seen(method, path, query, headers, payload))
            for fault in self.faults:
                if (
                    path.startswith(fault.prefix)
                    and fault.times > 0
                    and (fault.method in (None, method))
                ):
                    fault.times -= 1
                    return fault.status, {**self.rate_headers(), **fault.headers}, fault.body
            scheme, _, token = headers.get("authorization", "").partition(" ")
            if scheme != "Bearer" or token not in self.users:
                return 401, {}, INVALID_TOKEN
            self.used += 1
            if self.used > self.rate_limit:
                return 429, self.rate_headers(), TOO_MANY
            status, extra, out = self._route(method, path, query, payload, headers, token)
            return status, {**self.rate_headers(), **extra}, out

    def _route(self, method: str, path: str, q: dict[str, list[str]], body: Any,
               headers: dict[str, str], token: str) -> tuple[int, dict[str, str], Any]:  # fmt: skip
        seg = path.strip("/").split("/")
        if method == "GET" and path == "/api/v1/notifications":
            types = set(q.get("types[]", []))
            items = [n for n in self.notifications if not types or n["type"] in types]
            return self._page(path, q, items, "notifications")
        if method == "GET" and path == "/api/v1/accounts/verify_credentials":
            me = self.users[token][0]
            return 200, {}, {**me, "source": {"privacy": "public", "language": "tr"}}
        if method == "GET" and seg[:3] == ["api", "v1", "accounts"] and len(seg) in (4, 5):
            acc = self.accounts.get(seg[3])
            if acc is None:
                return 404, {}, NOT_FOUND
            if len(seg) == 4:
                return 200, {}, acc
            if seg[4] != "statuses":
                return 404, {}, NOT_FOUND
            items = [s for s in self.statuses.values() if s["account"]["id"] == acc["id"]]
            if _one(q, "exclude_reblogs") == "true":
                items = [s for s in items if s["reblog"] is None]
            return self._page(path, q, items, "statuses")
        if method == "GET" and path == "/api/v2/search":
            return self._search(q)
        if method == "GET" and seg[:3] == ["api", "v1", "statuses"] and len(seg) in (4, 5):
            st = self.statuses.get(seg[3])
            if st is None or (st["visibility"] == "direct" and not self._addressed(st)):
                return 404, {}, NOT_FOUND
            if len(seg) == 4:
                return 200, {}, st
            if seg[4] == "context":
                return 200, {}, self._context(st)
            return 404, {}, NOT_FOUND
        if method == "GET" and path == "/api/v1/streaming/user":
            streams = self.users[token][1]
            body = streams.pop(0) if streams else b":)\n"
            return 200, {"content-type": "text/event-stream", "stream": "1"}, body
        if method == "POST" and path == "/api/v1/statuses":
            return self._post(body or {}, headers.get("idempotency-key"))
        return 404, {}, {"error": "Not Found"}

    def _addressed(self, st: dict[str, Any]) -> bool:
        ids = {m["id"] for m in st["mentions"]} | {st["account"]["id"]}
        return self.brand["id"] in ids

    def _page(self, path: str, q: dict[str, list[str]], items: list[dict[str, Any]], kind: str
              ) -> tuple[int, dict[str, str], Any]:  # fmt: skip
        default, most = LIMITS[kind]
        limit = min(int(_one(q, "limit") or default), most)
        items = sorted(items, key=lambda i: int(i["id"]), reverse=True)
        for param, keep in (("since_id", lambda i, v: int(i["id"]) > v),
                            ("max_id", lambda i, v: int(i["id"]) < v)):  # fmt: skip
            if _one(q, param):
                items = [i for i in items if keep(i, int(_one(q, param)))]
        if _one(q, "min_id"):  # the page just above min_id, still newest first
            items = [i for i in items if int(i["id"]) > int(_one(q, "min_id"))][-limit:]
        page = items[:limit]
        extra: dict[str, str] = {}
        if len(page) == limit:  # Mastodon links the next page when this one is full
            keep = {k: v for k, v in q.items() if k not in ("max_id", "min_id", "since_id")}
            nxt = urlencode({**keep, "max_id": page[-1]["id"]}, doseq=True)
            prev = urlencode({**keep, "min_id": page[0]["id"]}, doseq=True)
            base = "https://mastodon.example" + path
            extra["link"] = f'<{base}?{nxt}>; rel="next", <{base}?{prev}>; rel="prev"'
        return 200, extra, page

    def _search(self, q: dict[str, list[str]]) -> tuple[int, dict[str, str], Any]:
        term = (_one(q, "q") or "").lower()
        if not term:
            return 400, {}, {"error": "Validation failed: q is missing"}
        limit = min(int(_one(q, "limit") or 20), 40)
        found = [s for s in self.statuses.values()
                 if s["visibility"] in ("public", "unlisted") and term in s["content"].lower()]  # fmt: skip
        found.sort(key=lambda s: int(s["id"]), reverse=True)
        if _one(q, "max_id"):
            found = [s for s in found if int(s["id"]) < int(_one(q, "max_id"))]
        wants = _one(q, "type")
        return (
            200,
            {},
            {
                "accounts": [],
                "hashtags": [],
                "statuses": found[:limit] if wants in (None, "statuses") else [],
            },
        )

    def _context(self, st: dict[str, Any]) -> dict[str, Any]:
        ancestors, parent = [], st["in_reply_to_id"]
        while parent and parent in self.statuses:
            ancestors.insert(0, self.statuses[parent])
            parent = self.statuses[parent]["in_reply_to_id"]
        descendants, frontier = [], [st["id"]]
        while frontier:
            kids = sorted((s for s in self.statuses.values() if s["in_reply_to_id"] in frontier),
                          key=lambda s: int(s["id"]))  # fmt: skip
            descendants.extend(kids)
            frontier = [k["id"] for k in kids]
        return {"ancestors": ancestors, "descendants": descendants}

    def _post(self, body: dict[str, Any], key: str | None) -> tuple[int, dict[str, str], Any]:
        if key and key in self.idempotency:
            return 200, {}, self.idempotency[key]
        text = body.get("status") or ""
        if not text.strip():
            return 422, {}, BLANK
        # Mastodon counts a link as 23 characters and a remote mention as its username.
        counted = " ".join(
            ("x" * 23 if w.startswith(("http://", "https://")) else "@" + w.split("@")[1])
            if w.startswith(("http://", "https://")) or (w.startswith("@") and w.count("@") == 2)
            else w
            for w in text.split(" ")
        )
        if len(counted) > 500:
            return 422, {}, {"error": "Validation failed: Text character limit of 500 exceeded"}
        parent = body.get("in_reply_to_id")
        if parent and parent not in self.statuses:
            return 404, {}, NOT_FOUND
        self._next_status += 1
        names = {w.lstrip("@").lower() for w in text.split() if w.startswith("@")}
        mentioned = [a for a in self.accounts.values() if a["acct"].lower() in names]
        st = status(str(self._next_status), self.brand, _html(text), created_at=iso(time.time()),
                    reply_to=self.statuses.get(parent) if parent else None,
                    visibility=body.get("visibility", "public"), mentions=mentioned)  # fmt: skip
        self.statuses[st["id"]] = st
        if key:
            self.idempotency[key] = st
        return 200, {}, st


def notification(st: dict[str, Any], kind: str = "mention") -> dict[str, Any]:
    """A Notification of ``kind`` about ``st``, as the streaming API sends it."""
    return {"id": "35000001", "type": kind, "created_at": st["created_at"],
            "account": st["account"], "status": st}  # fmt: skip


def sse(*events: tuple[str, Any]) -> bytes:
    """Server-sent events as the streaming API writes them, heartbeats between."""
    out = b":)\n"
    for name, payload in events:
        data = payload if isinstance(payload, str) else json.dumps(payload)
        out += f"event: {name}\ndata: {data}\n\n:thump\n".encode()
    return out


def _one(q: dict[str, list[str]], key: str) -> str | None:
    values = q.get(key)
    return values[0] if values else None


def _html(text: str) -> str:
    import html

    return "<p>" + html.escape(text).replace("\n", "<br />") + "</p>"


def _handler(fake: FakeMastodon) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, extra, out = fake.handle(self.command, self.path, headers, body)
            data = out if isinstance(out, bytes) else json.dumps(out).encode()
            self.send_response(status)
            if extra.pop("stream", None):  # an event stream: no length, ends when closed
                self.close_connection = True
            else:
                self.send_header("content-type", "application/json; charset=utf-8")
                self.send_header("content-length", str(len(data)))
            for k, v in extra.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
