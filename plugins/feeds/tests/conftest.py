"""Fixtures: a local feed server on 127.0.0.1 serving real-world-shaped feeds, and an app
whose feeds channel reads them, with a clock the tests move."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scrm.core.app import Scrm
from scrm.core.config import Config

# Appended, not inserted: another plugin's tests import their own conftest by name first.
sys.path.append(str(Path(__file__).parent))  # tests use feed_server and feeds_kit

from feed_server import FeedServer
from feeds_kit import DATA, FEEDS, TERMS, Clock


@pytest.fixture
def server() -> Iterator[FeedServer]:
    fs = FeedServer()
    for srv in fs.start():
        for path, (name, ctype) in FEEDS.items():
            fs.put(path, (DATA / name).read_bytes(), content_type=ctype)
        yield srv


@pytest.fixture
def sources(server: FeedServer) -> list[dict[str, Any]]:
    names = ["blog", "blogger", "youtube", "forum", "haber"]
    return [{"name": n, "url": server.url + p} for n, p in zip(names, FEEDS, strict=True)]


@pytest.fixture
def feeds_settings(sources: list[dict[str, Any]]) -> dict[str, Any]:
    return {"terms": TERMS, "sources": sources, "timeout": 5.0}


@pytest.fixture
def scrm_config(scrm_database_url: str, feeds_settings: dict[str, Any]) -> Config:
    return Config(database_url=scrm_database_url, channels={"feeds": feeds_settings})


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def poller(app: Scrm, clock: Clock) -> Iterator[Any]:
    from scrm_feeds.poller import Poller

    p = Poller(app, app.channel("feeds"), clock=clock)
    yield p
    p.close()
