"""Fixtures: a local fake X API on 127.0.0.1 and an app whose twitter channel points at it."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from scrm.core.config import Config

sys.path.insert(0, str(Path(__file__).parent))  # tests use fake_x; pytest runs in importlib mode

from fake_x import FakeX

REPO = Path(__file__).resolve().parents[3]
SHARED = REPO.parent / "shared" / "data"

BRAND = {"id": "583920147", "username": "AcmeDestek", "name": "Acme Destek", "verified": True,
         "created_at": "2012-03-14T08:00:00.000Z",
         "public_metrics": {"followers_count": 184530, "following_count": 120, "tweet_count": 90211,
                            "listed_count": 410}}  # fmt: skip
SECRETS = {
    "bearer_token": "AAAAAAAAAAAAAAAAAAAAAFakeBearerTokenForTests0000",
    "user_access_token": "fake-oauth2-user-token-0001",
    "consumer_key": "fake-consumer-key",
    "consumer_secret": "z3ZX4v7mAAUGykl3EcmkqbartmuW8VFOOzCloLx9Q45P0hLrFu",
    "access_token": "583920147-fakeaccesstoken",
    "access_token_secret": "fake-access-token-secret",
}


def snowflake_time(tweet_id: str) -> str:
    """Return the creation time encoded in an X snowflake id, in the API's format."""
    ms = (int(tweet_id) >> 22) + 1288834974657
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def user(uid: str, username: str, followers: int = 100, **extra: Any) -> dict[str, Any]:
    return {"id": uid, "username": username, "name": username.title(), "verified": False,
            "created_at": "2015-05-05T10:00:00.000Z",
            "public_metrics": {"followers_count": followers, "following_count": 10,
                               "tweet_count": 500, "listed_count": 0}, **extra}  # fmt: skip


def tweet(tid: str, author_id: str, text: str, *, reply_to: dict[str, Any] | None = None,
          likes: int = 0, lang: str = "tr") -> dict[str, Any]:  # fmt: skip
    t: dict[str, Any] = {
        "id": tid, "text": text, "author_id": author_id, "created_at": snowflake_time(tid),
        "conversation_id": reply_to["conversation_id"] if reply_to else tid, "lang": lang,
        "public_metrics": {"retweet_count": 0, "reply_count": 0, "like_count": likes,
                           "quote_count": 0, "bookmark_count": 0, "impression_count": 10 * likes},
    }  # fmt: skip
    if reply_to:
        t["in_reply_to_user_id"] = reply_to["author_id"]
        t["referenced_tweets"] = [{"type": "replied_to", "id": reply_to["id"]}]
    return t


@pytest.fixture
def fake() -> Iterator[FakeX]:
    oauth = (SECRETS["consumer_key"], SECRETS["consumer_secret"], SECRETS["access_token"],
             SECRETS["access_token_secret"])  # fmt: skip
    fx = FakeX(brand=dict(BRAND), bearer=SECRETS["bearer_token"],
               user_token=SECRETS["user_access_token"], oauth=oauth)  # fmt: skip
    fx.add_user(user("2086537338", "aysylmz", 312))
    fx.add_user(user("1402983311", "mehmet_k", 48))
    yield from fx.start()


@pytest.fixture
def twitter_settings(fake: FakeX) -> dict[str, Any]:
    """Channel settings pointing at the fake: mentions of the brand, one search, app bearer."""
    return {
        "base_url": fake.url,
        "bearer_token": SECRETS["bearer_token"],
        "consumer_key": SECRETS["consumer_key"],
        "consumer_secret": SECRETS["consumer_secret"],
        "access_token": SECRETS["access_token"],
        "access_token_secret": SECRETS["access_token_secret"],
        "brand_user_id": BRAND["id"],
        "search_queries": ["acme OR akme -is:retweet"],
        "max_results": 10,
        "backoff": 1.0,
    }


@pytest.fixture
def scrm_config(scrm_database_url: str, twitter_settings: dict[str, Any]) -> Config:
    return Config(database_url=scrm_database_url, channels={"twitter": twitter_settings})


@pytest.fixture
def sleeps() -> list[float]:
    """Seconds the code under test asked to sleep (it never really sleeps)."""
    return []


@pytest.fixture
def shared_data() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"the recorded exchanges are not here: {SHARED} is absent")
    return SHARED


def recorded_exchanges(shared: Path) -> list[dict[str, Any]]:
    """Parse tweepy_cassettes/DECODED_bodies.txt into method, url, status, headers and body."""
    import ast
    import json

    text = (shared / "tweepy_cassettes" / "DECODED_bodies.txt").read_text(encoding="utf-8")
    found = []
    for block in re.split(r"^>> ", text, flags=re.M)[1:]:
        request, _, rest = block.partition("\n")
        status_line, _, body = rest.partition("\n")
        method, url = request.split(" ")[:2]
        status, headers = re.match(r"<< (\{.*?\}) (\{.*\})$", status_line).groups()  # type: ignore[union-attr]
        body = body.split("\n#####")[0].strip()
        found.append({
            "method": method, "url": url, "status": ast.literal_eval(status)["code"],
            "headers": {k: v[0] for k, v in ast.literal_eval(headers).items()},
            "body": json.loads(body) if body else None,
        })  # fmt: skip
    return found
