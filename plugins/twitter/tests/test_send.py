"""Replies through the fake: public replies, threads, DMs, and how failures are classified."""

from __future__ import annotations

import time
from typing import Any

import pytest
from conftest import BRAND, SECRETS, tweet
from fake_x import TOO_MANY, FakeX
from scrm_twitter.channel import TwitterChannel
from scrm_twitter.text import split_thread, tweet_length

from scrm.core.channel import PermanentSendError, TransientSendError
from scrm.core.schemas import OutboundMessage

CUSTOMER = "2086537338"
ROOT = "1850000000000000001"


@pytest.fixture
def channel(fake: FakeX, twitter_settings: dict[str, Any]) -> TwitterChannel:
    fake.add_tweet(tweet(ROOT, CUSTOMER, "@AcmeDestek faturam yanlış"))
    return TwitterChannel(twitter_settings)


def reply(text: str = "Merhaba, DM üzerinden iletir misiniz?", **kw: Any) -> OutboundMessage:
    fields: dict[str, Any] = {"channel": "twitter", "text": text, "public": True,
                              "in_reply_to": ROOT, "to": CUSTOMER, "idempotency_key": "k1"}  # fmt: skip
    return OutboundMessage(**{**fields, **kw})


def test_public_reply_is_posted_with_oauth1_and_returns_its_id(
    channel: TwitterChannel, fake: FakeX
) -> None:
    result = channel.send(reply())
    (call,) = fake.seen("/2/tweets")
    assert call.method == "POST"
    assert call.body == {"text": "Merhaba, DM üzerinden iletir misiniz?",
                         "reply": {"in_reply_to_tweet_id": ROOT}}  # fmt: skip
    assert call.headers["authorization"].startswith("OAuth ")  # the fake checked the signature
    assert result.external_id in fake.tweets
    assert fake.tweets[result.external_id]["conversation_id"] == ROOT


def test_oauth2_user_token_is_preferred(fake: FakeX, twitter_settings: dict[str, Any]) -> None:
    fake.add_tweet(tweet(ROOT, CUSTOMER, "x"))
    ch = TwitterChannel({**twitter_settings, "user_access_token": SECRETS["user_access_token"]})
    ch.send(reply())
    assert (
        fake.seen("/2/tweets")[0].headers["authorization"]
        == f"Bearer {SECRETS['user_access_token']}"
    )


def test_long_reply_becomes_a_numbered_thread(channel: TwitterChannel, fake: FakeX) -> None:
    text = " ".join(["Faturanızdaki ek hizmet bedelini inceledik ve iade başlattık."] * 8)
    result = channel.send(reply(text))
    calls = fake.seen("/2/tweets")
    assert len(calls) == 2 and result.raw is not None and result.raw["ids"][0] == result.external_id
    assert calls[0].body["text"].endswith("(1/2)") and calls[1].body["text"].endswith("(2/2)")
    assert calls[1].body["reply"]["in_reply_to_tweet_id"] == result.external_id


def test_long_reply_is_refused_when_configured(
    fake: FakeX, twitter_settings: dict[str, Any]
) -> None:
    ch = TwitterChannel({**twitter_settings, "long_text": "refuse"})
    with pytest.raises(PermanentSendError, match="X allows 280"):
        ch.send(reply("x" * 281))
    assert fake.seen("/2/tweets") == []


def test_reply_to_an_invisible_tweet_is_permanent(channel: TwitterChannel, fake: FakeX) -> None:
    fake.invisible.add(ROOT)
    with pytest.raises(PermanentSendError, match="deleted or not visible"):
        channel.send(reply())


def test_rate_limit_is_transient_with_retry_after(channel: TwitterChannel, fake: FakeX) -> None:
    reset = int(time.time()) + 600
    fake.fail("/2/tweets", 429, TOO_MANY, headers={"x-rate-limit-reset": str(reset),
                                                   "x-rate-limit-remaining": "0"})  # fmt: skip
    with pytest.raises(TransientSendError) as err:
        channel.send(reply())
    assert err.value.retry_after is not None and 590 < err.value.retry_after <= 600
    assert len(fake.seen("/2/tweets")) == 1  # posting is never retried blindly


def test_server_error_and_unreachable_are_transient(
    channel: TwitterChannel, fake: FakeX, twitter_settings: dict[str, Any]
) -> None:
    fake.fail("/2/tweets", 503, {"title": "Service Unavailable", "status": 503})
    with pytest.raises(TransientSendError, match="503"):
        channel.send(reply())
    down = TwitterChannel({**twitter_settings, "base_url": "http://127.0.0.1:9", "timeout": 2})
    with pytest.raises(TransientSendError, match="cannot reach X"):
        down.send(reply())


def test_bad_credentials_are_permanent_and_secret_free(
    fake: FakeX, twitter_settings: dict[str, Any]
) -> None:
    fake.add_tweet(tweet(ROOT, CUSTOMER, "x"))
    ch = TwitterChannel({**twitter_settings, "access_token_secret": "leaked-if-shown"})
    with pytest.raises(PermanentSendError) as err:
        ch.send(reply())
    assert "401" in str(err.value) and "OAuth 1.0a" in str(err.value)
    assert "leaked-if-shown" not in str(err.value) and "leaked-if-shown" not in repr(ch.settings)
    app_only = TwitterChannel({"base_url": fake.url, "bearer_token": SECRETS["bearer_token"]})
    with pytest.raises(PermanentSendError, match=r"needs channels\.twitter\.user_access_token"):
        app_only.send(reply())


def test_private_reply_is_a_dm(channel: TwitterChannel, fake: FakeX) -> None:
    result = channel.send(reply("Detaylar için teşekkürler", public=False, in_reply_to=None))
    (call,) = fake.seen("/2/dm_conversations")
    assert call.path == f"/2/dm_conversations/with/{CUSTOMER}/messages"
    assert call.body == {"text": "Detaylar için teşekkürler"}
    assert result.external_id == fake.dm_events[-1]["id"]
    # the recipient can come from the DM thread alone
    again = channel.send(
        reply("ok", public=False, to=None, thread_key=f"dm:{BRAND['id']}-{CUSTOMER}")
    )
    assert again.external_id == fake.dm_events[-1]["id"]
    with pytest.raises(PermanentSendError, match="needs the recipient"):
        channel.send(reply("ok", public=False, to=None))


def test_tweet_length_and_split() -> None:
    assert tweet_length("a" * 10) == 10
    assert tweet_length("see https://example.com/" + "x" * 100) == 4 + 23
    assert tweet_length("日本") == 4
    parts = split_thread("kelime " * 100)
    assert len(parts) == 3 and all(tweet_length(p) <= 280 for p in parts)
    assert [p.rsplit(" ", 1)[1] for p in parts] == ["(1/3)", "(2/3)", "(3/3)"]
    assert split_thread("kısa") == ["kısa"]
