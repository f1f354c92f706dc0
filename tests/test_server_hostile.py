"""A hostile value in every query parameter, path parameter and body field of every API
route, on SQLite and PostgreSQL: the answer is a 4xx naming the input, never a 500.

schemathesis (test_server_schema.py) explores valid-looking input; this walk puts the
values known to break databases and date arithmetic where each route reads them: NUL,
lone surrogates, 10^20, year 1 and 9999 with extreme offsets, durations of a million years.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serverkit import (  # noqa: F401
    MAX_BODY,
    asgi_client,
    auth,
    live_server,
    make_key,
    scrm_config,
    seed_cases,
)

from scrm.server import create_app

API = "/api/v1"
JSON = {"Content-Type": "application/json"}
HOSTILE: list[Any] = [
    "\x00",
    "a\x00b",
    "\ud800",
    10**20,
    -(10**20),
    2**63,
    1e308,
    -1,
    "",
    "x" * 5000,
    "0001-01-01",
    "9999-12-31",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-12:00",
    "99999999d",
    "999999999999999999999w",
    "P99999999D",
    True,
    None,
    [],
    {},
]
#: A valid body per route, so a hostile field is the only thing wrong with it.
BASES: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/interactions"): {
        "record_id": "W-1",
        "channel": "phone",
        "received_at": "2024-10-21T10:00:00+03:00",
        "caller": {"name": "Ayşe", "phone": "+90 532 000 11 22"},
        "text": "Kargom gelmedi",
    },
    ("post", "/interactions/{interaction_id}/labels"): {"kind": "complaint"},
    ("post", "/cases/{case_id}/transitions"): {"to": "acknowledged"},
    ("post", "/cases/{case_id}/assign"): {"agent": "ece"},
    ("post", "/cases/{case_id}/replies"): {"text": "Bakıyoruz"},
    ("post", "/cases/{case_id}/promises"): {"due": "4h"},
    ("post", "/customers/{customer_id}/merge"): {"into": 2},
}
#: Combinations the issue reported, each on its own.
EXTRA_QUERIES = [
    ("/reports", {"since": "99999999d"}),
    ("/reports", {"from": "0001-01-01", "to": "9999-12-31"}),
    ("/reports", {"from": "2024-01-01T00:00:00+14:00", "to": "9999-12-31T23:59:59-12:00"}),
    ("/customers", {"search": "\x00"}),
    ("/cases", {"status": "\x00"}),
    ("/interactions", {"channel": "\x00"}),
]


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return quote(str(value), safe="", errors="surrogatepass")


def _operations(schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in schema["paths"].items():
        for method, op in item.items():
            if path.startswith(API) and method in ("get", "post", "put", "patch", "delete"):
                yield method, path[len(API) :], op


def _body_fields(schema: dict[str, Any], op: dict[str, Any]) -> list[str]:
    content = op.get("requestBody", {}).get("content", {}).get("application/json")
    if not content:
        return []
    ref = content["schema"].get("$ref", "")
    model = schema["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {})
    fields = list(model.get("properties", {}))
    for name, prop in model.get("properties", {}).items():
        nested = prop.get("$ref") or next(
            (p.get("$ref") for p in prop.get("anyOf", []) if "$ref" in p), None
        )
        if nested:
            sub = schema["components"]["schemas"][nested.rsplit("/", 1)[-1]]
            fields += [f"{name}.{k}" for k in sub.get("properties", {})]
    return fields


def _with(body: dict[str, Any], field: str, value: Any) -> dict[str, Any]:
    head, _, tail = field.partition(".")
    if tail:
        return {**body, head: {**(body.get(head) or {}), tail: value}}
    return {**body, head: value}


async def _walk(
    client: httpx.AsyncClient, headers: dict[str, str], schema: dict[str, Any]
) -> list[str]:
    failures: list[str] = []
    sent = 0

    async def send(method: str, url: str, body: Any = None) -> None:
        nonlocal sent
        sent += 1
        content = None if body is None else json.dumps(body).encode()  # escapes surrogates
        r = await client.request(method, API + url, content=content, headers={**headers, **JSON})
        if r.status_code >= 500:
            failures.append(f"{method.upper()} {url} {str(body)[:120]} -> {r.status_code}")
        elif r.status_code >= 400:
            assert r.json()["error"]["message"], url

    for method, path, op in _operations(schema):
        params = op.get("parameters", [])
        concrete = path
        for p in params:
            if p["in"] == "path":
                concrete = concrete.replace("{" + p["name"] + "}", "1")
        base = BASES.get((method, path), {} if op.get("requestBody") else None)
        for p in params:
            for value in HOSTILE:
                if p["in"] == "query":
                    await send(method, f"{concrete}?{p['name']}={_query_value(value)}", base)
                elif p["in"] == "path":
                    url = path.replace("{" + p["name"] + "}", _query_value(value) or "%20")
                    for other in params:
                        url = url.replace("{" + other["name"] + "}", "1")
                    await send(method, url, base)
        for field in _body_fields(schema, op):
            for value in HOSTILE:
                await send(method, concrete, _with(base or {}, field, value))
    for path, query in EXTRA_QUERIES:
        await send("get", path + "?" + "&".join(f"{k}={_query_value(v)}" for k, v in query.items()))
    assert sent > 1000
    return failures


def test_no_hostile_value_gets_a_500(app, cli) -> None:
    headers = seed_cases(app, cli)
    schema = create_app(app).openapi()

    async def run() -> list[str]:
        async with asgi_client(app) as client:
            return await _walk(client, headers, schema)

    failures = asyncio.run(run())
    assert not failures, "\n".join(failures[:40])


def test_nul_in_a_query_or_body_names_the_field(app) -> None:
    headers = auth(make_key(app, "admin"))

    async def run() -> list[httpx.Response]:
        async with asgi_client(app) as client:
            return [
                await client.get(f"{API}/customers?search=a%00", headers=headers),
                await client.get(f"{API}/reports?since=99999999d", headers=headers),
                await client.get(f"{API}/reports?from=0001-01-01&to=9999-12-31", headers=headers),
                await client.post(
                    f"{API}/cases/1/transitions",
                    json={"to": "closed", "note": "\x00"},
                    headers=headers,
                ),
            ]

    search, since, period, note = asyncio.run(run())
    assert (search.status_code, search.json()["error"]["field"]) == (422, "search")
    assert (since.status_code, since.json()["error"]["field"]) == (422, "since")
    assert (period.status_code, period.json()["error"]["field"]) == (422, "to")
    assert (note.status_code, note.json()["error"]["field"]) == (422, "note")


def test_a_new_caller_with_a_huge_customer_id_is_refused(app) -> None:
    headers = auth(make_key(app, "admin"))
    body = BASES[("post", "/interactions")] | {"customer_id": 10**20}

    async def run() -> httpx.Response:
        async with asgi_client(app) as client:
            return await client.post(f"{API}/interactions", json=body, headers=headers)

    r = asyncio.run(run())
    assert (r.status_code, r.json()["error"]["field"]) == (422, "customer_id")


def test_a_message_with_a_nul_posted_is_stored_normalised(app) -> None:
    headers = auth(make_key(app, "admin"))
    body = BASES[("post", "/interactions")] | {"text": "Kargom\x00 gelmedi"}

    async def run() -> httpx.Response:
        async with asgi_client(app) as client:
            return await client.post(f"{API}/interactions", json=body, headers=headers)

    r = asyncio.run(run())
    assert r.status_code == 201 and r.json()["text"] == "Kargom\ufffd gelmedi"


@pytest.mark.parametrize("chunked", [True, False])
def test_an_oversized_body_gets_413_however_it_is_sent(app, chunked) -> None:
    headers = auth(make_key(app, "admin")) | {"Content-Type": "application/json"}
    payload = b'{"text": "' + b"x" * (MAX_BODY + 10) + b'"}'

    def pieces() -> Iterator[bytes]:
        for i in range(0, len(payload), 4096):
            yield payload[i : i + 4096]

    with live_server(app) as base:
        r = httpx.post(
            f"{base}{API}/interactions",
            content=pieces() if chunked else payload,
            headers=headers,
            timeout=30,
        )
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"


_REST_FIELDS = [
    "text",
    "record_id",
    "received_at",
    "customer_id",
    "duration_seconds",
    "subject",
    "agent",
    "in_reply_to",
    "caller.name",
    "caller.phone",
    "caller.email",
]


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    changes=st.lists(
        st.tuples(st.sampled_from(_REST_FIELDS), st.sampled_from(HOSTILE)), min_size=1, max_size=3
    )
)
def test_hostile_records_posted_are_stored_or_refused_never_lost(app, changes) -> None:
    """The REST ingest route: each record is stored (201, bad characters replaced) or refused
    with 422 naming a field; the number stored is the number of 201s."""
    headers = auth(make_key(app, "integration"))
    before = len(app.interactions())
    statuses = []

    async def run() -> None:
        async with asgi_client(app) as client:
            for n, (field, value) in enumerate(changes):
                body = _with(BASES[("post", "/interactions")], field, value)
                body = (
                    _with(body, "record_id", f"R-{uuid.uuid4()}") if field != "record_id" else body
                )
                body = (
                    _with(body, "caller.phone", f"+90 532 {n:03d} 00 00")
                    if field != "caller.phone"
                    else body
                )
                r = await client.post(
                    f"{API}/interactions",
                    content=json.dumps(body).encode(),
                    headers={**headers, **JSON},
                )
                assert r.status_code in (200, 201, 422), (field, value, r.status_code)
                if r.status_code == 422:
                    assert r.json()["error"]["message"]
                statuses.append(r.status_code)

    asyncio.run(run())
    assert len(app.interactions()) == before + statuses.count(201)
