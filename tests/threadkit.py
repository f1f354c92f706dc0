"""Real customer-care threads as X API v2 pages, and what a correct ingest of them must give.

The threads are IBM's public Twitter customer-care conversations (``../shared/data/
ibm_twitter_customer_care``, Apache-2.0, third-party: read there, never copied here).  Each
conversation is a list of turns by a customer and a brand's support account, with the tweet
ids and times X gave them; the brand's last answer is in ``agentURL``.  The corpus carries no
reply links, so each turn is taken to answer the turn before it, as the conversations were
collected; the brand's support accounts are the brand's own X accounts.

:func:`pages` cuts the tweets into API pages in a chosen order (oldest first, newest first as
X returns them, shuffled), and :func:`expected` computes from the threads themselves what the
cases must show: one case per thread with a customer message, opened at its first customer
message, first response at the brand's first answer after it.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

IBM = Path(__file__).resolve().parents[2] / "shared" / "data" / "ibm_twitter_customer_care"
TWITTER_EPOCH_MS = 1288834974657


def snowflake_time(tweet_id: str) -> datetime:
    """Return when X created the tweet with this id (the time is in the id's top bits)."""
    ms = (int(tweet_id) >> 22) + TWITTER_EPOCH_MS
    return datetime.fromtimestamp(ms / 1000, tz=UTC).replace(microsecond=0)


@dataclass(frozen=True)
class Turn:
    tweet_id: str
    user: str
    brand: bool
    at: datetime
    text: str


@dataclass(frozen=True)
class Thread:
    session: str
    company: str
    turns: tuple[Turn, ...]

    @property
    def customer(self) -> str:
        """The person the brand answers: named first in its first answer, else the first one.

        A conversation can start with somebody else's post (a celebrity's, the brand's own
        marketing account's) under which the customer wrote.
        """
        people = {t.user.lower(): t.user for t in self.turns if not t.brand}
        for t in self.turns:
            if t.brand:
                for word in t.text.split():
                    if word.startswith("@") and word[1:].strip(".,:!?").lower() in people:
                        return people[word[1:].strip(".,:!?").lower()]
                break
        return next(t.user for t in self.turns if not t.brand)


def _user_id(handle: str) -> str:
    # A stable numeric id per handle, as X would give (X ids are decimal strings).
    return str(int.from_bytes(handle.lower().encode()[:7].ljust(7, b"\0"), "big") + 10**15)


def load(limit: int | None = None, *, min_turns: int = 2) -> list[Thread]:
    """Return the corpus's conversations that have a customer turn and a brand answer."""
    if not IBM.is_dir():
        pytest.skip(
            f"the real threads are not here: {IBM} (shared/ beside the checkout)",
            allow_module_level=True,
        )
    threads = []
    for name in ("dev.json", "test.json"):
        for conv in json.loads((IBM / name).read_text(encoding="utf-8")):
            turns = []
            for msg in conv["dialogContent"]:
                brand = "agent" in msg
                at = datetime.fromisoformat(msg["datetime"].replace("Z", "+00:00"))
                # "client1" is another person who joined the conversation.
                user = msg.get("agent") or msg.get("client") or msg["client1"]
                turns.append(Turn(msg["tweet_ID"], user, brand, at, msg["message"]))
            final = conv.get("agentURL") or {}
            if final.get("tweet_ID") and final["tweet_ID"] not in {t.tweet_id for t in turns}:
                turns.append(
                    Turn(
                        final["tweet_ID"],
                        conv["dialogHeader"]["company"],
                        True,
                        snowflake_time(final["tweet_ID"]),
                        final["url_utterance"],
                    )
                )
            turns.sort(key=lambda t: (t.at, int(t.tweet_id)))
            if (
                len(turns) < min_turns
                or all(t.brand for t in turns)
                or not any(t.brand for t in turns)
            ):
                continue
            threads.append(
                Thread(
                    conv["dialogHeader"]["sessionID"], conv["dialogHeader"]["company"], tuple(turns)
                )
            )
    threads.sort(key=lambda th: th.session)
    return threads[:limit] if limit else threads


def brand_ids(threads: list[Thread]) -> list[str]:
    return sorted({_user_id(t.user) for th in threads for t in th.turns if t.brand})


def tweets(thread: Thread) -> list[dict[str, Any]]:
    """Return the thread's tweets as X API v2 tweet objects (with their users)."""
    out = []
    root = thread.turns[0].tweet_id
    for n, t in enumerate(thread.turns):
        tw: dict[str, Any] = {
            "id": t.tweet_id,
            "text": t.text,
            "author_id": _user_id(t.user),
            "conversation_id": root,
            "created_at": t.at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "edit_history_tweet_ids": [t.tweet_id],
        }
        if n:
            prev = thread.turns[n - 1]
            tw["in_reply_to_user_id"] = _user_id(prev.user)
            tw["referenced_tweets"] = [{"type": "replied_to", "id": prev.tweet_id}]
        out.append(tw)
    return out


def _user(handle: str) -> dict[str, Any]:
    return {"id": _user_id(handle), "username": handle, "name": handle}


def pages(
    threads: list[Thread], *, order: str = "oldest", page_size: int = 100, seed: int = 0
) -> Iterator[dict[str, Any]]:
    """Yield X API v2 pages of every thread's tweets in the given order.

    ``oldest``: oldest first; ``newest``: newest first, as the API and archives return them;
    ``shuffled``: a random order (``seed``).
    """
    handles = {_user_id(t.user): t.user for th in threads for t in th.turns}
    all_tweets = [tw for th in threads for tw in tweets(th)]
    all_tweets.sort(key=lambda tw: (tw["created_at"], int(tw["id"])))
    if order == "newest":
        all_tweets.reverse()
    elif order == "shuffled":
        random.Random(seed).shuffle(all_tweets)
    for start in range(0, len(all_tweets), page_size):
        page = all_tweets[start : start + page_size]
        users = sorted(
            {tw["author_id"] for tw in page}
            | {tw.get("in_reply_to_user_id") for tw in page if tw.get("in_reply_to_user_id")}
        )
        yield {
            "data": page,
            "includes": {"users": [_user(handles[u]) for u in users]},
            "meta": {"result_count": len(page)},
        }


@dataclass(frozen=True)
class Expected:
    opened_at: datetime
    first_response_at: datetime | None
    customer_tweets: frozenset[str]
    brand_tweets: frozenset[str]


def expected(thread: Thread) -> Expected:
    """What the thread's case must show, computed from the thread itself."""
    mine = [t for t in thread.turns if t.user == thread.customer]
    first = mine[0]
    answer = next((t for t in thread.turns if t.brand and t.at >= first.at), None)
    return Expected(
        opened_at=first.at,
        first_response_at=answer.at if answer else None,
        customer_tweets=frozenset(t.tweet_id for t in mine),
        brand_tweets=frozenset(t.tweet_id for t in thread.turns if t.brand),
    )
