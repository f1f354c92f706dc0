"""Webhook handshake, signature and payload mapping (no database needed)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from scrm_facebook.channel import FacebookChannel
from scrm_facebook.webhook import SubscriptionError

from scrm.core.channel import ParseError
from scrm.core.schemas import Direction

# -- handshake ---------------------------------------------------------------------------


def test_handshake_echoes_the_challenge(channel: FacebookChannel) -> None:
    params = {
        "hub.mode": "subscribe",
        "hub.challenge": "1158201444",
        "hub.verify_token": "meatyhamhock",
    }
    assert channel.verify_subscription(params) == "1158201444"


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"hub.mode": "subscribe", "hub.challenge": "1", "hub.verify_token": "wrong"}, "match"),
        (
            {"hub.mode": "unsubscribe", "hub.challenge": "1", "hub.verify_token": "meatyhamhock"},
            "mode",
        ),
        ({"hub.mode": "subscribe", "hub.challenge": "1"}, "match"),
        ({"hub.mode": "subscribe", "hub.verify_token": "meatyhamhock"}, "challenge"),
        ({}, "mode"),
    ],
)
def test_a_bad_handshake_is_refused(
    channel: FacebookChannel, params: dict[str, str], reason: str
) -> None:
    with pytest.raises(SubscriptionError, match=reason):
        channel.verify_subscription(params)


def test_no_verify_token_configured_refuses_every_handshake(graph_url: str) -> None:
    ch = FacebookChannel({"page_id": "1", "graph_url": graph_url})
    with pytest.raises(SubscriptionError, match="no verify token"):
        ch.verify_subscription(
            {"hub.mode": "subscribe", "hub.challenge": "1", "hub.verify_token": ""}
        )


# -- signature -----------------------------------------------------------------------------

VECTOR = "sha256=5da47c9c7409e70d7a1851f0cfd9bc27786bd99587a9bf1dd5b51e23a2de03cf"


def test_signature_matches_the_reference_vector(channel: FacebookChannel) -> None:
    body = b'{"object":"page","entry":[]}'
    assert channel.verify({"X-Hub-Signature-256": VECTOR}, body)
    assert channel.verify({"x-hub-signature-256": VECTOR}, body)  # header names are case-blind


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Hub-Signature-256": ""},
        {"X-Hub-Signature-256": VECTOR.upper()},  # Meta sends lowercase hex
        {"X-Hub-Signature-256": VECTOR[len("sha256=") :]},
        {"X-Hub-Signature-256": VECTOR.replace("5da4", "5da5")},
        {"X-Hub-Signature": "sha1=0000000000000000000000000000000000000000"},
    ],
)
def test_a_missing_or_wrong_signature_is_refused(
    channel: FacebookChannel, headers: dict[str, str]
) -> None:
    assert not channel.verify(headers, b'{"object":"page","entry":[]}')


def test_signature_is_checked_over_the_raw_escaped_bytes(channel: FacebookChannel, fb) -> None:
    payload = fb.body(fb.comment(message="Kargom hâlâ gelmedi! مرحبا"))
    raw = fb.raw(payload)
    assert b"\\u00e2" in raw and "â".encode() not in raw  # Meta escapes non-ASCII
    headers = fb.sign(raw)
    assert channel.verify(headers, raw)
    # The same JSON re-serialised with real UTF-8 is different bytes: refused.
    import json

    assert not channel.verify(headers, json.dumps(payload, ensure_ascii=False).encode())


def test_no_app_secret_refuses_every_delivery(graph_url: str, fb) -> None:
    ch = FacebookChannel({"page_id": "1", "graph_url": graph_url})
    raw = b'{"object":"page","entry":[]}'
    assert not ch.verify(fb.sign(raw), raw)


# -- feed changes --------------------------------------------------------------------------


def test_a_comment_becomes_a_public_inbound_interaction(channel: FacebookChannel, fb) -> None:
    [it] = channel.parse(fb.body(fb.comment()))
    assert it.external_id == "998877_1234567"
    assert it.text == "Kargom hâlâ gelmedi!"
    assert it.created_at == datetime.fromtimestamp(1520544814, UTC)  # seconds
    assert it.author.external_id == "3088119634567890"
    assert it.author.display_name == "Cinderella Hoover"
    assert it.direction is Direction.INBOUND and it.public
    assert it.thread_key == "998877_1234567"  # each commenter's comment is a conversation
    assert it.in_reply_to is None  # a top-level comment answers the post, not a message
    assert it.raw is not None and it.raw["value"]["verb"] == "add"


def test_a_reply_to_a_comment_points_at_it(channel: FacebookChannel, fb) -> None:
    [it] = channel.parse(fb.body(fb.comment("998877_2", parent_id="998877_1234567")))
    assert it.in_reply_to == "998877_1234567"
    assert it.thread_key == "998877_1234567"  # the conversation of the comment it answers


def test_the_pages_reply_joins_the_conversation_it_answers(channel: FacebookChannel, fb) -> None:
    page = (fb.page_id, "Acme Türkiye")
    reply = fb.comment("998877_5", "Merhaba!", parent_id="998877_1234567", sender=page)
    top = fb.comment("998877_6", "Yorumlarınızı bekliyoruz", sender=page)
    [it, own] = channel.parse(fb.body(reply, top))
    assert (it.thread_key, it.in_reply_to) == ("998877_1234567", "998877_1234567")
    # The page's top-level comment answers the post (a visitor's post is its conversation).
    assert (own.thread_key, own.in_reply_to) == (fb.post_id, None)


def test_a_comment_with_a_bad_parent_is_refused(channel: FacebookChannel, fb) -> None:
    change = fb.comment()
    change["value"]["parent_id"] = {"id": "1"}
    with pytest.raises(ParseError) as err:
        list(channel.parse(fb.body(change)))
    assert err.value.field == "entry[0].changes[0].value.parent_id"


def test_the_pages_own_comment_is_outbound(channel: FacebookChannel, fb) -> None:
    own = fb.comment("998877_3", "Merhaba!", sender=(fb.page_id, "Acme Türkiye"))
    [it] = channel.parse(fb.body(own))
    assert it.direction is Direction.OUTBOUND
    assert it.author.external_id == fb.page_id


def test_an_edit_is_a_new_record_pointing_at_the_original(channel: FacebookChannel, fb) -> None:
    body = fb.body(fb.comment(message="Kargom geldi, teşekkürler", verb="edited"), time=1520545000)
    [it] = channel.parse(body)
    assert it.external_id.startswith("998877_1234567#edit-")
    assert it.in_reply_to == "998877_1234567"
    assert it.text == "Kargom geldi, teşekkürler"
    assert it.created_at == datetime.fromtimestamp(1520545000, UTC)  # when it was edited
    assert it.thread_key == "998877_1234567"  # the comment's own conversation
    [again] = channel.parse(body)
    assert again.external_id == it.external_id  # redelivery: same id, stored once
    [other] = channel.parse(fb.body(fb.comment(message="another edit", verb="edited")))
    assert other.external_id != it.external_id  # a second edit is kept too


def test_a_removal_is_recorded_not_deleted(channel: FacebookChannel, fb) -> None:
    [it] = channel.parse(fb.body(fb.comment(message=None, verb="remove")))
    assert it.external_id == "998877_1234567#removed"
    assert it.in_reply_to == it.thread_key == "998877_1234567"
    assert it.text == ""
    assert it.raw is not None and it.raw["value"]["verb"] == "remove"


def test_a_visitor_post_starts_its_own_thread(channel: FacebookChannel, fb) -> None:
    change = {
        "field": "feed",
        "value": {
            "from": {"id": "42", "name": "Visitor"},
            "post_id": f"{fb.page_id}_777",
            "created_time": 1520544814,
            "item": "status",
            "verb": "add",
            "message": "Neden cevap vermiyorsunuz?",
        },
    }
    [it] = channel.parse(fb.body(change))
    assert it.external_id == it.thread_key == f"{fb.page_id}_777"
    assert it.direction is Direction.INBOUND


@pytest.mark.parametrize("item", ["reaction", "like", "share"])
def test_reactions_and_likes_carry_no_words(channel: FacebookChannel, fb, item: str) -> None:
    change = fb.comment()
    change["value"].update(item=item, reaction_type="like")
    assert list(channel.parse(fb.body(change))) == []


def test_hide_and_other_fields_are_ignored(channel: FacebookChannel, fb) -> None:
    hidden = fb.comment(verb="hide")
    other = {"field": "mention", "value": {"post_id": "1"}}
    assert list(channel.parse(fb.body(hidden, other))) == []


# -- Messenger ----------------------------------------------------------------------------


def test_a_messenger_text_is_private_on_the_psid_thread(channel: FacebookChannel, fb) -> None:
    event = fb.message(quick_reply={"payload": "<DEVELOPER_DEFINED_PAYLOAD>"})
    [it] = channel.parse(fb.body(event, time=1457764198246))
    assert it.external_id == "mid.1457764197618:41d102a3e1ae206a38"
    assert it.text == "hello, world!"
    assert it.created_at == datetime.fromtimestamp(1457764197.627, UTC)  # milliseconds
    assert it.author.external_id == "6890213847561920"
    assert it.thread_key == "messenger:6890213847561920"
    assert not it.public and it.direction is Direction.INBOUND


def test_an_attachment_is_kept(channel: FacebookChannel, fb) -> None:
    att = {"type": "image", "payload": {"url": "https://scontent.xx.fbcdn.net/v/t1.15752-9/x.jpg"}}
    [it] = channel.parse(fb.body(fb.message(text=None, attachments=[att])))
    assert it.text == ""
    [a] = it.attachments
    assert a.content_type == "image" and a.url is not None and a.url.endswith("x.jpg")


def test_an_echo_is_the_pages_outbound_message(channel: FacebookChannel, fb) -> None:
    [it] = channel.parse(fb.body(fb.message("m_echo", "Merhaba, yardımcı olalım", echo=True)))
    assert it.direction is Direction.OUTBOUND
    assert it.author.external_id == fb.page_id and it.author.display_name == "Acme Türkiye"
    assert it.recipient is not None and it.recipient.external_id == "6890213847561920"
    assert it.thread_key == "messenger:6890213847561920"


def test_a_typed_email_address_becomes_the_authors(channel: FacebookChannel, fb) -> None:
    [one] = channel.parse(fb.body(fb.message(text="mailim emre.demir@example.org")))
    assert one.author.email == "emre.demir@example.org"
    [two] = channel.parse(fb.body(fb.message(text="a@example.org ya da b@example.org")))
    assert two.author.email is None  # ambiguous: not guessed


def test_deliveries_reads_and_reactions_are_ignored(channel: FacebookChannel, fb) -> None:
    base = {"sender": {"id": "1"}, "recipient": {"id": fb.page_id}, "timestamp": 1457764198246}
    events = [
        {**base, "delivery": {"mids": ["mid.1"], "watermark": 1457764198246}},
        {**base, "read": {"watermark": 1457764198246}},
        {**base, "reaction": {"reaction": "love", "emoji": "❤️", "action": "react", "mid": "m"}},
        {**base, "postback": {"title": "Başla", "payload": "GET_STARTED"}},
    ]
    body = {"object": "page", "entry": [{"id": fb.page_id, "time": 1, "messaging": events}]}
    assert list(channel.parse(body)) == []


# -- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"object": "instagram", "entry": []}, "object"),
        ({"object": "page"}, "entry"),
        ({"object": "page", "entry": ["x"]}, "entry[0]"),
    ],
)
def test_a_bad_body_names_the_field(channel: FacebookChannel, payload, field: str) -> None:
    with pytest.raises(ParseError) as err:
        list(channel.parse(payload))
    assert err.value.field == field


def test_a_bad_event_is_named_and_split_keeps_the_others_apart(
    channel: FacebookChannel, fb
) -> None:
    bad = fb.comment("998877_9")
    del bad["value"]["created_time"]
    body = fb.body(fb.comment("998877_1"), bad, fb.message("m_1"))
    with pytest.raises(ParseError) as err:
        list(channel.parse(body))
    assert err.value.field == "entry[1].changes[0].value.created_time"
    pieces = list(channel.split(body))
    assert len(pieces) == 3
    assert [it.external_id for it in channel.parse(pieces[0])] == ["998877_1"]
    assert [it.external_id for it in channel.parse(pieces[2])] == ["m_1"]
    with pytest.raises(ParseError):
        list(channel.parse(pieces[1]))
    assert all(p["entry"][0]["id"] == fb.page_id and "time" in p["entry"][0] for p in pieces)
