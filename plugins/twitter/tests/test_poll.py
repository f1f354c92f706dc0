"""Polling against the local fake: pagination, cursors, rate limits, errors, budget."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, cast

import pytest
from conftest import BRAND, recorded_exchanges, tweet, user
from fake_x import TOO_MANY, UNAUTHORIZED, FakeX
from scrm_twitter.budget import Budget
from scrm_twitter.channel import TwitterChannel
from scrm_twitter.poller import Poller

from scrm.core.app import Scrm
from scrm.plugin.polling import AuthError, RateState

CUSTOMER = "2086537338"
UNAVAILABLE = {"title": "Service Unavailable", "detail": "Service Unavailable",
               "type": "about:blank", "status": 503}  # fmt: skip


def mentions(fake: FakeX, n: int, start: int = 1850000000000000100) -> list[str]:
    ids = [str(start + i) for i in range(n)]
    for tid in ids:
        fake.add_tweet(tweet(tid, CUSTOMER, f"@AcmeDestek sorun {tid[-3:]}"))
    return ids


def poller(app: Scrm, sleeps: list[float], **kw: Any) -> Poller:
    channel = cast(TwitterChannel, app.channel("twitter"))
    return Poller(app, channel, sleep=sleeps.append, **kw)


def external_ids(app: Scrm) -> set[str]:
    return {i.external_id for i in app.interactions(limit=1000)}


def test_pagination_walks_all_pages_with_the_right_token(
    app: Scrm, fake: FakeX, sleeps: list[float]
) -> None:
    ids = mentions(fake, 25)
    report = poller(app, sleeps).poll_once()
    assert external_ids(app) == set(ids)
    calls = fake.seen("/2/users/583920147/mentions")
    assert len(calls) == 3 and report.streams[0].pages == 3
    assert "pagination_token" in calls[1].query and "next_token" not in calls[1].query
    assert calls[0].query["tweet.fields"].split(",") == [
        "created_at", "author_id", "conversation_id", "in_reply_to_user_id",
        "referenced_tweets", "lang", "public_metrics",
    ]  # fmt: skip
    assert calls[0].query["expansions"] == "author_id"
    assert "verified" in calls[0].query["user.fields"]
    cursor = app.load_state("twitter", "mentions")
    assert cursor == {"since_id": max(ids, key=int)}
    # search pages with next_token; it finds the same tweets ('acme' is in '@AcmeDestek')
    search = fake.seen("/2/tweets/search/recent")
    assert search[0].query["query"] == "acme OR akme -is:retweet"
    assert "next_token" in search[1].query and "pagination_token" not in search[1].query
    assert report.streams[1].duplicates == 25


def test_since_id_resumes_after_restart(app: Scrm, fake: FakeX, sleeps: list[float]) -> None:
    first = mentions(fake, 3)
    poller(app, sleeps).poll_once()
    newer = mentions(fake, 2, start=1850000000000000900)
    report = poller(app, sleeps).poll_once()  # a new process: state comes from the database
    call = fake.seen("/2/users/583920147/mentions")[-1]
    assert call.query["since_id"] == max(first, key=int)
    assert report.streams[0].stored == 2 and report.streams[0].duplicates == 0
    assert external_ids(app) == set(first) | set(newer)
    poller(app, sleeps).poll_once()
    assert fake.seen("/2/users/583920147/mentions")[-1].query["since_id"] == max(newer, key=int)


def test_walk_interrupted_by_max_pages_continues_next_cycle(
    app: Scrm, fake: FakeX, sleeps: list[float], twitter_settings: dict[str, Any]
) -> None:
    ids = mentions(fake, 25)
    channel = TwitterChannel({**twitter_settings, "max_pages": 1, "search_queries": []})
    p = Poller(app, channel, sleep=sleeps.append)
    p.poll_once()
    state = app.load_state("twitter", "mentions")
    assert state is not None and state["next_token"] and state["newest_id"] == max(ids, key=int)
    p.poll_once()
    p.poll_once()
    assert external_ids(app) == set(ids)
    assert app.load_state("twitter", "mentions") == {"since_id": max(ids, key=int)}


def test_429_waits_until_reset_then_retries(app: Scrm, fake: FakeX, sleeps: list[float]) -> None:
    mentions(fake, 2)
    now = 1_700_000_000.0
    reset = now + 120
    fake.fail("/2/users/", 429, TOO_MANY, headers={"x-rate-limit-remaining": "0",
                                                   "x-rate-limit-reset": str(int(reset))})  # fmt: skip
    p = poller(app, sleeps, clock=lambda: now)
    p.client.clock = lambda: now
    report = p.poll_once()
    assert sleeps[0] == pytest.approx(121)  # until the reset, plus a second of slack
    assert report.streams[0].stored == 2 and report.streams[0].stopped is None


def test_429_with_a_distant_reset_stops_the_stream_only(
    app: Scrm, fake: FakeX, sleeps: list[float]
) -> None:
    mentions(fake, 2)
    fake.fail(
        "/2/users/", 429, TOO_MANY, headers={"x-rate-limit-reset": str(int(time.time()) + 5000)}
    )
    report = poller(app, sleeps).poll_once()
    assert "rate limited" in (report.streams[0].stopped or "")
    # the search stream is another rate-limit window: it still ran ('acme' is in the texts)
    assert report.streams[1].stored == 2 and report.streams[1].stopped is None
    assert app.load_state("twitter", "mentions") is None  # nothing read, cursor untouched


def test_5xx_is_retried_with_backoff(app: Scrm, fake: FakeX, sleeps: list[float]) -> None:
    mentions(fake, 2)
    fake.fail("/2/users/", 503, UNAVAILABLE, times=2)
    report = poller(app, sleeps).poll_once()
    assert sleeps == [1.0, 2.0]
    assert report.streams[0].stored == 2


def test_5xx_beyond_retries_stops_the_stream(app: Scrm, fake: FakeX, sleeps: list[float]) -> None:
    fake.fail("/2/users/", 503, UNAVAILABLE, times=10)
    report = poller(app, sleeps).poll_once()
    assert "X failed with 503" in (report.streams[0].stopped or "")
    assert len(fake.seen("/2/users/")) == 4  # one try and three retries


def test_401_stops_with_the_credential_named(
    app: Scrm, fake: FakeX, sleeps: list[float], twitter_settings: dict[str, Any]
) -> None:
    channel = TwitterChannel({**twitter_settings, "bearer_token": "revoked-token-value"})
    with pytest.raises(AuthError) as err:
        Poller(app, channel, sleep=sleeps.append).poll_once()
    assert "channels.twitter.bearer_token" in str(err.value) and "401" in str(err.value)
    assert "revoked-token-value" not in str(err.value)
    assert fake.requests[-1].headers["authorization"] == "Bearer revoked-token-value"


def test_budget_caps_requests_and_persists(
    app: Scrm, fake: FakeX, sleeps: list[float], twitter_settings: dict[str, Any]
) -> None:
    mentions(fake, 25)
    settings = {**twitter_settings, "endpoint_budgets": {"mentions": 2}, "search_queries": []}
    channel = TwitterChannel(settings)
    report = Poller(app, channel, sleep=sleeps.append).poll_once()
    assert len(fake.seen("/2/users/")) == 2
    assert "daily budget of mentions spent" in (report.streams[0].stopped or "")
    assert len(external_ids(app)) == 20  # the two pages read are kept, and the cursor with them
    again = Poller(app, channel, sleep=sleeps.append)
    again.poll_once()
    assert len(fake.seen("/2/users/")) == 2  # the count survived the restart
    assert again.next_interval() > again.budget.seconds_to_reset()  # wait for midnight


def test_interval_stretches_to_make_the_budget_last(
    app: Scrm, twitter_settings: dict[str, Any]
) -> None:
    noon = 1_700_049_600.0  # 2023-11-15 12:00 UTC: 12 h left today
    channel = TwitterChannel({**twitter_settings, "daily_request_budget": 48, "poll_interval": 60})
    budget = Budget(app, channel.settings, clock=lambda: noon)
    # two requests per cycle, 48 left: 24 cycles in 43,200 s -> one every 1,800 s
    assert budget.interval(["mentions", "search"]) == pytest.approx(1800)
    roomy = TwitterChannel({**twitter_settings, "daily_request_budget": 100_000})
    assert Budget(app, roomy.settings, clock=lambda: noon).interval(["mentions"]) == 300


def test_reobserved_tweet_updates_engagement(app: Scrm, fake: FakeX, sleeps: list[float]) -> None:
    t = tweet("1850000000000000300", CUSTOMER, "acme faturam yanlış", likes=1)
    fake.add_tweet(t)
    poller(app, sleeps).poll_once()
    fake.tweets[t["id"]]["public_metrics"]["like_count"] = 950
    fake.tweets[t["id"]]["public_metrics"]["retweet_count"] = 400
    again = poller(app, sleeps)
    for stream in again.streams():  # forget the cursors: read the tweet again
        app.save_state("twitter", stream.key, {})
    report = again.poll_once()
    assert sum(s.updated for s in report.streams) == 1
    (stored,) = app.interactions(limit=10)
    assert stored.engagement is not None and stored.engagement["likes"] == 950
    assert stored.engagement["shares"] == 400
    assert len(app.interactions(limit=10)) == 1


def test_poll_once_cli_end_to_end(cli: Any, app: Scrm, fake: FakeX) -> None:
    ids = mentions(fake, 12)
    fake.add_user(user("1402983311", "mehmet_k"))
    fake.add_tweet(tweet("1850000000000000500", "1402983311", "akme fiber kesildi yine"))
    out = cli("twitter", "poll", "--once").stdout
    assert "mentions" in out and "search" in out
    assert external_ids(app) == {*ids, "1850000000000000500"}
    cli("twitter", "poll", "--watch", "--cycles", "1")


def test_poll_cli_reports_bad_credentials_in_one_line(cli: Any, fake: FakeX) -> None:
    fake.fail("/2/users/", 401, UNAUTHORIZED)
    result = cli("twitter", "poll", "--once", expect=1)
    assert "X rejected channels.twitter.bearer_token (401 Unauthorized)" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_cli_verifies_credentials_and_shows_budget(
    cli: Any, app: Scrm, fake: FakeX, twitter_settings: dict[str, Any]
) -> None:
    mentions(fake, 1)
    cli("twitter", "poll", "--once")
    out = cli("twitter", "check").stdout
    assert "credentials OK: @AcmeDestek (id 583920147)" in out
    assert "GET /2/users/me" in out and "GET /2/users/:id/mentions" in out
    assert "budget today" in out
    assert all(
        v not in out for v in twitter_settings.values() if isinstance(v, str) and "fake" in v
    )
    assert fake.seen("/2/users/me")[0].headers["authorization"].startswith("OAuth ")


def test_fake_matches_the_recorded_exchanges(shared_data: Path, fake: FakeX) -> None:
    """The fake answers the recorded requests with the recorded shapes and headers."""
    import httpx

    ex = {e["url"]: e for e in recorded_exchanges(shared_data)}
    rec = ex["https://api.twitter.com/2/users/783214/mentions"]
    fake.add_user({"id": "783214", "name": "Twitter", "username": "Twitter"})
    for t in rec["body"]["data"]:
        fake.add_tweet({**t, "author_id": "1", "created_at": "2022-10-07T22:42:12.000Z"})
    fake.add_tweet({"id": "1578516000000000000", "text": "@Twitter older", "author_id": "1"})
    auth = {"authorization": f"Bearer {fake.bearer}"}
    r = httpx.get(f"{fake.url}/2/users/783214/mentions", headers=auth)
    body = r.json()
    assert body["data"] == rec["body"]["data"]
    assert body["meta"].keys() == rec["body"]["meta"].keys()
    assert {k: body["meta"][k] for k in ("result_count", "newest_id", "oldest_id")} == {
        k: rec["body"]["meta"][k] for k in ("result_count", "newest_id", "oldest_id")
    }
    assert rec["headers"].keys() <= r.headers.keys()
    empty = httpx.get(f"{fake.url}/2/dm_events", headers=auth)
    assert empty.status_code == 403  # app-only auth cannot read DMs
    user_auth = {"authorization": f"Bearer {fake.user_token}"}
    empty = httpx.get(f"{fake.url}/2/dm_events", headers=user_auth)
    assert empty.json() == ex["https://api.twitter.com/2/dm_events"]["body"]
    posted = httpx.post(f"{fake.url}/2/tweets", json={"text": "Test Tweet"}, headers=user_auth)
    recorded_post = ex["https://api.twitter.com/2/tweets"]
    assert posted.status_code == recorded_post["status"] == 201
    assert posted.json()["data"].keys() >= recorded_post["body"]["data"].keys()
    assert posted.headers["location"].startswith("https://api.twitter.com/2/tweets/")
    assert RateState.from_headers(posted.headers) is not None
    assert BRAND["id"] in fake.users


def test_a_bad_tweet_is_rejected_alone_and_the_cursor_moves_on(
    app: Scrm, fake: FakeX, sleeps: list[float]
) -> None:
    ids = mentions(fake, 3)
    fake.tweets[ids[1]]["created_at"] = "not a time"
    report = poller(app, sleeps).poll_once()
    assert (report.streams[0].stored, report.streams[0].rejected) == (2, 1)
    rejects = [r for r in app.rejects() if r.source == "twitter:mentions"]
    assert len(rejects) == 1 and rejects[0].field == "data[0].created_at"
    assert ids[1] in rejects[0].payload  # the one-tweet page is kept, ready for replay
    assert app.load_state("twitter", "mentions") == {"since_id": max(ids, key=int)}
