"""Security of the HTTP service: every route checks a key and a role (enumerated from the
app itself), agents see only their departments, keys are hashed, nothing secret leaks, and
administrative actions are audited."""

from __future__ import annotations

import json
import logging
import re

import pytest
import sqlalchemy as sa
from fastapi.routing import APIRoute
from serverkit import SERVER_KEY, TW_SECRET, SyncClient, auth, make_key, scrm_config  # noqa: F401

from scrm.core.apikeys import hash_token
from scrm.core.models import ApiKey, AuditEntry
from scrm.server import create_app
from scrm.server.app import iter_routes

ANY = frozenset({"admin", "agent", "readonly", "integration"})
WRITE = frozenset({"admin", "agent"})
READERS = frozenset({"admin", "readonly"})
ADMIN = frozenset({"admin"})

#: The policy, written independently of the code: which roles may call each API route.
EXPECTED: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/api/v1/customers"): ANY,
    ("GET", "/api/v1/customers/{customer_id}"): ANY,
    ("GET", "/api/v1/customers/{customer_id}/identities"): ANY,
    ("POST", "/api/v1/customers/{customer_id}/merge"): ADMIN,
    ("POST", "/api/v1/customers/{customer_id}/unmerge"): ADMIN,
    ("POST", "/api/v1/customers/{customer_id}/erase"): ADMIN,
    ("GET", "/api/v1/customers/{customer_id}/export"): ADMIN,
    ("GET", "/api/v1/interactions"): ANY,
    ("POST", "/api/v1/interactions"): frozenset({"admin", "agent", "integration"}),
    ("GET", "/api/v1/interactions/{interaction_id}"): ANY,
    ("POST", "/api/v1/interactions/{interaction_id}/labels"): WRITE,
    ("GET", "/api/v1/cases"): ANY,
    ("GET", "/api/v1/cases/{case_id}"): ANY,
    ("POST", "/api/v1/cases/{case_id}/transitions"): WRITE,
    ("POST", "/api/v1/cases/{case_id}/assign"): WRITE,
    ("POST", "/api/v1/cases/{case_id}/replies"): WRITE,
    ("POST", "/api/v1/cases/{case_id}/answers"): WRITE,
    ("POST", "/api/v1/cases/{case_id}/promises"): WRITE,
    ("GET", "/api/v1/reports"): READERS,
    ("GET", "/api/v1/plugins"): READERS,
    ("PUT", "/api/v1/agents/{username}"): ADMIN,
    ("POST", "/api/v1/admin/deliver"): ADMIN,
}
#: Reachable without a key: health checks, the API's schema and docs, and channel webhooks
#: (they check signatures).
PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/redoc"),
}


def routes(api) -> list[tuple[str, str]]:
    return [(method, path) for method, path, _ in iter_routes(api)]


def test_every_route_needs_a_key_and_allows_no_more_than_its_role(app) -> None:
    api = create_app(app)
    found = routes(api)
    api_routes = [r for r in found if r[1].startswith("/api/v1")]
    others = [r for r in found if not r[1].startswith("/api/v1")]
    assert sorted(set(api_routes)) == sorted(EXPECTED), (
        "a route was added or removed: give it its roles in EXPECTED"
    )
    webhooks = {r for r in others if r[1].startswith("/webhooks/")}
    # The console's pages check a signed-in session: tests/test_console.py enumerates them.
    console = {r for r in others if r[1] == "/app" or r[1].startswith("/app/")}
    assert set(others) - webhooks - console == PUBLIC
    assert {p for _, p in webhooks} >= {"/webhooks/twitter", "/webhooks/facebook"}

    tokens = {
        role: make_key(app, role, departments=["support"] if role == "agent" else [])
        for role in ANY
    }
    revoked = make_key(app, "admin", name="old")
    with app.session() as s:
        s.execute(
            sa.update(ApiKey)
            .where(ApiKey.key_hash == hash_token(revoked))
            .values(revoked_at=sa.func.now())
        )
    client = SyncClient(api)
    for method, path in api_routes:
        url = re.sub(r"\{[a-z_]+\}", "999999", path)
        for headers in ({}, auth("scrm_not-a-key"), auth(revoked), {"Authorization": "Basic eDp5"}):
            r = client.request(method, url, json={}, headers=headers)
            assert r.status_code == 401, (method, path, headers, r.status_code)
            assert r.json()["error"]["code"] == "unauthorized"
        for role, token in tokens.items():
            r = client.request(method, url, json={}, headers=auth(token))
            if role in EXPECTED[(method, path)]:
                assert r.status_code not in (401, 403), (method, path, role, r.text)
            else:
                assert r.status_code == 403, (method, path, role, r.status_code)
    for method, path in PUBLIC:
        assert client.request(method, path).status_code == 200


