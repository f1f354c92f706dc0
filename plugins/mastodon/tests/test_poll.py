"""Polling the fake instance: mentions, own statuses, search, threads, rate limits, errors."""

from __future__ import annotations

import time
from typing import Any, cast

import pytest
from fake_mastodon import INVALID_TOKEN, TOO_MANY, FakeMastodon, iso, status
from mastodon_data import AYSE, BRAND, MEHMET, at, snowflake
from scrm_mastodon.channel import MastodonChannel
from scrm_mastodon.poller import Poller

from scrm.core.app import Scrm
from scrm.plugin.polling import AuthError

UNAVAILABLE = {"error": "Service Unavailable"}
MENTION = '<p><span class="h-card"><a href="https://mastodon.example/@acmedestek" class="u-url mention">@<span>acmedestek</span></a></span> {}</p>'


def mention(fake: FakeMastodon, minute: int, text: str, who: dict[str, Any] = AYSE,
            **kw: Any) -> dict[str, Any]:  # fmt: skip
    return fake.add_status(
        status(snowflake(minute), who, MENTION.format(text), created_at=at(minute),
               mentions=[BRAND], **kw)
    )  # fmt: skip


def poller(app: Scrm, sleeps: list[float], **kw: Any) -> Poller:
    return Poller(app, cast(MastodonChannel, app.channel("mastodon")), sleep=sleeps.append, **kw)


def by_id(app: Scrm) -> dict[str, Any]:
    return {i.external_id: i for i in app.interactions(limit=1000)}


def test_mentions_walk_every_page_through_the_link_header(
    app: Scrm, fake: FakeMastodon, sleeps: list[float]
) -> None:
    ids = [mention(fake, n, f"faturam yanlış {n}")["id"] for n in range(25)]
    fake.add_notification("favourite", AYSE, fake.statuses[ids[0]])  # carries no message
    fake.add_notification("follow", MEHMET, None)
    report = poller(app, sleeps).poll_once()
    assert set(by_id(app)) == set(ids)
    calls = fake.seen("/api/v1/notifications")
    assert [c.query.get("max_id") is not None for c in calls] == [False, True, True]
    assert all(c.query["types[]"] == ["mention"] and c.query["limit"] == ["10"] for c in calls)
    assert report.streams[0].pages == 3 and report.streams[0].stored == 25
    newest = max((n["id"] for n in fake.notifications if n["type"] == "mention"), key=int)
    assert app.load_state("mastodon", "mentions") == {"since_id": newest}
    stored = by_id(app)[ids[3]]
    assert stored.text == "@acmedestek faturam yanlış 3" and stored.public
    assert stored.thread_key == ids[3] and stored.in_reply_to is None
    assert stored.direction == "inbound" and stored.case_id is not None


def test_since_id_resumes_after_a_restart(
    app: Scrm, fake: FakeMastodon, sleeps: list[float]
) -> None:
    mention(fake, 1, "ilk")
    poller(app, sleeps).poll_once()
    first_cursor = app.load_state("mastodon", "mentions")
    later = mention(fake, 5, "ikinci")
    report = poller(app, sleeps).poll_once()  # a new process: the cursor comes from the database
    assert fake.seen("/api/v1/notifications")[-1].query["since_id"] == [first_cursor["since_id"]]
    assert report.streams[0].stored == 1 and later["id"] in by_id(app)


def test_a_walk_cut_by_max_pages_goes_on_next_cycle(
    app: Scrm, fake: FakeMastodon, sleeps: list[float], mastodon_settings: dict[str, Any]
) -> None:
    ids = [mention(fake, n, f"m{n}")["id"] for n in range(25)]
    channel = MastodonChannel({**mastodon_settings, "max_pages": 1, "search_queries": [],
                               "poll_own_statuses": False})  # fmt: skip
    p = Poller(app, channel, sleep=sleeps.append)
    p.poll_once()
    state = app.load_state("mastodon", "mentions")
    assert state is not None and state["max_id"] and state["newest_id"]
    p.poll_once()
    p.poll_once()
    assert set(by_id(app)) == set(ids)
    assert set(app.load_state("mastodon", "mentions") or {}) == {"since_id"}


def test_a_link_to_another_host_is_never_requested(
    app: Scrm, fake: FakeMastodon, sleeps: list[float]
) -> None:
    mention(fake, 1, "x")
    evil = '<https://evil.example/steal?max_id=1>; rel="next"'
    fake.fail("/api/v1/notifications", 200, [fake.notifications[0]], headers={"link": evil})
    poller(app, sleeps).poll_once()
    # the next page is asked of the instance itself, with the token, never of evil.example
    assert fake.seen("/api/v1/notifications")[-1].query["max_id"] == ["1"]


