"""Account Activity webhooks: the CRC challenge and signature checks (reference vectors)."""

from __future__ import annotations

import json

import pytest
from scrm_twitter.channel import TwitterChannel
from scrm_twitter.webhooks import WebhookRejected, crc_response, receive, sign, verify_signature

from scrm.core.app import Scrm

SECRET = "z3ZX4v7mAAUGykl3EcmkqbartmuW8VFOOzCloLx9Q45P0hLrFu"
BODY = b'{"for_user_id":"2244994945","tweet_create_events":[]}'
SIGNATURE = "sha256=CpOc2dZ+JrkFhzkAW3gWETdo1w8Mx1i/MpqTbkrylcw="


def test_crc_response_matches_the_reference_vector() -> None:
    expected = {"response_token": "sha256=Cytd4Sq+NvEcV3MMrXxWJGJx5A+y/lXzzU2Maartkx8="}
    assert crc_response(SECRET, "9b4507b3-9040-4669-9ca3-6b94edb50553") == expected
    channel = TwitterChannel({"consumer_secret": SECRET})
    assert channel.crc_response("9b4507b3-9040-4669-9ca3-6b94edb50553") == expected


@pytest.mark.parametrize(
    ("headers", "ok"),
    [
        ({"x-twitter-webhooks-signature": SIGNATURE}, True),
        ({"X-Twitter-Webhooks-Signature": SIGNATURE}, True),
        ({"x-twitter-webhooks-signature": SIGNATURE.replace("Cp", "Cq")}, False),
        ({"x-twitter-webhooks-signature": "sha256="}, False),
        ({}, False),
    ],
)
def test_signature_vector(headers: dict[str, str], ok: bool) -> None:
    assert verify_signature(SECRET, headers, BODY) is ok
    assert TwitterChannel({"consumer_secret": SECRET}).verify(headers, BODY) is ok


def test_body_changed_after_signing_is_refused() -> None:
    assert not verify_signature(SECRET, {"x-twitter-webhooks-signature": SIGNATURE}, BODY + b" ")
    assert not TwitterChannel({}).verify({"x-twitter-webhooks-signature": SIGNATURE}, BODY)


def test_receive_stores_only_signed_deliveries(app: Scrm) -> None:
    from test_mapping import AAA_TWEET

    body = json.dumps(AAA_TWEET).encode()
    for headers in ({}, {"x-twitter-webhooks-signature": SIGNATURE}):  # SIGNATURE: other body
        with pytest.raises(WebhookRejected):
            receive(app, headers, body)
    assert app.interactions(limit=10) == [] and app.rejects() == []
    channel = app.channel("twitter")
    assert isinstance(channel, TwitterChannel)
    good = {"x-twitter-webhooks-signature": sign(SECRET, body)}
    report = receive(app, good, body)
    assert report.stored == 1
    assert receive(app, good, body).duplicates == 1  # redelivery is stored once
