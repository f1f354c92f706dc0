"""Webhooks in (channel deliveries through the durable inbox) and out (signed events to
subscribers, with retries), and the ``register_routes`` hook that mounts channel routes."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from fastapi import APIRouter, BackgroundTasks, Request
from scrm_twitter.webhooks import crc_response
from serverkit import (  # noqa: F401
    FB_SECRET,
    FB_VERIFY,
    MAX_BODY,
    SyncClient,
    auth,
    body_of,
    facebook_payload,
    facebook_signature,
    make_key,
    receiver,
    scrm_config,
    server_config,
    tweet_payload,
    twitter_signature,
)

from scrm import hookimpl
from scrm.core import webhooks
from scrm.core.models import InboxPayload, WebhookDelivery
from scrm.core.services import cases
from scrm.server import create_app, receive_webhook


def inbox_rows(app) -> list[InboxPayload]:
    with app.session() as s:
        return list(s.scalars(sa.select(InboxPayload).order_by(InboxPayload.id)))


def test_twitter_delivery_survives_a_crash_after_200(app, cli, scrm_database_url) -> None:
    app.config = server_config(scrm_database_url, process_webhooks=False)
    client = SyncClient(create_app(app))
    body = body_of(tweet_payload(1))
    r = client.post("/webhooks/twitter", content=body, headers=twitter_signature(body))
    assert r.status_code == 200 and r.json()["status"] == "accepted"
    assert app.interactions() == [] and [i.status for i in inbox_rows(app)] == ["pending"]
    # The platform redelivers (it saw no 200 in time): stored once.
    r = client.post("/webhooks/twitter", content=body, headers=twitter_signature(body))
    assert r.json()["status"] == "duplicate" and len(inbox_rows(app)) == 1
    assert "processed 1" in cli("inbox", "process").stdout
    [it] = app.interactions()
    assert (it.channel, it.external_id) == ("twitter", "1224972300000000001")
    assert [i.status for i in inbox_rows(app)] == ["processed"]
    assert "processed 0" in cli("inbox", "process").stdout  # nothing twice
    assert "processed" in cli("inbox", "list").stdout


def test_verified_deliveries_are_ingested_right_after_the_200(app) -> None:
    client = SyncClient(create_app(app))
    body = body_of(facebook_payload("998877_1"))
    r = client.post("/webhooks/facebook", content=body, headers=facebook_signature(body))
    assert r.status_code == 200
    [it] = app.interactions()
    assert (it.channel, it.external_id, it.case_id is not None) == ("facebook", "998877_1", True)
    assert (
        client.post("/webhooks/facebook", content=body, headers=facebook_signature(body)).json()[
            "status"
        ]
        == "duplicate"
    )
    assert len(app.interactions()) == 1 and len(inbox_rows(app)) == 1

    # Verified but unparseable: accepted, and kept as a reject with its reason.
    for bad in (b"not json at all", body_of({"object": "user", "entry": [{"id": "1"}]})):
        r = client.post("/webhooks/facebook", content=bad, headers=facebook_signature(bad))
        assert r.status_code == 200
    reasons = [r.reason for r in app.rejects()]
    assert any("not JSON" in r for r in reasons) and any("'page'" in r for r in reasons)
    assert all(i.status == "processed" for i in inbox_rows(app))


def test_unverifiable_and_oversized_deliveries_store_nothing(app) -> None:
    client = SyncClient(create_app(app))
    body = body_of(tweet_payload(2))
    for headers in ({}, twitter_signature(body, secret="wrong"), twitter_signature(body + b" ")):
        r = client.post("/webhooks/twitter", content=body, headers=headers)
        assert r.status_code == 403 and r.json()["error"]["code"] == "bad_signature"
    r = client.post("/webhooks/facebook", content=body, headers=facebook_signature(body, "nope"))
    assert r.status_code == 403
    big = b'{"x": "' + b"a" * MAX_BODY + b'"}'
    r = client.post("/webhooks/twitter", content=big, headers=twitter_signature(big))
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"

    async def chunks():  # no Content-Length: the limit is enforced while reading
        for _ in range(MAX_BODY // 1024 + 2):
            yield b"a" * 1024

    r = client.post("/webhooks/twitter", content=chunks(), headers=twitter_signature(b""))
    assert r.status_code == 413
    assert inbox_rows(app) == [] and app.interactions() == [] and app.rejects() == []


def test_handshakes(app) -> None:
    client = SyncClient(create_app(app))
    r = client.get("/webhooks/twitter", params={"crc_token": "challenge-1"})
    assert r.json() == crc_response("tw-consumer-secret-for-tests", "challenge-1")
    ok = {"hub.mode": "subscribe", "hub.verify_token": FB_VERIFY, "hub.challenge": "42"}
    r = client.get("/webhooks/facebook", params=ok)
    assert (r.status_code, r.text) == (200, "42")
    r = client.get("/webhooks/facebook", params={**ok, "hub.verify_token": "guess"})
    assert r.status_code == 403 and FB_VERIFY not in r.text and FB_SECRET not in r.text


class EchoChannelRoutes:
    """A plugin mounting its own webhook through register_routes."""

    @hookimpl
    def register_routes(self, router: APIRouter) -> None:
        @router.post("/webhooks/phone")
        async def phone(request: Request, background_tasks: BackgroundTasks):
            return await receive_webhook(request, "phone", background_tasks)


def test_register_routes_mounts_plugin_routes(app, register_plugin) -> None:
    register_plugin(EchoChannelRoutes())
    client = SyncClient(create_app(app))
    # The manual channel verifies nothing (Channel.verify is False by default): refused.
    assert client.post("/webhooks/phone", content=b"{}").status_code == 403
    assert inbox_rows(app) == []

    class Hijack:
        @hookimpl
        def register_routes(self, router: APIRouter) -> None:
            router.add_api_route("/api/v1/cases", lambda: {}, methods=["GET"])

    register_plugin(Hijack())
    with pytest.raises(RuntimeError, match="scrm's own"):
        create_app(app)


def test_outgoing_webhooks_are_signed_retried_and_visible(app, cli) -> None:
    with receiver() as rec:
        out = cli(
            "webhooks", "add", rec.url, "--event", "case.opened", "--event", "case.transitioned"
        ).stdout
        secret = out.strip().splitlines()[-1]
        sub_id = json.loads(cli("webhooks", "list", "--json").stdout)[0]["id"]
        assert secret == webhooks.derive_secret("server-key-for-tests-0123456789", sub_id)

        # Events are queued after commit, never sent by the request that caused them.
        token = make_key(app, "admin")
        client = SyncClient(create_app(app))
        call = {"record_id": "W-1", "channel": "phone", "received_at": "2024-10-21T10:00:00+03:00",
                "caller": {"name": "A", "phone": "+90 532 111 22 33"}, "text": "Kargom gelmedi, berbat!"}  # fmt: skip
        case_id = client.post("/api/v1/interactions", json=call, headers=auth(token)).json()[
            "case_id"
        ]
        r = client.post(
            f"/api/v1/cases/{case_id}/transitions",
            json={"to": "investigating"},
            headers=auth(token),
        )
        assert r.status_code == 200 and rec.requests == []

        rec.statuses = [500]  # the subscriber is down once: retried later, visible meanwhile
        assert "sent 1, retrying 1" in cli("webhooks", "deliver").stdout
        [listed] = json.loads(cli("webhooks", "list", "--json").stdout)
        assert (listed["pending"], listed["sent"]) == (1, 1) and "HTTP 500" in listed["last_error"]
        with app.session() as s:
            s.execute(sa.update(WebhookDelivery).values(next_attempt_at=sa.func.now()))
        assert "sent 1" in cli("webhooks", "deliver").stdout

        events = []
        for headers, body in rec.requests:
            assert webhooks.verify_signature(secret, headers, body)
            assert not webhooks.verify_signature(secret, headers, body + b" ")
            assert not webhooks.verify_signature(
                secret, headers, body, now=int(headers["X-Scrm-Timestamp"]) + 3600
            )
            payload = json.loads(body)
            assert payload["type"] == headers["X-Scrm-Event"]
            events.append(payload["type"])
        assert sorted(set(events)) == ["case.opened", "case.transitioned"]

        rec.statuses = [404]  # a permanent refusal fails at once, and shows
        assert "webhook" in cli("webhooks", "test", str(sub_id), expect=1).stderr
        assert json.loads(cli("webhooks", "list", "--json").stdout)[0]["failed"] == 1
        assert "delivered" in cli("webhooks", "test", str(sub_id)).stdout
        assert rec.requests[-1][0]["X-Scrm-Event"] == webhooks.TEST_EVENT

        cli("webhooks", "remove", str(sub_id))
        assert json.loads(cli("webhooks", "list", "--json").stdout) == []
        before = len(rec.requests)
        cases.transition(app, case_id, "solution_proposed", actor="x")
        cli("webhooks", "deliver")
        assert len(rec.requests) == before


def test_webhook_subscriptions_are_validated(app, cli) -> None:
    assert "http://" in cli("webhooks", "add", "ftp://x", expect=1).stderr
    assert (
        "Invalid value for '--event'"
        in cli("webhooks", "add", "https://x.example", "--event", "nope", expect=2).stderr
    )