def test_a_brand_reply_written_in_the_app_acknowledges_the_case(
    app: Scrm, fake: FakeMastodon, sleeps: list[float]
) -> None:
    complaint = mention(fake, 1, "internetim 3 gündür yok, kimse dönmüyor")
    answer = fake.add_status(status(
        snowflake(9), BRAND, '<p><span class="h-card"><a href="https://mastodon.example/@aysylmz" class="u-url mention">@<span>aysylmz</span></a></span> Merhaba, hemen bakıyoruz.</p>',
        created_at=at(9), reply_to=complaint, mentions=[AYSE]))  # fmt: skip
    poller(app, sleeps).poll_once()
    rows = by_id(app)
    out = rows[answer["id"]]
    assert out.direction == "outbound" and out.in_reply_to == complaint["id"]
    assert out.case_id == rows[complaint["id"]].case_id is not None
    case = app.case(out.case_id)
    assert case.status == "acknowledged" and case.first_response_at is not None
    assert fake.seen(f"/api/v1/accounts/{BRAND['id']}/statuses")[0].query["exclude_reblogs"] == [
        "true"
    ]


def test_a_mention_answering_another_status_brings_its_thread(
    app: Scrm, fake: FakeMastodon, sleeps: list[float]
) -> None:
    post = fake.add_status(status(snowflake(0), BRAND, "<p>Yeni tarifemiz yayında!</p>",
                                  created_at=at(0)))  # fmt: skip
    question = fake.add_status(status(snowflake(2), MEHMET, "<p>fiyatı ne?</p>",
                                      created_at=at(2), reply_to=post))  # fmt: skip
    reply = mention(fake, 4, "benim de faturam arttı", reply_to=question)
    ours = fake.add_status(status(snowflake(6), BRAND, "<p>@aysylmz DM attık</p>",
                                  created_at=at(6), reply_to=reply, mentions=[AYSE],
                                  visibility="direct"))  # fmt: skip
    report = poller(app, sleeps).poll_once()
    assert report.streams[0].threads == 1
    assert fake.seen(f"/api/v1/statuses/{reply['id']}/context")
    rows = by_id(app)
    assert {post["id"], question["id"], reply["id"], ours["id"]} <= rows.keys()
    assert rows[question["id"]].in_reply_to == post["id"]
    assert rows[post["id"]].direction == "outbound"
    assert (
        rows[ours["id"]].public is False and rows[ours["id"]].case_id == rows[reply["id"]].case_id
    )


def test_thread_cli_stores_a_thread(cli: Any, app: Scrm, fake: FakeMastodon) -> None:
    root = mention(fake, 0, "modem ışıkları yanıp sönüyor")
    follow = fake.add_status(status(snowflake(3), AYSE, "<p>hâlâ aynı</p>", created_at=at(3),
                                    reply_to=root))  # fmt: skip
    out = cli("mastodon", "thread", follow["id"]).stdout
    assert f"thread of {follow['id']}: 1 stored" in out
    assert root["id"] in by_id(app)
    assert "not a status id" in cli("mastodon", "thread", "../../x", expect=2).stderr
    fake.fail("/api/v1/statuses/", 404, {"error": "Record not found"})
    assert "404 (Record not found)" in cli("mastodon", "thread", "123", expect=1).stderr


def test_search_finds_posts_not_addressed_to_the_brand(
    app: Scrm, fake: FakeMastodon, sleeps: list[float], mastodon_settings: dict[str, Any]
) -> None:
    posts = [fake.add_status(status(snowflake(n), MEHMET, f"<p>Acme fiberi yine kesildi #{n}</p>",
                                    created_at=at(n)))["id"] for n in range(15)]  # fmt: skip
    channel = MastodonChannel({**mastodon_settings, "poll_mentions": False})
    p = Poller(app, channel, sleep=sleeps.append)
    report = p.poll_once()
    search = fake.seen("/api/v2/search")
    assert search[0].query["q"] == ["acme"] and search[0].query["type"] == ["statuses"]
    assert search[1].query["max_id"] == [min(posts[5:], key=int)]
    assert report.streams[-1].stored == 15 and set(by_id(app)) == set(posts)
    newer = fake.add_status(status(snowflake(30), AYSE, "<p>acme müşteri hizmetleri ulaşılmaz</p>",
                                   created_at=at(30)))  # fmt: skip
    again = p.poll_once()
    assert again.streams[-1].stored == 1 and again.streams[-1].pages == 1  # stops at what it read
    assert newer["id"] in by_id(app)


def test_429_waits_for_the_reset_then_goes_on(
    app: Scrm, fake: FakeMastodon, sleeps: list[float]
) -> None:
    mention(fake, 1, "x")
    now = 1_800_000_000.0
    fake.fail("/api/v1/notifications", 429, TOO_MANY, headers={
        "x-ratelimit-remaining": "0", "x-ratelimit-reset": iso(now + 120)})  # fmt: skip
    p = poller(app, sleeps, clock=lambda: now)
    report = p.poll_once()
    assert sleeps[0] == pytest.approx(121)  # until the reset, plus a second of slack
    assert report.streams[0].stored == 1 and report.streams[0].stopped is None


