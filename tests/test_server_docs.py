"""Interactive API docs: Swagger UI at /docs and ReDoc at /redoc, served whole by scrm itself.

The network may be closed: every script, style sheet and icon a docs page loads must be a
path on this server that answers 200.  The schema needs no key; the operations still do.
"""

from __future__ import annotations

import re

import httpx
import pytest
from serverkit import live_server, scrm_config  # noqa: F401

ASSET = re.compile(r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']|url:\s*["']([^"']+)["']""")


def _assets(html: str) -> list[str]:
    return [a or b for a, b in ASSET.findall(html)]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_page_loads_only_local_assets_that_answer(app, page: str) -> None:
    # A generous timeout: the bundles are megabytes and a loaded CI machine is slow.
    with live_server(app) as base, httpx.Client(base_url=base, timeout=60) as client:
        r = client.get(page)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert not re.search(r"https?://", r.text), "a docs page names another host"
        assets = _assets(r.text)
        scripts = [a for a in assets if a.endswith(".js")]
        assert scripts, f"{page} loads no script: {assets}"
        assert "/openapi.json" in assets, assets
        for url in assets:
            assert url.startswith("/") and not url.startswith("//"), f"{page} loads {url}"
            got = client.get(url)
            assert got.status_code == 200 and got.content, (url, got.status_code)
        for js in scripts:
            assert "javascript" in client.get(js).headers["content-type"], js
        if page == "/docs":  # Swagger UI would send the schema to validator.swagger.io
            assert '"validatorUrl": null' in r.text


def test_the_schema_needs_no_key_but_every_operation_does(app) -> None:
    # A generous timeout: the bundles are megabytes and a loaded CI machine is slow.
    with live_server(app) as base, httpx.Client(base_url=base, timeout=60) as client:
        schema = client.get("/openapi.json").json()
        operations = [
            (method.upper(), path)
            for path, ops in schema["paths"].items()
            if path.startswith("/api/v1")
            for method in ops
        ]
        assert len(operations) >= 17
        assert all(schema["paths"][p][m.lower()].get("security") for m, p in operations)
        assert "bearer" in str(schema["components"]["securitySchemes"]).lower()
        for method, path in operations:
            url = re.sub(r"\{[a-z_]+\}", "1", path)
            assert client.request(method, url, json={}).status_code == 401, (method, path)