def test_agents_see_only_their_departments(app, cli) -> None:
    app.ingest_native(
        "phone",
        [{"record_id": "S-1", "channel": "phone", "received_at": "2024-10-21T10:00:00+03:00",
          "caller": {"name": "A", "phone": "+90 532 111 22 33"}, "text": "Kargom gelmedi, berbat!"}],
    )  # fmt: skip
    [case] = app.cases()
    assert case.department == "support"
    support = auth(make_key(app, "agent", name="s", departments=["support"]))
    sales = auth(make_key(app, "agent", name="x", departments=["sales"]))
    client = SyncClient(create_app(app))
    assert client.get(f"/api/v1/cases/{case.id}", headers=support).status_code == 200
    assert [c["id"] for c in client.get("/api/v1/cases", headers=support).json()["items"]] == [
        case.id
    ]
    assert client.get("/api/v1/cases", headers=sales).json()["items"] == []
    assert client.get("/api/v1/interactions", headers=sales).json()["items"] == []
    assert client.get(f"/api/v1/cases/{case.id}", headers=sales).status_code == 404
    r = client.post(f"/api/v1/cases/{case.id}/transitions", json={"to": "closed"}, headers=sales)
    assert r.status_code == 404 and app.case(case.id).status == "new"
    it = app.interactions()[0]
    assert client.get(f"/api/v1/interactions/{it.id}", headers=sales).status_code == 404
    with pytest.raises(AssertionError, match="needs at least one department"):
        cli("apikey", "create", "nodept", "--role", "agent")


def test_keys_are_hashed_and_no_secret_leaks(app, cli, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    out = cli("apikey", "create", "crm-sync", "--role", "integration", "--actor", "ops").stdout
    token = out.strip().splitlines()[-1]
    assert token.startswith("scrm_") and len(token) > 40
    with app.session() as s:
        row = s.scalars(sa.select(ApiKey)).one()
        assert row.key_hash == hash_token(token) and token not in json.dumps(
            {c.key: str(getattr(row, c.key)) for c in ApiKey.__table__.columns}
        )
    listed = cli("apikey", "list", "--json").stdout
    assert token not in listed and json.loads(listed)[0]["prefix"] == token[:12]

    client = SyncClient(create_app(app))
    bodies = [
        client.get("/api/v1/cases", headers=auth(token)).text,
        client.get("/api/v1/cases", headers=auth(token + "x")).text,
        client.get("/api/v1/plugins", headers=auth(token)).text,
        client.post(
            "/webhooks/twitter",
            content=b"{}",
            headers={"x-twitter-webhooks-signature": "sha256=bad"},
        ).text,
        client.get("/webhooks/twitter", params={"crc_token": "abc"}).text,
    ]
    cli("webhooks", "add", "https://example.com/hook", "--event", "case.opened")
    text = "\n".join(bodies) + caplog.text + cli("webhooks", "list", "--json").stdout
    for secret in (token, SERVER_KEY, TW_SECRET, hash_token(token)):
        assert secret not in text

    cli("apikey", "revoke", str(row.id), "--actor", "ops")
    assert client.get("/api/v1/cases", headers=auth(token)).status_code == 401
    assert "revoked" in cli("apikey", "list", "--all").stdout
    with app.session() as s:
        audit = [
            (a.actor, a.action) for a in s.scalars(sa.select(AuditEntry).order_by(AuditEntry.id))
        ]
        details = json.dumps([a.details for a in s.scalars(sa.select(AuditEntry))])
    assert audit == [("ops", "apikey.create"), ("cli", "webhook.add"), ("ops", "apikey.revoke")]
    assert token not in details


def test_every_api_route_declares_its_error_shape(app) -> None:
    schema = create_app(app).openapi()
    assert "/openapi.json" not in schema["paths"]
    for path, ops in schema["paths"].items():
        for op in ops.values():
            if path.startswith("/api/v1"):
                assert {"401", "403", "422"} <= set(op["responses"]), path
                assert op.get("security"), path
    assert all(
        isinstance(r.original_route if hasattr(r, "original_route") else r, APIRoute)
        for _, _, r in iter_routes(create_app(app))
    )
