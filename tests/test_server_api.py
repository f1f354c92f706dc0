"""The REST API end to end: the whole complaint loop over real HTTP (uvicorn on 127.0.0.1)
and through the ASGI transport, optimistic concurrency, pagination, errors, labels, merges."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from serverkit import asgi_client, auth, live_server, make_key, scrm_config  # noqa: F401

from scrm.core.models import AuditEntry, LabelCorrection

API = "/api/v1"


def call(
    record_id: str, text: str, *, phone: str = "+90 532 111 22 33", minutes: int = 0
) -> dict[str, Any]:
    """A phone call as a call-centre system records it."""
    at = datetime.now(UTC) + timedelta(minutes=minutes)
    return {
        "record_id": record_id,
        "channel": "phone",
        "received_at": at.isoformat(),
        "caller": {"name": "Deniz Kaya", "phone": phone},
        "text": text,
    }


async def complaint_loop(
    client: httpx.AsyncClient, agent: dict[str, str], admin: dict[str, str], tag: str, phone: str
) -> None:
    async def post(
        path: str, body: Any = None, headers: dict[str, str] | None = None, expect: int = 200
    ) -> httpx.Response:
        r = await client.post(API + path, json=body, headers=headers or agent)
        assert r.status_code == expect, (path, r.status_code, r.text)
        return r

    async def case(cid: int) -> dict[str, Any]:
        r = await client.get(f"{API}/cases/{cid}", headers=agent)
        assert r.status_code == 200 and r.headers["etag"] == f'"{r.json()["version"]}"'
        return r.json()

    async def deliver() -> None:
        r = await post("/admin/deliver", headers=admin)
        assert r.json()["replies_failed"] == 0

    # The customer calls; the call becomes an interaction, a customer and a case.
    first = call(
        f"{tag}-1",
        "Kargom 10 gündür gelmedi, berbat bir hizmet! Siparişim nerede?",
        phone=phone,
        minutes=-30,
    )
    it = (await post("/interactions", first, expect=201)).json()
    assert (it["kind"], it["category"]) == ("complaint", "delivery")
    assert (await post("/interactions", first, expect=200)).json()["id"] == it["id"]  # stored once
    cid = it["case_id"]
    detail = await case(cid)
    assert detail["status"] == "new" and detail["department"] == "support"

    # Assign with If-Match; a second write with the now stale ETag loses with 409.
    etag = f'"{detail["version"]}"'
    r = await post(f"/cases/{cid}/assign", {"agent": "ece"}, headers={**agent, "If-Match": etag})
    assert r.json()["assignee"] == "ece"
    r = await client.post(
        f"{API}/cases/{cid}/assign", json={"agent": "ece"}, headers={**agent, "If-Match": etag}
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "version_conflict"
    assert r.json()["current"]["version"] == detail["version"] + 1
    stale = await client.post(
        f"{API}/cases/{cid}/transitions",
        json={"to": "investigating", "version": detail["version"]},
        headers=agent,
    )
    assert stale.status_code == 409 and stale.json()["current"]["status"] == "new"

    # 1. acknowledge fast, before the fix; 2. contact; a promise with a deadline.
    r = await post(f"/cases/{cid}/replies", {"template": "acknowledge"}, expect=202)
    assert r.json()["status"] == "pending" and r.json()["case"]["status"] == "acknowledged"
    await deliver()
    assert (await case(cid))["first_response_at"] is not None
    await post(f"/cases/{cid}/replies", {"template": "contact"}, expect=202)
    await deliver()
    promise = (
        await post(f"/cases/{cid}/promises", {"due": "4h", "note": "call back"}, expect=201)
    ).json()
    assert promise["status"] == "open"
    await post(
        "/interactions",
        call(f"{tag}-2", "Sipariş numaram 99123, Kadıköy teslimat adresi", phone=phone),
        expect=201,
    )

    # 3-6. investigate, propose: the customer is asked for a rating and is not satisfied.
    version = (await case(cid))["version"]
    await post(
        f"/cases/{cid}/transitions",
        {"to": "investigating", "note": "carrier lost it", "version": version},
    )
    await post(f"/cases/{cid}/transitions", {"to": "solution_proposed", "note": "new parcel sent"})
    await deliver()
    await post("/interactions", call(f"{tag}-3", "Hayır, hala gelmedi!", phone=phone), expect=201)
    detail = await case(cid)
    assert (detail["status"], detail["reopen_count"]) == ("reopened", 1)

    # 7. the loop again until the customer is satisfied; then close.
    await post(f"/cases/{cid}/transitions", {"to": "investigating"})
    await post(
        f"/cases/{cid}/transitions", {"to": "solution_proposed", "note": "delivered by hand"}
    )
    await deliver()
    await post("/interactions", call(f"{tag}-4", "5, teşekkürler", phone=phone), expect=201)
    assert (await case(cid))["status"] == "resolved"
    closed = (await post(f"/cases/{cid}/transitions", {"to": "closed"})).json()
    assert closed["status"] == "closed"
    r = await client.post(
        f"{API}/cases/{cid}/transitions", json={"to": "investigating"}, headers=agent
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "invalid_transition"

    detail = await case(cid)
    statuses = [
        (e["from_value"], e["to_value"]) for e in detail["events"] if e["action"] == "status"
    ]
    assert statuses == [
        ("new", "acknowledged"),
        ("acknowledged", "contacted"),
        ("contacted", "investigating"),
        ("investigating", "solution_proposed"),
        ("solution_proposed", "reopened"),
        ("reopened", "investigating"),
        ("investigating", "solution_proposed"),
        ("solution_proposed", "resolved"),
        ("resolved", "closed"),
    ]
    outbound = [i for i in detail["interactions"] if i["direction"] == "outbound"]
    assert len(outbound) >= 4  # acknowledgment, contact and two rating questions went out
    assert detail["csat_score"] == 5


@pytest.fixture
def keys(app, cli):
    cli("agents", "add", "ece", "--department", "support", "--role", "agent")
    return {
        "agent": auth(make_key(app, "agent", departments=["support"], agent="ece")),
        "admin": auth(make_key(app, "admin")),
    }


def test_complaint_loop_through_the_asgi_transport(app, keys) -> None:
    async def main() -> None:
        async with asgi_client(app) as client:
            await complaint_loop(client, keys["agent"], keys["admin"], "ASGI", "+90 532 111 22 33")

    asyncio.run(main())


def test_complaint_loop_over_real_http(app, keys) -> None:
    async def main(base: str) -> None:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            await complaint_loop(client, keys["agent"], keys["admin"], "HTTP", "+90 533 222 33 44")

    with live_server(app) as base:
        assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
        assert httpx.get(f"{base}/readyz").json() == {"status": "ready"}
        asyncio.run(main(base))


def test_pagination_filters_and_errors(app, keys) -> None:
    admin = keys["admin"]
    for n in range(5):
        app.ingest_native(
            "phone",
            [call(f"P-{n}", "Faturam yanlış geldi, iade istiyorum", phone=f"+90 532 000 00 0{n}")],
        )

    async def main() -> None:
        async with asgi_client(app) as client:
            seen, cursor = [], None
            while True:
                params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
                r = await client.get(f"{API}/customers", params=params, headers=admin)
                assert r.status_code == 200
                seen += [c["id"] for c in r.json()["items"]]
                cursor = r.json()["next_cursor"]
                if cursor is None:
                    break
            assert seen == sorted(seen) and len(seen) == 5
            r = await client.get(
                f"{API}/cases", params={"status": "new", "department": "rnd"}, headers=admin
            )
            assert r.json() == {"items": [], "next_cursor": None}
            r = await client.get(f"{API}/cases", params={"status": "new"}, headers=admin)
            assert len(r.json()["items"]) == 5
            r = await client.get(
                f"{API}/cases", params={"breaching": "true", "assignee": "ece"}, headers=admin
            )
            assert r.status_code == 200
            r = await client.get(f"{API}/cases/999999", headers=admin)
            assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
            r = await client.get(f"{API}/cases", params={"limit": 0}, headers=admin)
            assert r.status_code == 422 and r.json()["error"]["field"] == "limit"
            r = await client.post(
                f"{API}/interactions", json={**call("X", "hi"), "channel": "twitter"}, headers=admin
            )
            assert r.status_code == 422 and r.json()["error"]["field"] == "channel"
            r = await client.post(f"{API}/cases/1/replies", json={}, headers=admin)
            assert r.status_code == 422 and "text or template" in r.json()["error"]["message"]
            r = await client.post(
                f"{API}/cases/1/transitions",
                json={"to": "resolved"},
                headers={**admin, "If-Match": "nope"},
            )
            assert r.status_code == 422 and r.json()["error"]["field"] == "If-Match"

    asyncio.run(main())


def test_labels_merges_and_the_audit_log(app, keys) -> None:
    admin, agent = keys["admin"], keys["agent"]
    app.ingest_native("phone", [call("L-1", "Kargom gelmedi, berbat", phone="+90 532 000 00 01")])
    app.ingest_native("phone", [call("L-2", "Kargom gelmedi", phone="+90 532 000 00 02")])
    one, two = app.interactions()

    async def main() -> None:
        async with asgi_client(app) as client:
            r = await client.post(
                f"{API}/interactions/{one.id}/labels",
                json={"category": "billing", "kind": "question"},
                headers=agent,
            )
            assert r.status_code == 200 and (r.json()["category"], r.json()["kind"]) == (
                "billing",
                "question",
            )
            r = await client.post(f"{API}/interactions/{one.id}/labels", json={}, headers=agent)
            assert r.status_code == 422
            r = await client.post(
                f"{API}/customers/{one.customer_id}/merge",
                json={"into": two.customer_id},
                headers=agent,
            )
            assert r.status_code == 403
            r = await client.post(
                f"{API}/customers/{one.customer_id}/merge",
                json={"into": two.customer_id},
                headers=admin,
            )
            assert r.status_code == 200 and one.customer_id in r.json()["merged"]
            r = await client.post(
                f"{API}/customers/{one.customer_id}/merge",
                json={"into": two.customer_id},
                headers=admin,
            )
            assert r.status_code == 409 and r.json()["error"]["code"] == "refused"
            r = await client.get(f"{API}/customers/{two.customer_id}/identities", headers=agent)
            assert len(r.json()) == 2
            r = await client.post(f"{API}/customers/{one.customer_id}/unmerge", headers=admin)
            assert r.status_code == 200 and r.json()["merged_into_id"] is None

    asyncio.run(main())
    with app.session() as s:
        fix = s.scalars(sa.select(LabelCorrection)).one()
        assert (fix.actor, fix.category, fix.previous["category"]) == ("ece", "billing", "delivery")
        actions = list(s.scalars(sa.select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions[-2:] == ["customer.merge", "customer.unmerge"]


def test_saving_an_agent_over_rest_is_audited_and_an_active_one_takes_waiting_cases(
    app, keys
) -> None:
    away = {"department": "support", "status": "away"}
    back = {"department": "support", "status": "active", "skills": {"languages": ["tr"]}}

    async def main() -> None:
        async with asgi_client(app) as client:
            r = await client.put(f"{API}/agents/ece", json=away, headers=keys["agent"])
            assert r.status_code == 403
            r = await client.put(f"{API}/agents/ece", json=away, headers=keys["admin"])
            assert r.status_code == 200 and r.json()["assigned"] == 0
            app.ingest_native("phone", [call("A-1", "Kargom gelmedi, berbat!")])
            assert app.cases()[0].assignee is None  # nobody active: it waits
            r = await client.put(f"{API}/agents/ece", json=back, headers=keys["admin"])
            assert r.status_code == 200 and r.json()["assigned"] == 1
            assert r.json()["agent"]["skills"] == {"languages": ["tr"]}
            r = await client.put(
                f"{API}/agents/ece", json={"department": "nowhere"}, headers=keys["admin"]
            )
            assert r.status_code == 422 and "no department 'nowhere'" in r.json()["error"]["message"]

    asyncio.run(main())
    assert app.cases()[0].assignee == "ece"
    with app.session() as s:
        saved = s.scalars(sa.select(AuditEntry).where(AuditEntry.action == "agent.save")).all()
    assert [(e.actor, e.details["status"]) for e in saved[-2:]] == [
        ("key:admin", "away"),
        ("key:admin", "active"),
    ]


def test_reports_endpoint_serves_the_metrics(app, keys) -> None:
    now = datetime.now(UTC)
    app.ingest_native("phone", [call("R-1", "Faturam yanlış geldi", phone="+90 532 000 00 09")])

    reader = auth(make_key(app, "readonly"))

    async def main() -> None:
        async with asgi_client(app) as client:
            r = await client.get(
                f"{API}/reports", params={"since": "7d", "by": "channel"}, headers=reader
            )
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["by"] == "channel" and datetime.fromisoformat(
                body["end"]
            ) >= now - timedelta(minutes=1)
            r = await client.get(f"{API}/reports", params={"by": "horoscope"}, headers=reader)
            assert r.status_code == 422 and r.json()["error"]["field"] == "by"
            r = await client.get(f"{API}/reports", params={"since": "soon"}, headers=reader)
            assert r.status_code == 422 and r.json()["error"]["field"] == "since"

    asyncio.run(main())


def test_erasure_and_export_over_rest(app, keys) -> None:
    app.ingest_native(
        "phone", [call("E-1", "Adım Nazlı Eraslan, faturam yanlış", phone="+90 532 000 00 07")]
    )
    [customer] = app.customers()

    async def main() -> None:
        async with asgi_client(app) as client:
            r = await client.get(f"{API}/customers/{customer.id}/export", headers=keys["admin"])
            assert r.status_code == 200 and "Nazlı Eraslan" in r.text
            r = await client.post(f"{API}/customers/{customer.id}/erase", headers=keys["agent"])
            assert r.status_code == 403
            r = await client.post(f"{API}/customers/{customer.id}/erase", headers=keys["admin"])
            assert r.status_code == 200 and r.json()["counts"]["interactions"] >= 1
            r = await client.get(f"{API}/customers/{customer.id}/export", headers=keys["admin"])
            assert "Nazlı" not in r.text and "Eraslan" not in r.text
            r = await client.post(f"{API}/customers/999999/erase", headers=keys["admin"])
            assert r.status_code == 404

    asyncio.run(main())
    with app.session() as s:
        assert s.scalars(sa.select(AuditEntry.action)).all().count("customer.erase") >= 1
