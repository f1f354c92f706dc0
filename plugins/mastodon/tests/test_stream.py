"""The streaming API against the fake: events stored as they come, reconnections, bounds."""

from __future__ import annotations

from typing import Any, cast

import pytest
from fake_mastodon import FakeMastodon, notification, sse, status
from mastodon_data import AYSE, BRAND, MEHMET, at, snowflake
from scrm_mastodon.channel import MastodonChannel
from scrm_mastodon.stream import EventTooLong, Streamer, sse_events

from scrm.core.app import Scrm
from scrm.plugin.polling import AuthError, ServerError

HELLO = '<p><span class="h-card"><a href="https://mastodon.example/@acmedestek" class="u-url mention">@<span>acmedestek</span></a></span> {}</p>'


def streamer(app: Scrm, sleeps: list[float]) -> Streamer:
    return Streamer(app, cast(MastodonChannel, app.channel("mastodon")), sleep=sleeps.append)


def test_stream_cli_stores_mentions_and_the_brand_s_own_statuses(
    cli: Any, app: Scrm, fake: FakeMastodon
) -> None:
    mention = status(snowflake(1), AYSE, HELLO.format("modemim yandı"), created_at=at(1),
                     mentions=[BRAND])  # fmt: skip
    ours = status(snowflake(4), BRAND, "<p>@aysylmz hemen bakıyoruz</p>", created_at=at(4),
                  reply_to=mention, mentions=[AYSE])  # fmt: skip
    followed = status(snowflake(5), MEHMET, "<p>bugün hava güzel</p>", created_at=at(5))
    fake.streams.append(
        sse(("notification", notification(mention)), ("delete", snowflake(0)),
            ("notification", notification(mention, "favourite")), ("update", followed),
            ("update", ours))
    )  # fmt: skip
    out = cli("mastodon", "stream", "--max-events", "4").stdout
    assert "4 events: 2 stored" in out
    rows = {i.external_id: i for i in app.interactions(limit=100)}
    assert rows.keys() == {mention["id"], ours["id"]}  # not the followed account's status
    assert rows[ours["id"]].case_id == rows[mention["id"]].case_id is not None
    assert app.case(rows[mention["id"]].case_id).status == "acknowledged"  # type: ignore[arg-type]
    (seen,) = fake.seen("/api/v1/streaming/user")
    assert seen.headers["authorization"] == f"Bearer {fake.token}"


def test_a_dropped_stream_is_opened_again_with_a_growing_pause(
    app: Scrm, fake: FakeMastodon, sleeps: list[float]
) -> None:
    first = status(snowflake(1), AYSE, HELLO.format("a"), created_at=at(1), mentions=[BRAND])
    second = status(snowflake(2), AYSE, HELLO.format("b"), created_at=at(2), mentions=[BRAND])
    fake.streams += [sse(("notification", notification(first))), b":)\n",
                     sse(("notification", notification(second)))]  # fmt: skip
    report = streamer(app, sleeps).run(max_events=2)
    assert (report.events, report.stored, report.reconnects) == (2, 2, 2)
    assert sleeps == [1.0, 2.0]  # the first connection delivered, then two failed in a row


def test_a_stream_that_keeps_failing_gives_up(
    app: Scrm, fake: FakeMastodon, sleeps: list[float]
) -> None:
    fake.fail("/api/v1/streaming/user", 502, {"error": "Bad Gateway"}, times=4)
    with pytest.raises(ServerError, match="answered 502; gave up after 4 attempts"):
        streamer(app, sleeps).run()
    assert sleeps == [1.0, 2.0, 4.0]
    fake.fail("/api/v1/streaming/user", 401, {"error": "The access token is invalid"})
    with pytest.raises(AuthError, match=r"rejected channels\.mastodon\.access_token"):
        streamer(app, sleeps).run()


def test_hostile_events_are_bounded_and_kept(
    app: Scrm, fake: FakeMastodon, sleeps: list[float]
) -> None:
    fake.streams.append(sse(("notification", "{not json"), ("update", "[1, 2")))
    report = streamer(app, sleeps).run(max_events=2)
    assert report.rejected == 2
    assert {r.source for r in app.rejects()} == {"mastodon:stream:notification",
                                                 "mastodon:stream:update"}  # fmt: skip
    chunks = iter([b"event: update\ndata: ", b"x" * 600, b"y" * 600])
    with pytest.raises(EventTooLong, match="over 1000 bytes"):
        list(sse_events(chunks, limit=1000))
    lines = [b': hi\r\nevent: notification\r\ndata: {"a":\r\ndata:  1}\r\n\r\n', b"data: x\n\n"]
    assert list(sse_events(iter(lines))) == [("notification", '{"a":\n 1}'), ("message", "x")]
