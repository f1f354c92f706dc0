"""A local feed server on 127.0.0.1 for the tests: real feed files, validators, failures.

Each path serves a document with an ``ETag`` and a ``Last-Modified`` and answers ``304`` to a
request carrying either validator when it still matches, like nginx and WordPress do.  Tests
queue failures (``fail(path, 503, retry_after=120)``) and read every request it received.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler
from typing import Any

from scrm.testing import LoopbackHTTPServer


@dataclass
class Doc:
    body: bytes
    content_type: str = "application/rss+xml; charset=UTF-8"
    modified: float = 1729585964.0  # Tue, 22 Oct 2024 08:32:44 GMT
    etag_enabled: bool = True
    chunked: bool = False
    """Send the body without Content-Length (a server that streams its output)."""

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'

    @property
    def last_modified(self) -> str:
        return formatdate(self.modified, usegmt=True)


@dataclass
class FeedServer:
    docs: dict[str, Doc] = field(default_factory=dict)
    failures: dict[str, list[tuple[int, dict[str, str]]]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def put(self, path: str, body: bytes, **kw: Any) -> str:
        """Serve ``body`` at ``path`` (replacing what was there); return its URL."""
        self.docs[path] = Doc(body, **kw)
        return self.url + path

    def fail(self, path: str, status: int, times: int = 1, retry_after: str | None = None) -> None:
        headers = {"Retry-After": retry_after} if retry_after else {}
        self.failures.setdefault(path, []).extend([(status, headers)] * times)

    def hits(self, path: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"] == path]

    def start(self) -> Iterator[FeedServer]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                server.requests.append({"path": path, "headers": dict(self.headers)})
                queued = server.failures.get(path)
                if queued:
                    status, headers = queued.pop(0)
                    return self._send(status, b"<html>error</html>", "text/html", headers)
                if path == "/loop":  # a redirect to itself, forever
                    return self._send(301, b"", "text/plain", {"Location": "/loop"})
                doc = server.docs.get(path)
                if doc is None:
                    return self._send(404, b"not found", "text/plain")
                inm = self.headers.get("If-None-Match")
                ims = self.headers.get("If-Modified-Since")
                if (doc.etag_enabled and inm == doc.etag) or (
                    not doc.etag_enabled and ims == doc.last_modified
                ):
                    return self._send(304, b"", None)
                headers = {"Last-Modified": doc.last_modified}
                if doc.etag_enabled:
                    headers["ETag"] = doc.etag
                self._send(200, doc.body, doc.content_type, headers, chunked=doc.chunked)

            def _send(self, status: int, body: bytes, ctype: str | None,
                      headers: dict[str, str] | None = None, chunked: bool = False) -> None:  # fmt: skip
                self.send_response(status)
                if ctype:
                    self.send_header("Content-Type", ctype)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                if chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    try:
                        for i in range(0, len(body), 65536):
                            part = body[i : i + 65536]
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                        self.wfile.write(b"0\r\n\r\n")
                    except (BrokenPipeError, ConnectionResetError):
                        pass  # the client stopped reading: that is what max_bytes is for
                    return
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if status != 304:
                    self.wfile.write(body)

        httpd = LoopbackHTTPServer(Handler)
        self.url = httpd.url
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            httpd.shutdown()
            httpd.server_close()
