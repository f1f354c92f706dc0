"""Helpers for the console tests: a signed-in TestClient, the CSRF token of a page."""

from __future__ import annotations

import re
import warnings

from serverkit import make_key

from scrm.core.app import Scrm
from scrm.server import create_app

with warnings.catch_warnings():
    # Starlette asks for httpx2 in a future version; the client works as it is.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

__all__ = ["TestClient", "agent_key", "client", "csrf_of", "flash_of", "sign_in"]


def client(app: Scrm, base_url: str = "http://testserver") -> TestClient:
    return TestClient(create_app(app, background=False), base_url=base_url)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def flash_of(html: str) -> list[str]:
    block = re.search(r'<div class="flash"[^>]*>(.*?)</div>', html, re.S)
    return re.findall(r"<p>(.*?)</p>", block.group(1)) if block else []


def sign_in(c: TestClient, token: str) -> str:
    """Sign ``c`` in with ``token``; return the session's CSRF token."""
    page = c.get("/app/signin")
    r = c.post("/app/signin", data={"key": token, "csrf": csrf_of(page.text)})
    assert r.status_code == 200 and r.url.path == "/app/inbox", r.text[:300]
    return csrf_of(r.text)


def agent_key(app: Scrm, agent: str = "ece", department: str = "support") -> str:
    """An agent key linked to agent ``agent`` (who must exist), limited to ``department``."""
    return make_key(app, "agent", name=agent, departments=[department], agent=agent)
