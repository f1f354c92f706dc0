"""A local fake of the X API v2 on 127.0.0.1, faithful to the documented and recorded wire format.

Shapes follow docs.x.com and the tweepy cassettes (``../shared/data/tweepy_cassettes``):
string ids, ``includes.users`` expansions, only requested fields returned, ``meta`` with
``newest_id``/``oldest_id``/``result_count``/``next_token``, *no* ``data`` key on an empty
page, ``x-rate-limit-*`` headers on every response, the v2 problem bodies for 400, 401, 403
and 429, 201 + ``location`` on creation.  Authentication is checked for real: app-only
bearer, OAuth 2.0 user token, or an OAuth 1.0a signature recomputed from the request.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from scrm_twitter import oauth1

from scrm.testing import LoopbackHTTPServer

TWEET_DEFAULT = ("id", "text", "edit_history_tweet_ids")
USER_DEFAULT = ("id", "name", "username")
DM_DEFAULT = ("id", "event_type", "text")
COMMON = {"tweet.fields", "expansions", "user.fields", "max_results", "since_id", "until_id"}
ALLOWED = {
    "mentions": COMMON | {"pagination_token", "start_time", "end_time"},
    "search": COMMON | {"query", "next_token", "start_time", "end_time", "sort_order"},
    "dm_events": {"dm_event.fields", "event_types", "expansions", "user.fields", "max_results",
                  "pagination_token"},
}  # fmt: skip
PAGE_MIN = {"mentions": 5, "search": 10, "dm_events": 1}

UNAUTHORIZED = {
    "title": "Unauthorized",
    "type": "about:blank",
    "status": 401,
    "detail": "Unauthorized",
}
TOO_MANY = {
    "title": "Too Many Requests",
    "type": "about:blank",
    "status": 429,
    "detail": "Too Many Requests",
}
APP_ONLY_FORBIDDEN = {
    "title": "Unsupported Authentication",
    "detail": "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  "
    "Supported authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context].",
    "type": "https://api.twitter.com/2/problems/unsupported-authentication",
    "status": 403,
}  # fmt: skip
REPLY_INVISIBLE = {
    "detail": "You attempted to reply to a Tweet that is deleted or not visible to you.",
    "type": "about:blank",
    "title": "Forbidden",
    "status": 403,
}


def invalid_request(message: str, **parameters: list[str]) -> dict[str, Any]:
    return {
        "errors": [{"parameters": parameters, "message": message}],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request",
    }


@dataclass
class Fault:
    """A scripted answer for the next requests whose path starts with ``prefix``."""

    prefix: str
    status: int
    body: dict[str, Any]
    times: int = 1
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


class FakeX:
    """State and behaviour of the fake API; :meth:`start` serves it on 127.0.0.1."""

    def __init__(self, *, brand: dict[str, Any], bearer: str, user_token: str,
                 oauth: tuple[str, str, str, str]) -> None:  # fmt: skip
        self.brand = brand
        self.users: dict[str, dict[str, Any]] = {brand["id"]: brand}
        self.tweets: dict[str, dict[str, Any]] = {}
        self.dm_events: list[dict[str, Any]] = []
        self.invisible: set[str] = set()
        self.bearer, self.user_token, self.oauth = bearer, user_token, oauth
        #: OAuth 2.0 user tokens of more brand accounts, to their user ids (add_account).
        self.user_tokens: dict[str, str] = {user_token: brand["id"]}
        #: The user whose user-context credentials signed the request being handled.
        self.acting = brand["id"]
        self.faults: list[Fault] = []
        self.requests: list[Seen] = []
        self.limits = {"mentions": 450, "search": 450, "dm_events": 300, "post": 200, "dm_post": 200,
                       "me": 75, "user": 300}  # fmt: skip
        self.used: dict[str, int] = {}
        self.window_reset = int(time.time()) + 900
        self._tokens: dict[str, tuple[str, int]] = {}
        self._next_id = 1860000000000000000
        self.lock = threading.Lock()
        self.url = ""

    # -- data ------------------------------------------------------------------------------

    def add_user(self, user: dict[str, Any]) -> None:
        self.users[user["id"]] = user

    def add_account(self, user: dict[str, Any], token: str) -> None:
        """Add another brand account whose OAuth 2.0 user token is ``token``."""
        self.add_user(user)
        self.user_tokens[token] = user["id"]

    def add_tweet(self, tweet: dict[str, Any]) -> None:
        self.tweets[tweet["id"]] = {"edit_history_tweet_ids": [tweet["id"]], **tweet}

    def new_id(self) -> str:
        self._next_id += 1
        return str(self._next_id)

    def fail(self, prefix: str, status: int, body: dict[str, Any] | None = None, *,
             times: int = 1, headers: dict[str, str] | None = None) -> None:  # fmt: skip
        """Answer the next ``times`` requests under ``prefix`` with ``status``."""
        self.faults.append(Fault(prefix, status, body or {}, times, headers or {}))

    def seen(self, prefix: str) -> list[Seen]:
        return [r for r in self.requests if r.path.startswith(prefix)]

    # -- server ----------------------------------------------------------------------------

    def start(self) -> Iterator[FakeX]:
        server = LoopbackHTTPServer(_handler(self))
        self.url = server.url
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()

    # -- request handling ------------------------------------------------------------------

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes
               ) -> tuple[int, dict[str, str], dict[str, Any] | None]:  # fmt: skip
        parts = urlsplit(raw_path)
        path, query = parts.path, dict(parse_qsl(parts.query, keep_blank_values=True))
        payload = json.loads(body) if body else None
        with self.lock:
            self.requests.append(Seen(method, path, query, headers, payload))
            bucket = self._bucket(method, path)
            context = self._auth(method, path, query, headers)
            for fault in self.faults:
                if path.startswith(fault.prefix) and fault.times > 0:
                    fault.times -= 1
                    return fault.status, {**self._rate(bucket), **fault.headers}, fault.body
            if context is None:
                return 401, {}, UNAUTHORIZED
            self.used[bucket] = self.used.get(bucket, 0) + 1
            if self.used[bucket] > self.limits[bucket]:
                return 429, self._rate(bucket), TOO_MANY
            status, extra, out = self._route(method, path, query, payload, context)
            return status, {**self._rate(bucket), **extra}, out

    def _rate(self, bucket: str) -> dict[str, str]:
        left = max(0, self.limits[bucket] - self.used.get(bucket, 0))
        return {"x-rate-limit-limit": str(self.limits[bucket]),
                "x-rate-limit-remaining": str(left), "x-rate-limit-reset": str(self.window_reset)}  # fmt: skip

    def _bucket(self, method: str, path: str) -> str:
        if path.endswith("/mentions"):
            return "mentions"
        if path.startswith("/2/tweets/search"):
            return "search"
        if path == "/2/dm_events":
            return "dm_events"
        if path == "/2/tweets":
            return "post"
        if path.startswith("/2/dm_conversations"):
            return "dm_post"
        return "me" if path == "/2/users/me" else "user"

    def _auth(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str]
    ) -> str | None:
        value = headers.get("authorization", "")
        if value == f"Bearer {self.bearer}":
            return "app"
        if value.startswith("Bearer ") and value[7:] in self.user_tokens:
            self.acting = self.user_tokens[value[7:]]
            return "user"
        if value.startswith("OAuth "):
            given = {k: unquote(v.strip('"')) for k, v in
                     (p.strip().split("=", 1) for p in value[6:].split(","))}  # fmt: skip
            ck, cs, tok, ts = self.oauth
            if given.get("oauth_consumer_key") != ck or given.get("oauth_token") != tok:
                return None
            signed = {k: v for k, v in given.items() if k != "oauth_signature"}
            base = oauth1.signature_base(method, self.url + path, {**query, **signed})
            if oauth1.signature(base, cs, ts) == given.get("oauth_signature"):
                self.acting = self.brand["id"]
                return "user"
        return None

    def _route(self, method: str, path: str, q: dict[str, str], body: Any, ctx: str
               ) -> tuple[int, dict[str, str], dict[str, Any]]:  # fmt: skip
        seg = path.strip("/").split("/")
        if method == "GET" and len(seg) == 4 and seg[1] == "users" and seg[3] == "mentions":
            return self._page("mentions", q, self._mentions(seg[2]))
        if method == "GET" and path == "/2/tweets/search/recent":
            if not q.get("query"):
                return (
                    400,
                    {},
                    invalid_request("The `query` query parameter can not be empty", query=[""]),
                )
            return self._page("search", q, self._search(q["query"]))
        if method == "GET" and path == "/2/dm_events":
            if ctx == "app":
                return 403, {}, APP_ONLY_FORBIDDEN
            return self._page("dm_events", q, list(self.dm_events))
        if method == "GET" and path == "/2/users/me":
            if ctx == "app":
                return 403, {}, APP_ONLY_FORBIDDEN
            return 200, {}, {"data": _pick(self.users[self.acting], USER_DEFAULT)}
        if method == "GET" and len(seg) == 3 and seg[1] == "users" and seg[2] in self.users:
            return 200, {}, {"data": _pick(self.users[seg[2]], USER_DEFAULT)}
        if method == "POST" and path == "/2/tweets":
            return self._post_tweet(body, ctx)
        if method == "POST" and len(seg) == 5 and seg[1:3] == ["dm_conversations", "with"]:
            return self._post_dm(seg[3], body, ctx)
        return 404, {}, {"title": "Not Found Error", "type": "about:blank", "status": 404,
                         "detail": f"Sorry, that page does not exist: {path}"}  # fmt: skip

    def _mentions(self, uid: str) -> list[dict[str, Any]]:
        handle = "@" + self.users[uid]["username"].lower() if uid in self.users else "\0"
        return [t for t in self.tweets.values() if handle in t["text"].lower()]

    def _search(self, query: str) -> list[dict[str, Any]]:
        terms = [t.strip('"()').lower() for t in query.split(" OR ")]
        terms = [t.split()[0] for t in terms if t and t.split() and ":" not in t.split()[0]]
        return [t for t in self.tweets.values() if any(term in t["text"].lower() for term in terms)]

    def _page(self, kind: str, q: dict[str, str], items: list[dict[str, Any]]
              ) -> tuple[int, dict[str, str], dict[str, Any]]:  # fmt: skip
        unknown = sorted(set(q) - ALLOWED[kind])
        if unknown:
            return (
                400,
                {},
                invalid_request(
                    f"The query parameter [{unknown[0]}] is not one of [{','.join(sorted(ALLOWED[kind]))}]",
                    **{unknown[0]: [q[unknown[0]]]},
                ),
            )
        size = int(q.get("max_results", "10"))
        if not PAGE_MIN[kind] <= size <= 100:
            return (
                400,
                {},
                invalid_request(
                    f"The `max_results` query parameter value [{size}] is not between {PAGE_MIN[kind]} and 100",
                    max_results=[str(size)],
                ),
            )
        items = sorted(items, key=lambda t: int(t["id"]), reverse=True)
        if "since_id" in q:
            items = [t for t in items if int(t["id"]) > int(q["since_id"])]
        token_param = "next_token" if kind == "search" else "pagination_token"
        start = 0
        if token_param in q:
            _key, start = self._tokens.get(q[token_param], ("", -1))
            if start < 0:
                return (
                    400,
                    {},
                    invalid_request(
                        f"The `{token_param}` query parameter value [{q[token_param]}] is invalid",
                        **{token_param: [q[token_param]]},
                    ),
                )
        chunk = items[start : start + size]
        meta: dict[str, Any] = {"result_count": len(chunk)}
        if not chunk:
            return 200, {}, {"meta": meta}
        meta.update(newest_id=chunk[0]["id"], oldest_id=chunk[-1]["id"])
        if start + size < len(items):
            token = secrets.token_hex(16)
            self._tokens[token] = (kind, start + size)
            meta["next_token"] = token
        fields_param = "dm_event.fields" if kind == "dm_events" else "tweet.fields"
        default = DM_DEFAULT if kind == "dm_events" else TWEET_DEFAULT
        wanted = (*default, *q.get(fields_param, "").split(","))
        out: dict[str, Any] = {"data": [_pick(t, wanted) for t in chunk]}
        expansions = set(q.get("expansions", "").split(","))
        ids: list[str] = []
        for t in chunk:
            if "author_id" in expansions:
                ids.append(t.get("author_id", ""))
            if "sender_id" in expansions:
                ids.append(t.get("sender_id", ""))
            if "participant_ids" in expansions:
                ids.extend(t.get("participant_ids", []))
        user_fields = (*USER_DEFAULT, *q.get("user.fields", "").split(","))
        users = [_pick(self.users[i], user_fields) for i in dict.fromkeys(ids) if i in self.users]
        if users:
            out["includes"] = {"users": users}
        out["meta"] = meta
        return 200, {}, out

    def _post_tweet(self, body: Any, ctx: str) -> tuple[int, dict[str, str], dict[str, Any]]:
        if ctx == "app":
            return 403, {}, APP_ONLY_FORBIDDEN
        text = (body or {}).get("text", "")
        if len(text) > 280:
            return 400, {}, invalid_request("Your Tweet text is too long.", text=[text])
        parent = ((body or {}).get("reply") or {}).get("in_reply_to_tweet_id")
        if parent and (parent in self.invisible or parent not in self.tweets):
            return 403, {}, REPLY_INVISIBLE
        tid = self.new_id()
        conv = self.tweets[parent].get("conversation_id", parent) if parent else tid
        tweet = {"id": tid, "text": text, "author_id": self.acting, "conversation_id": conv,
                 "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())}  # fmt: skip
        if parent:
            tweet["referenced_tweets"] = [{"type": "replied_to", "id": parent}]
            tweet["in_reply_to_user_id"] = self.tweets[parent]["author_id"]
        self.add_tweet(tweet)
        return (
            201,
            {"location": f"https://api.twitter.com/2/tweets/{tid}"},
            {"data": {"id": tid, "text": text, "edit_history_tweet_ids": [tid]}},
        )

    def _post_dm(self, to: str, body: Any, ctx: str) -> tuple[int, dict[str, str], dict[str, Any]]:
        if ctx == "app":
            return 403, {}, APP_ONLY_FORBIDDEN
        if to not in self.users:
            return 400, {}, invalid_request(f"{to} is not a valid participant", participant_id=[to])
        eid = self.new_id()
        conv = "-".join(sorted((self.acting, to), key=lambda v: (len(v), v)))
        self.dm_events.append({"id": eid, "event_type": "MessageCreate", "text": body["text"],
                               "dm_conversation_id": conv, "sender_id": self.acting,
                               "participant_ids": [self.acting, to],
                               "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())})  # fmt: skip
        return (
            201,
            {"location": f'https://api.twitter.com/2/dm_events/"{eid}"'},
            {"data": {"dm_conversation_id": conv, "dm_event_id": eid}},
        )


def _pick(obj: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k in fields}


def _handler(fake: FakeX) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, extra, out = fake.handle(self.command, self.path, headers, body)
            data = json.dumps(out).encode() if out is not None else b""
            self.send_response(status)
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
