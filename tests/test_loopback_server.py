"""scrm.testing.LoopbackHTTPServer: the server the fakes of remote APIs run on."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler
from typing import Any

import httpx
import pytest

from scrm.testing import LoopbackHTTPServer


class Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"hello"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_it_serves_on_loopback_at_its_url() -> None:
    server = LoopbackHTTPServer(Hello)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert server.url.startswith("http://127.0.0.1:")
        assert httpx.get(server.url + "/x").text == "hello"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("error", [ConnectionResetError, BrokenPipeError, ConnectionAbortedError])
def test_a_client_hanging_up_prints_nothing(
    error: type[Exception], capsys: pytest.CaptureFixture[str]
) -> None:
    server = LoopbackHTTPServer(Hello)
    try:
        try:
            raise error
        except error:
            server.handle_error(None, ("127.0.0.1", 1))
    finally:
        server.server_close()
    assert capsys.readouterr().err == ""


def test_any_other_error_is_still_reported(capsys: pytest.CaptureFixture[str]) -> None:
    server = LoopbackHTTPServer(Hello)
    try:
        try:
            raise ValueError("a bug in the fake")
        except ValueError:
            server.handle_error(None, ("127.0.0.1", 1))
    finally:
        server.server_close()
    assert "ValueError: a bug in the fake" in capsys.readouterr().err
