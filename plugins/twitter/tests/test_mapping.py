"""Mapping of v2 pages, v2 DM events and Account Activity payloads to interactions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import BRAND, recorded_exchanges, tweet, user
from scrm_twitter.channel import TwitterChannel
from scrm_twitter.mapping import dm_conversation_id, split_payload

from scrm.core.channel import ParseError
from scrm.core.schemas import Direction

CUSTOMER = user("2086537338", "aysylmz", 312)


def channel(**settings: Any) -> TwitterChannel:
    return TwitterChannel({"brand_user_id": BRAND["id"], **settings})


def page(*tweets: dict[str, Any], users: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "data": list(tweets),
        "includes": {"users": users if users is not None else [CUSTOMER, BRAND]},
        "meta": {"result_count": len(tweets)},
    }


def test_tweet_maps_every_documented_field() -> None:
    root = tweet("1850000000000000001", CUSTOMER["id"], "@AcmeDestek faturam yanlış", likes=3)
    (it,) = channel().parse(page(root))
    assert it.external_id == root["id"]
    assert it.thread_key == root["id"] and it.in_reply_to is None
    assert it.public and it.direction is Direction.INBOUND
    assert it.author.handle == "aysylmz" and it.author.followers == 312
    assert it.author.verified is False
    assert it.author.account_created_at is not None and it.author.account_created_at.year == 2015
    assert it.language == "tr"
    assert it.engagement is not None and it.engagement.likes == 3 and it.engagement.views == 30
    assert it.created_at.tzinfo is not None
    # raw is a one-tweet page with its user: parsed again, it gives the same interaction
    assert it.raw == {"data": [root], "includes": {"users": [CUSTOMER]}}
    assert list(channel().parse(it.raw)) == [it]


def test_brand_reply_is_outbound_with_recipient_and_thread() -> None:
    root = tweet("1850000000000000001", CUSTOMER["id"], "@AcmeDestek yardım")
    reply = tweet("1850000000000000002", BRAND["id"], "@aysylmz DM atar mısınız?", reply_to=root)
    _, out = channel().parse(page(root, reply))
    assert out.direction is Direction.OUTBOUND
    assert out.recipient is not None and out.recipient.handle == "aysylmz"
    assert out.in_reply_to == root["id"] and out.thread_key == root["id"]
    assert out.author.handle == "AcmeDestek" and out.author.verified is True


def test_undetermined_language_is_left_to_detection() -> None:
    (it,) = channel().parse(page(tweet("1850000000000000003", CUSTOMER["id"], "🙄", lang="und")))
    assert it.language is None


def test_author_not_expanded_still_maps_by_id() -> None:
    (it,) = channel().parse(page(tweet("1850000000000000004", "999", "hi acme"), users=[]))
    assert it.author.external_id == "999" and it.author.handle is None


def test_empty_page_has_no_data_and_yields_nothing() -> None:
    assert list(channel().parse({"meta": {"result_count": 0}})) == []


def test_bad_item_is_named_and_the_line_kept_whole() -> None:
    good = tweet("1850000000000000005", CUSTOMER["id"], "ok")
    bad = {**tweet("1850000000000000006", CUSTOMER["id"], "x"), "created_at": "yesterday"}
    with pytest.raises(ParseError) as err:
        list(channel().parse(page(good, good, bad)))
    assert err.value.field == "data[2].created_at"
    assert "ISO 8601" in err.value.reason
    # split_payload cuts the page so that only the bad tweet is rejected
    parts = list(split_payload(page(good, bad)))
    assert len(list(channel().parse(parts[0]))) == 1
    with pytest.raises(ParseError, match=r"data\[0\]\.created_at"):
        list(channel().parse(parts[1]))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"id": None}, "data[0].id"),
        ({"author_id": None}, "data[0].author_id"),
        ({"text": 5}, "data[0].text"),
        ({"public_metrics": {"like_count": -1}}, "data[0].public_metrics.like_count"),
    ],
)
def test_missing_or_wrong_fields_are_named(change: dict[str, Any], field: str) -> None:
    t = {**tweet("1850000000000000007", CUSTOMER["id"], "x"), **change}
    with pytest.raises(ParseError) as err:
        list(channel().parse(page(t)))
    assert err.value.field == field


def test_not_a_page_is_refused() -> None:
    with pytest.raises(ParseError, match="not an X API v2 page"):
        list(channel().parse({"title": "Too Many Requests", "status": 429}))


def test_v2_dm_events_are_private_and_echoes_outbound() -> None:
    conv = dm_conversation_id(BRAND["id"], CUSTOMER["id"])
    events = [
        {"id": "1850000000000000011", "event_type": "MessageCreate", "text": "Hizmet no 532",
         "dm_conversation_id": conv, "sender_id": CUSTOMER["id"],
         "created_at": "2024-10-20T07:04:39.000Z"},
        {"id": "1850000000000000012", "event_type": "MessageCreate", "text": "Kontrol ediyorum",
         "dm_conversation_id": conv, "sender_id": BRAND["id"],
         "participant_ids": [BRAND["id"], CUSTOMER["id"]], "created_at": "2024-10-20T07:37:34.000Z"},
        {"id": "1850000000000000013", "event_type": "ParticipantsJoin", "dm_conversation_id": conv,
         "created_at": "2024-10-20T07:38:00.000Z"},
    ]  # fmt: skip
    inbound, outbound = channel().parse({"data": events, "includes": {"users": [CUSTOMER, BRAND]}})
    assert conv == "583920147-2086537338"
    assert inbound.public is False and inbound.thread_key == f"dm:{conv}"
    assert inbound.direction is Direction.INBOUND and inbound.author.handle == "aysylmz"
    assert outbound.direction is Direction.OUTBOUND
    assert outbound.recipient is not None and outbound.recipient.external_id == CUSTOMER["id"]


AAA_TWEET = {
    "for_user_id": BRAND["id"],
    "tweet_create_events": [{
        "created_at": "Wed Feb 05 08:39:31 +0000 2020", "id": 1224972300000000001,
        "id_str": "1224972300000000001", "text": "@AcmeDestek kargom nerede?", "truncated": False,
        "in_reply_to_status_id": None, "in_reply_to_status_id_str": None,
        "in_reply_to_user_id": 583920147, "in_reply_to_user_id_str": BRAND["id"],
        "in_reply_to_screen_name": "AcmeDestek", "lang": "tr",
        "user": {"id": 2086537338, "id_str": "2086537338", "name": "Ayşe Yılmaz",
                 "screen_name": "aysylmz", "followers_count": 312, "friends_count": 13,
                 "verified": False, "created_at": "Sun Jun 02 19:11:05 +0000 2013"},
        "quote_count": 0, "reply_count": 0, "retweet_count": 2, "favorite_count": 5,
    }],
}  # fmt: skip


def test_account_activity_tweet_maps_like_v2() -> None:
    (it,) = channel().parse(AAA_TWEET)
    assert it.external_id == "1224972300000000001" and it.thread_key == it.external_id
    assert it.author.handle == "aysylmz" and it.author.followers == 312
    assert it.author.account_created_at is not None
    assert it.engagement is not None and (it.engagement.likes, it.engagement.shares) == (5, 2)
    assert it.created_at.isoformat() == "2020-02-05T08:39:31+00:00"
    assert list(channel().parse(it.raw)) == [it]


def test_account_activity_dm_and_echo() -> None:
    payload = {
        "for_user_id": BRAND["id"],
        "direct_message_events": [
            {"type": "message_create", "id": "1234858592", "created_timestamp": "1392078023603",
             "message_create": {"target": {"recipient_id": BRAND["id"]}, "sender_id": CUSTOMER["id"],
                                "message_data": {"text": "Blue Bird", "entities": {}}}},
            {"type": "message_create", "id": "1234858593", "created_timestamp": "1392078023703",
             "message_create": {"target": {"recipient_id": CUSTOMER["id"]}, "sender_id": BRAND["id"],
                                "message_data": {"text": "Merhaba"}}},
        ],
        "users": {CUSTOMER["id"]: {"id": CUSTOMER["id"], "name": "Ayşe", "screen_name": "aysylmz"}},
    }  # fmt: skip
    dm, echo = channel().parse(payload)
    assert dm.public is False and dm.thread_key == "dm:583920147-2086537338"
    assert dm.author.handle == "aysylmz" and dm.created_at.year == 2014
    assert echo.direction is Direction.OUTBOUND and echo.recipient is not None
    assert echo.recipient.handle == "aysylmz"


def test_account_activity_bad_time_is_named() -> None:
    bad = json.loads(json.dumps(AAA_TWEET))
    bad["tweet_create_events"][0]["created_at"] = "2020-02-05"
    with pytest.raises(ParseError) as err:
        list(channel().parse(bad))
    assert err.value.field == "tweet_create_events[0].created_at"


def test_recorded_default_field_pages_are_rejected_by_field(shared_data: Path) -> None:
    """Pages fetched without tweet.fields (as tweepy recorded them) lack author_id and time."""
    ex = {e["url"]: e for e in recorded_exchanges(shared_data)}
    mentions = ex["https://api.twitter.com/2/users/783214/mentions"]["body"]
    with pytest.raises(ParseError) as err:
        list(channel().parse(mentions))
    assert err.value.field == "data[0].author_id"
    assert "9 more bad items" in err.value.reason
    assert list(channel().parse(ex["https://api.twitter.com/2/dm_events"]["body"])) == []
