"""Replies through the outbox and the fake: public and direct, the mention, failures classified."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fake_mastodon import BLANK, INVALID_TOKEN, TOO_MANY, FakeMastodon, iso, status
from mastodon_data import AYSE, BRAND, MEHMET, at, snowflake
from scrm_mastodon.channel import MastodonChannel, status_length

from scrm.core import outbox
from scrm.core.app import Scrm
from scrm.core.channel import PermanentSendError, TransientSendError
from scrm.core.schemas import OutboundMessage
from scrm.core.services import outbox as outbox_service

MENTION = '<p><span class="h-card"><a href="https://mastodon.example/@acmedestek" class="u-url mention">@<span>acmedestek</span></a></span> {}</p>'


@pytest.fixture
def complaint(fake: FakeMastodon) -> dict[str, Any]:
    return fake.add_status(
        status(snowflake(1), MEHMET, MENTION.format("faturam iki kat geldi"), created_at=at(1),
               mentions=[BRAND])
    )  # fmt: skip


@pytest.fixture
def channel(mastodon_settings: dict[str, Any]) -> MastodonChannel:
    return MastodonChannel(mastodon_settings)


def reply(complaint: dict[str, Any], text: str = "Merhaba, hemen bakıyoruz.", **kw: Any) -> OutboundMessage:  # fmt: skip
    fields: dict[str, Any] = {"channel": "mastodon", "text": text, "public": True,
                              "in_reply_to": complaint["id"], "to": complaint["account"]["id"],
                              "idempotency_key": "reply:1:abc"}  # fmt: skip
    return OutboundMessage(**{**fields, **kw})


def test_public_reply_mentions_the_customer_and_threads_under_the_status(
    channel: MastodonChannel, fake: FakeMastodon, complaint: dict[str, Any]
) -> None:
    result = channel.send(reply(complaint))
    (post,) = fake.seen("/api/v1/statuses", "POST")
    assert post.body == {"status": "@mehmet_k@fosstodon.org Merhaba, hemen bakıyoruz.",
                         "visibility": "public", "in_reply_to_id": complaint["id"]}  # fmt: skip
    assert post.headers["authorization"] == f"Bearer {fake.token}"
    assert len(post.headers["idempotency-key"]) == 64  # a digest of the outbox key
    posted = fake.statuses[result.external_id]
    assert (
        posted["in_reply_to_id"] == complaint["id"] and posted["mentions"][0]["id"] == MEHMET["id"]
    )


def test_a_repeated_request_returns_the_status_already_posted(
    channel: MastodonChannel, fake: FakeMastodon, complaint: dict[str, Any]
) -> None:
    first = channel.send(reply(complaint))
    again = channel.send(reply(complaint))
    assert first.external_id == again.external_id
    assert len([s for s in fake.statuses.values() if s["account"]["id"] == BRAND["id"]]) == 1
    other = channel.send(reply(complaint, idempotency_key="reply:1:def"))
    assert other.external_id != first.external_id


def test_direct_reply_is_a_direct_status_to_the_customer_only(
    channel: MastodonChannel, fake: FakeMastodon, complaint: dict[str, Any]
) -> None:
    channel.send(reply(complaint, "Fatura numaranızı yazar mısınız?", public=False))
    (post,) = fake.seen("/api/v1/statuses", "POST")
    assert post.body["visibility"] == "direct"
    assert post.body["status"].startswith("@mehmet_k@fosstodon.org ")
    # without the status answered, the account id finds the handle
    channel.send(reply(complaint, "ok", public=False, in_reply_to=None, idempotency_key="k2"))
    assert fake.seen(f"/api/v1/accounts/{MEHMET['id']}")
    assert fake.seen("/api/v1/statuses", "POST")[-1].body["status"] == "@mehmet_k@fosstodon.org ok"
    with pytest.raises(PermanentSendError, match="needs the customer's account"):
        channel.send(reply(complaint, "x", public=False, in_reply_to=None, to=None))


def test_a_text_that_names_the_customer_is_not_prefixed_again(
    channel: MastodonChannel, fake: FakeMastodon, complaint: dict[str, Any]
) -> None:
    channel.send(reply(complaint, "Merhaba @mehmet_k@fosstodon.org, çözüldü."))
    assert fake.seen("/api/v1/statuses", "POST")[0].body["status"] == (
        "Merhaba @mehmet_k@fosstodon.org, çözüldü."
    )


def test_failures_are_classified(
    channel: MastodonChannel, fake: FakeMastodon, complaint: dict[str, Any],
    mastodon_settings: dict[str, Any],
) -> None:  # fmt: skip
    reset = time.time() + 600
    fake.fail(
        "/api/v1/statuses", 429, TOO_MANY, headers={"x-ratelimit-reset": iso(reset)}, method="POST"
    )
    with pytest.raises(TransientSendError) as err:
        channel.send(reply(complaint))
    assert err.value.retry_after is not None and 590 < err.value.retry_after <= 602
    fake.fail("/api/v1/statuses", 503, {"error": "Service Unavailable"}, method="POST")
    with pytest.raises(TransientSendError, match="503"):
        channel.send(reply(complaint))
    fake.fail("/api/v1/statuses", 422, BLANK, method="POST")
    with pytest.raises(PermanentSendError, match="Text can't be blank"):
        channel.send(reply(complaint))
    with pytest.raises(PermanentSendError, match="404 \\(Record not found\\)"):
        channel.send(reply(complaint, in_reply_to="1234"))  # deleted meanwhile
    with pytest.raises(PermanentSendError, match="not a Mastodon status id"):
        channel.send(reply(complaint, in_reply_to="../accounts/1"))  # never put in a path
    with pytest.raises(PermanentSendError, match="not a Mastodon account id"):
        channel.send(reply(complaint, in_reply_to=None, to="1?x=y"))
    bad = MastodonChannel({**mastodon_settings, "access_token": "leaked-if-shown"})
    with pytest.raises(PermanentSendError) as perm:
        bad.send(reply(complaint))
    assert "401" in str(perm.value) and "leaked-if-shown" not in str(perm.value)
    assert "leaked-if-shown" not in repr(bad.settings)
    down = MastodonChannel(
        {**mastodon_settings, "instance_url": "http://127.0.0.1:9", "timeout": 2}
    )
    with pytest.raises(TransientSendError, match="cannot reach"):
        down.send(reply(complaint))
    # three were refused by the instance; the others never reached it
    assert len(fake.seen("/api/v1/statuses", "POST")) == 3
    assert [s for s in fake.statuses.values() if s["account"]["id"] == BRAND["id"]] == []


def test_a_reply_over_the_instance_limit_is_refused_before_posting(
    channel: MastodonChannel, fake: FakeMastodon, complaint: dict[str, Any]
) -> None:
    with pytest.raises(PermanentSendError, match="instance allows 500"):
        channel.send(reply(complaint, "ç" * 491))  # 491 + '@mehmet_k ' counts 501
    assert fake.seen("/api/v1/statuses", "POST") == []
    assert status_length("bkz https://example.com/" + "x" * 300) == 4 + 23
    assert status_length("@ayse@example.social selam") == len("@ayse selam")


def test_reply_through_the_outbox_moves_the_case(
    cli: Any, app: Scrm, fake: FakeMastodon, complaint: dict[str, Any]
) -> None:
    cli("mastodon", "poll", "--once")
    (stored,) = [i for i in app.interactions(limit=100) if i.external_id == complaint["id"]]
    assert stored.case_id is not None
    cli("reply", str(stored.case_id), "--template", "acknowledge")
    assert cli("outbox", "deliver").stdout.startswith("sent 1,")
    (post,) = fake.seen("/api/v1/statuses", "POST")
    assert post.body["in_reply_to_id"] == complaint["id"] and post.body["visibility"] == "public"
    assert post.body["status"].startswith("@mehmet_k@fosstodon.org ")
    case = app.case(stored.case_id)
    assert case.status == "acknowledged" and case.first_response_at is not None
    # the next poll sees the reply among the brand's statuses: stored once, on the same case
    report = cli("mastodon", "poll", "--once").stdout
    assert report
    ours = [i for i in app.interactions(limit=100) if i.direction == "outbound"]
    assert len(ours) == 1 and ours[0].case_id == stored.case_id


def test_a_private_reply_through_the_outbox_is_direct(
    cli: Any, app: Scrm, fake: FakeMastodon
) -> None:
    dm = fake.add_status(status(snowflake(2), AYSE, MENTION.format("hattım kapandı, yardım"),
                                created_at=at(2), mentions=[BRAND], visibility="direct"))  # fmt: skip
    cli("mastodon", "poll", "--once")
    (stored,) = [i for i in app.interactions(limit=100) if i.external_id == dm["id"]]
    assert stored.public is False and stored.case_id is not None
    cli("reply", str(stored.case_id), "--text", "Numaranızı yazar mısınız?")
    assert cli("outbox", "deliver").stdout.startswith("sent 1,")
    (post,) = fake.seen("/api/v1/statuses", "POST")
    assert post.body == {"status": "@aysylmz Numaranızı yazar mısınız?", "visibility": "direct",
                         "in_reply_to_id": dm["id"]}  # fmt: skip
    assert fake.seen("/api/v1/statuses/")[0].path == f"/api/v1/statuses/{dm['id']}"


def test_unknown_token_on_delivery_fails_the_reply_with_a_reason(
    cli: Any, app: Scrm, fake: FakeMastodon, complaint: dict[str, Any]
) -> None:
    queue_reply(cli, app, complaint["id"], "Bakıyoruz")
    fake.fail("/api/v1/statuses", 401, INVALID_TOKEN)  # the lookup of the status answered
    result = cli("outbox", "deliver", expect=6)
    assert "401" in result.stdout + result.stderr
    assert fake.seen("/api/v1/statuses", "POST") == []


def queue_reply(cli: Any, app: Scrm, status_id: str, text: str) -> Any:
    """Poll, then queue ``text`` on the case of ``status_id``; return its stored interaction."""
    cli("mastodon", "poll", "--once")
    (stored,) = [i for i in app.interactions(limit=100) if i.external_id == status_id]
    assert stored.case_id is not None
    cli("reply", str(stored.case_id), "--text", text)
    return stored


def _claim_and_crash(app: Scrm, now: Any) -> OutboundMessage:
    """Claim the due reply (committed), as a worker that dies before recording it would."""
    with app.session() as s:
        (row,) = outbox.claim(s, now=now)
        return outbox.to_message(row)


def test_an_interrupted_delivery_is_reconciled_from_the_brand_s_statuses(
    cli: Any, app: Scrm, fake: FakeMastodon, complaint: dict[str, Any]
) -> None:
    text = "Merhaba,\n\nhemen bakıyoruz: https://acme.example/durum"
    stored = queue_reply(cli, app, complaint["id"], text)
    now = datetime.now(UTC)
    message = _claim_and_crash(app, now)
    posted = app.channel("mastodon").send(message)  # it went out, then the worker died
    report = outbox_service.deliver(app, now=now + outbox.LEASE + timedelta(seconds=1))
    assert (report.sent, report.reconciled) == (0, 1)
    assert len(fake.seen("/api/v1/statuses", "POST")) == 1  # not sent again
    ours = [i for i in app.case(stored.case_id).interactions if i.direction == "outbound"]  # type: ignore[arg-type]
    assert [i.external_id for i in ours] == [posted.external_id]


def test_a_delivery_interrupted_before_posting_waits_for_a_person(
    cli: Any, app: Scrm, fake: FakeMastodon, complaint: dict[str, Any]
) -> None:
    queue_reply(cli, app, complaint["id"], "Bakıyoruz")
    now = datetime.now(UTC)
    _claim_and_crash(app, now)  # died before posting: the brand's statuses do not hold it
    report = outbox_service.deliver(app, now=now + outbox.LEASE + timedelta(seconds=1))
    assert report.failed == 1 and fake.seen("/api/v1/statuses", "POST") == []
    failed = json.loads(cli("outbox", "list", "--failed", "--json").stdout)
    assert "cannot tell whether it went out" in failed[0]["last_error"]
