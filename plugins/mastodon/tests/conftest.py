"""Fixtures: a local fake Mastodon instance on 127.0.0.1 and an app whose channel points at it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scrm.core.config import Config

sys.path.insert(0, str(Path(__file__).parent))  # tests use fake_mastodon; importlib mode

from fake_mastodon import FakeMastodon, account

TOKEN = "fake-mastodon-user-token-0001"
BRAND = account("109348223114372104", "acmedestek", followers=18453, display_name="Acme Destek")
AYSE = account("109351037752364722", "aysylmz", followers=312, display_name="Ayşe Yılmaz")
MEHMET = account("110203117702116005", "mehmet_k", domain="fosstodon.org", followers=48)


@pytest.fixture
def fake() -> Iterator[FakeMastodon]:
    fm = FakeMastodon(brand=dict(BRAND), token=TOKEN)
    fm.add_account(dict(AYSE))
    fm.add_account(dict(MEHMET))
    yield from fm.start()


@pytest.fixture
def mastodon_settings(fake: FakeMastodon) -> dict[str, Any]:
    """Channel settings pointing at the fake: mentions, own statuses, one search."""
    return {
        "instance_url": fake.url,
        "access_token": TOKEN,
        "brand_account_id": BRAND["id"],
        "search_queries": ["acme"],
        "page_size": 10,
        "backoff": 1.0,
    }


@pytest.fixture
def scrm_config(scrm_database_url: str, mastodon_settings: dict[str, Any]) -> Config:
    return Config(database_url=scrm_database_url, channels={"mastodon": mastodon_settings})


@pytest.fixture
def sleeps() -> list[float]:
    """Seconds the code under test asked to sleep (it never really sleeps)."""
    return []


BASE_MS = 1_730_023_200_000  # 2024-10-27T10:00:00Z


def snowflake(minute: int, seq: int = 0) -> str:
    """A Mastodon status id ``minute`` minutes after 10:00 UTC on 2024-10-27."""
    return str(((BASE_MS + minute * 60_000) << 16) + seq)


def at(minute: int) -> str:
    """The ``created_at`` matching :func:`snowflake`."""
    from fake_mastodon import iso

    return iso((BASE_MS + minute * 60_000) / 1000)
