"""Fixtures: a local fake Mastodon instance on 127.0.0.1 and an app whose channel points at it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scrm.core.config import Config

# Tests import fake_mastodon and mastodon_data (importlib mode). Appended, not inserted first:
# another plugin's tests may import their own ``conftest`` by name in the same run.
sys.path.append(str(Path(__file__).parent))

from fake_mastodon import FakeMastodon
from mastodon_data import AYSE, BRAND, MEHMET, TOKEN


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