def test_429_with_retry_after_seconds(app: Scrm, fake: FakeMastodon, sleeps: list[float]) -> None:
    mention(fake, 1, "x")
    fake.fail("/api/v1/notifications", 429, TOO_MANY, headers={"retry-after": "30"})
    now = 1_800_000_000.0
    poller(app, sleeps, clock=lambda: now).poll_once()
    assert sleeps[0] == pytest.approx(31)


def test_an_exhausted_window_is_waited_for_before_the_next_request(
    app: Scrm, fake: FakeMastodon, sleeps: list[float]
) -> None:
    mention(fake, 1, "x")
    fake.rate_limit = 1  # the first answer says: 0 left until the reset
    fake.window_reset = time.time() + 60
    report = poller(app, sleeps).poll_once()
    assert sleeps and 55 < sleeps[0] <= 62  # waited before asking again, not after a 429
    assert all(s.stopped is None or "429" not in s.stopped for s in report.streams)


def test_a_distant_reset_stops_only_that_stream(
    app: Scrm, fake: FakeMastodon, sleeps: list[float]
) -> None:
    mention(fake, 1, "acme bozuk")
    fake.fail("/api/v1/notifications", 429, TOO_MANY,
              headers={"x-ratelimit-reset": iso(time.time() + 5000)})  # fmt: skip
    report = poller(app, sleeps).poll_once()
    assert "rate limited" in (report.streams[0].stopped or "")
    assert report.streams[-1].stored == 1  # the search stream still ran
    assert app.load_state("mastodon", "mentions") is None  # nothing read, cursor untouched


def test_5xx_is_retried_with_backoff(app: Scrm, fake: FakeMastodon, sleeps: list[float]) -> None:
    mention(fake, 1, "x")
    fake.fail("/api/v1/notifications", 503, UNAVAILABLE, times=2)
    report = poller(app, sleeps).poll_once()
    assert sleeps == [1.0, 2.0] and report.streams[0].stored == 1


def test_401_stops_polling_with_the_credential_named(
    app: Scrm, fake: FakeMastodon, sleeps: list[float], mastodon_settings: dict[str, Any]
) -> None:
    channel = MastodonChannel({**mastodon_settings, "access_token": "revoked-token-value"})
    with pytest.raises(AuthError) as err:
        Poller(app, channel, sleep=sleeps.append).poll_once()
    assert "channels.mastodon.access_token" in str(err.value) and "401" in str(err.value)
    assert "The access token is invalid" in str(err.value)
    assert "revoked-token-value" not in str(err.value)


def test_poll_cli_end_to_end_and_bad_token_in_one_line(
    cli: Any, app: Scrm, fake: FakeMastodon
) -> None:
    mention(fake, 1, "acme kargo nerede")
    out = cli("mastodon", "poll", "--once").stdout
    assert "mentions" in out and "own" in out and "search" in out
    assert len(by_id(app)) == 1
    cli("mastodon", "poll", "--watch", "--cycles", "1")
    fake.fail("/api/v1/notifications", 401, INVALID_TOKEN)
    result = cli("mastodon", "poll", "--once", expect=1)
    assert (
        "rejected channels.mastodon.access_token (401 The access token is invalid)" in result.stderr
    )
    assert "Traceback" not in result.stderr


def test_check_cli_names_the_account(cli: Any, fake: FakeMastodon) -> None:
    out = cli("mastodon", "check").stdout
    assert f"token OK: @acmedestek (id {BRAND['id']})" in out and "rate limit" in out
    assert fake.token not in out


def test_a_bad_status_is_rejected_alone_and_the_cursor_moves_on(
    app: Scrm, fake: FakeMastodon, sleeps: list[float]
) -> None:
    good = [mention(fake, n, f"ok {n}")["id"] for n in range(3)]
    fake.statuses[good[1]]["created_at"] = "dün"
    report = poller(app, sleeps).poll_once()
    assert (report.streams[0].stored, report.streams[0].rejected) == (2, 1)
    (reject,) = [r for r in app.rejects() if r.source == "mastodon:mentions"]
    assert reject.field == "created_at" and "ISO 8601" in reject.reason
    assert good[1] in reject.payload  # the status is kept, ready for replay
    assert set(app.load_state("mastodon", "mentions") or {}) == {"since_id"}


def test_a_page_that_is_not_a_page_stops_the_stream(
    app: Scrm, fake: FakeMastodon, sleeps: list[float]
) -> None:
    fake.fail("/api/v1/notifications", 200, {"error": "surprise"})
    report = poller(app, sleeps).poll_once()
    assert "something else than a page" in (report.streams[0].stopped or "")
