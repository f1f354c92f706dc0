"""Replies through the fake Graph API: comments, Messenger, private replies, errors, usage."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from scrm_facebook.channel import FacebookChannel
from scrm_facebook.graph import usage_percent

from scrm.core.channel import PermanentSendError, TransientSendError
from scrm.core.schemas import OutboundMessage

from .conftest import TOKEN, FakeGraph, Reply, graph_error

NOW = datetime(2024, 10, 20, 18, 0, tzinfo=UTC)


def msg(**kw: Any) -> OutboundMessage:
    base: dict[str, Any] = {"channel": "facebook", "text": "Merhaba!", "idempotency_key": "k1"}
    return OutboundMessage(**{**base, **kw})


@pytest.fixture
def ch(channel: FacebookChannel) -> FacebookChannel:
    channel.now = lambda: NOW
    return channel


def test_reply_to_a_comment(ch: FacebookChannel, graph: FakeGraph) -> None:
    graph.on("POST", "998877_1234567/comments", Reply({"id": "998877_1234999"}))
    result = ch.send(msg(public=True, in_reply_to="998877_1234567", thread_key="1_998877"))
    assert result.external_id == "998877_1234999"
    [req] = graph.seen
    assert req.form() == {"message": "Merhaba!"}
    assert req.headers["authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in req.path and "access_token" not in req.query


def test_a_reply_to_an_edit_record_goes_to_the_comment(ch: FacebookChannel, graph) -> None:
    graph.on("POST", "998877_1/comments", Reply({"id": "998877_2"}))
    ch.send(msg(public=True, in_reply_to="998877_1#edit-abc"))
    assert graph.seen[0].path == "998877_1/comments"


def test_a_messenger_reply_inside_the_window(ch: FacebookChannel, graph: FakeGraph) -> None:
    graph.on(
        "POST",
        "me/messages",
        Reply({"recipient_id": "6890213847561920", "message_id": "m_AG5Hz2U"}),
    )
    last = (NOW - timedelta(hours=23)).isoformat()
    result = ch.send(
        msg(
            public=False,
            thread_key="messenger:6890213847561920",
            metadata={"last_inbound_at": last},
        )
    )
    assert result.external_id == "m_AG5Hz2U"
    assert graph.seen[0].json() == {
        "recipient": {"id": "6890213847561920"},
        "message": {"text": "Merhaba!"},
        "messaging_type": "RESPONSE",
    }


@pytest.mark.parametrize(
    ("metadata", "match"),
    [
        ({"last_inbound_at": (NOW - timedelta(hours=25)).isoformat()}, "24-hour window"),
        ({"last_inbound_at": NOW - timedelta(days=3)}, "24-hour window"),
        ({}, "last_inbound_at"),
        ({"last_inbound_at": "yesterday"}, "ISO 8601"),
    ],
)
def test_messenger_outside_the_window_is_refused_without_a_call(
    ch: FacebookChannel, graph: FakeGraph, metadata: dict[str, Any], match: str
) -> None:
    with pytest.raises(PermanentSendError, match=match):
        ch.send(msg(public=False, to="6890213847561920", metadata=metadata))
    assert graph.seen == []


def test_a_message_tag_skips_the_window(ch: FacebookChannel, graph: FakeGraph) -> None:
    graph.on("POST", "me/messages", Reply({"recipient_id": "1", "message_id": "m_2"}))
    ch.send(msg(public=False, to="1", metadata={"tag": "HUMAN_AGENT"}))
    body = graph.seen[0].json()
    assert body["messaging_type"] == "MESSAGE_TAG" and body["tag"] == "HUMAN_AGENT"


def test_a_private_reply_to_a_comment(ch: FacebookChannel, graph: FakeGraph) -> None:
    graph.on("POST", "me/messages", Reply({"recipient_id": "3088", "message_id": "m_3"}))
    result = ch.send(msg(public=False, in_reply_to="998877_1234567"))
    assert result.external_id == "m_3"
    assert graph.seen[0].json() == {
        "recipient": {"comment_id": "998877_1234567"},
        "message": {"text": "Merhaba!"},
    }


def test_unaddressable_messages_are_refused(ch: FacebookChannel) -> None:
    with pytest.raises(PermanentSendError, match="comment or post id"):
        ch.send(msg(public=True, in_reply_to="m_abc"))
    with pytest.raises(PermanentSendError, match="page-scoped id"):
        ch.send(msg(public=False, metadata={"last_inbound_at": NOW.isoformat()}))


def test_no_token_is_a_clear_permanent_error(graph_url: str) -> None:
    ch = FacebookChannel({"page_id": "1", "graph_url": graph_url})
    with pytest.raises(PermanentSendError, match="page_access_token is not set"):
        ch.send(msg(public=True, in_reply_to="1_2"))


# -- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "subcode", "message"),
    [
        (400, 4, None, "(#4) Application request limit reached"),
        (403, 17, 2446079, "(#17) User request limit reached"),
        (400, 32, None, "(#32) Page request limit reached"),
        (400, 613, None, "(#613) Calls to this api have exceeded the rate limit."),
        (400, 80001, None, "There have been too many calls to this Page account."),
        (500, 1, None, "An unknown error occurred"),
        (503, 2, None, "Service temporarily unavailable"),
    ],
)
def test_throttling_and_temporary_errors_are_transient(
    ch: FacebookChannel, graph: FakeGraph, status: int, code: int, subcode, message: str
) -> None:
    graph.on("POST", "1_2/comments", Reply(graph_error(code, message, subcode=subcode), status))
    with pytest.raises(TransientSendError) as err:
        ch.send(msg(public=True, in_reply_to="1_2"))
    assert f"code {code}" in str(err.value)
    assert err.value.retry_after and err.value.retry_after > 0


def test_a_bare_server_error_is_transient(ch: FacebookChannel, graph: FakeGraph) -> None:
    graph.on("POST", "1_2/comments", Reply("oops", 502))
    with pytest.raises(TransientSendError, match="HTTP 502"):
        ch.send(msg(public=True, in_reply_to="1_2"))


def test_a_connection_error_is_transient(graph_url: str) -> None:
    ch = FacebookChannel(
        {"page_id": "1", "graph_url": "http://127.0.0.1:9/v21.0", "page_access_token": "t"}
    )
    with pytest.raises(TransientSendError, match="cannot reach"):
        ch.send(msg(public=True, in_reply_to="1_2"))


@pytest.mark.parametrize(
    ("code", "subcode", "message", "match"),
    [
        (190, 460, "Error validating access token: The session has been invalidated.", "expired"),
        (10, 2018278, "(#10) This message is sent outside of allowed window.", "permission"),
        (200, None, "(#200) Requires pages_messaging permission", "permission"),
        (230, None, "(#230) Requires pages_messaging_subscriptions permission", "permission"),
        (100, 33, "Unsupported post request. Object with ID '1_2' does not exist", "parameter"),
        (368, 1390008, "You can't do this right now", "policy"),
    ],
)
def test_token_permission_and_parameter_errors_are_permanent(
    ch: FacebookChannel, graph: FakeGraph, code: int, subcode, message: str, match: str
) -> None:
    graph.on("POST", "1_2/comments", Reply(graph_error(code, message, subcode=subcode), 400))
    with pytest.raises(PermanentSendError, match=match) as err:
        ch.send(msg(public=True, in_reply_to="1_2"))
    assert not isinstance(err.value, TransientSendError)
    assert f"code {code}" in str(err.value)
    assert TOKEN not in str(err.value)


def test_an_expired_token_from_the_fake_never_shows_the_token(
    ch: FacebookChannel, graph: FakeGraph
) -> None:
    graph.token = "another-token"  # the configured one has expired
    graph.on("POST", "1_2/comments", Reply({"id": "1_3"}))
    with pytest.raises(PermanentSendError, match="invalid or has expired") as err:
        ch.send(msg(public=True, in_reply_to="1_2"))
    assert "subcode 463" in str(err.value) and TOKEN not in str(err.value)


def test_a_token_echoed_in_an_error_message_is_redacted(ch: FacebookChannel, graph) -> None:
    graph.on("POST", "1_2/comments", Reply(graph_error(100, f"bad token {TOKEN}"), 400))
    with pytest.raises(PermanentSendError) as err:
        ch.send(msg(public=True, in_reply_to="1_2"))
    assert TOKEN not in str(err.value) and "[token]" in str(err.value)


# -- usage headers ----------------------------------------------------------------------------


def test_usage_headers_are_read() -> None:
    buc = {"112233445566778": [{"type": "pages", "call_count": 95, "total_cputime": 25,
                                "total_time": 25, "estimated_time_to_regain_access": 3}]}  # fmt: skip
    top, regain = usage_percent(
        {
            "x-app-usage": json.dumps({"call_count": 28, "total_time": 25, "total_cputime": 25}),
            "x-business-use-case-usage": json.dumps(buc),
        }
    )
    assert (top, regain) == (95.0, 180.0)
    assert usage_percent({"x-app-usage": "not json"}) == (0.0, 0.0)


def test_high_usage_slows_the_next_call(ch: FacebookChannel, graph: FakeGraph, sleeps) -> None:
    calm = {"X-App-Usage": json.dumps({"call_count": 28, "total_time": 25, "total_cputime": 25})}
    hot = {
        "X-Business-Use-Case-Usage": json.dumps(
            {
                "112233445566778": [
                    {
                        "type": "pages",
                        "call_count": 92,
                        "total_cputime": 40,
                        "total_time": 35,
                        "estimated_time_to_regain_access": 0,
                    }
                ]
            }
        )
    }
    graph.on(
        "POST",
        "1_2/comments",
        Reply({"id": "a"}, headers=calm),
        Reply({"id": "b"}, headers=hot),
        Reply({"id": "c"}, headers=calm),
    )
    for _ in range(3):
        ch.send(msg(public=True, in_reply_to="1_2"))
    assert len(sleeps) == 1 and sleeps[0] > 0  # only after the hot answer, before call 3
    ch.send(msg(public=True, in_reply_to="1_2"))
    assert len(sleeps) == 1  # usage went down again


def test_regain_time_decides_the_pause(ch: FacebookChannel, graph: FakeGraph, sleeps) -> None:
    hot = {"X-App-Usage": json.dumps({"call_count": 100, "total_time": 10, "total_cputime": 10})}
    buc = {"1": [{"type": "pages", "call_count": 100, "estimated_time_to_regain_access": 5}]}
    hot["X-Business-Use-Case-Usage"] = json.dumps(buc)
    graph.on("POST", "1_2/comments", Reply({"id": "a"}, headers=hot))
    ch.send(msg(public=True, in_reply_to="1_2"))
    ch.send(msg(public=True, in_reply_to="1_2"))
    assert sleeps == [300.0]
