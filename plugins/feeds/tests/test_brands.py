"""Feeds of two brands: each account's sources, matched with its own terms, put their items
in the brand that lists the source."""

from __future__ import annotations

from typing import Any

import pytest

from scrm.core.app import Scrm
from scrm.core.config import Config


@pytest.fixture
def scrm_config(scrm_database_url: str, sources: list[dict[str, Any]]) -> Config:
    """acme reads the blog and the forum for its names; globex takes every YouTube item."""
    by_name = {s["name"]: s for s in sources}
    accounts = {
        "acme": {"terms": ["Acme", "Acme Kargo"], "sources": [by_name["blog"], by_name["forum"]]},
        "globex": {"terms": ["Globex"], "sources": [{**by_name["youtube"], "match_all": True}]},
    }
    return Config(
        database_url=scrm_database_url,
        channels={"feeds": {"timeout": 5.0, "accounts": accounts}},
        brands={
            "acme": {"name": "Acme", "accounts": {"feeds": ["blog", "forum"]}},
            "globex": {"name": "Globex", "accounts": {"feeds": ["youtube"]}},
        },
    )


def test_items_land_in_the_brand_of_their_source(app: Scrm, cli: Any) -> None:
    cli("feeds", "poll")
    acme = app.for_brand("acme").interactions(limit=100)
    globex = app.for_brand("globex").interactions(limit=100)
    assert acme and globex and app.for_brand("default").interactions(limit=100) == []
    assert {i.answer_url.split("/")[2] for i in acme if i.answer_url} <= {
        "tuketicigunlugu.example", "forum.sikayet.example",
    }  # fmt: skip
    assert all("youtube.com" in (i.answer_url or "") for i in globex)
    # globex takes every item of its channel; acme's terms are not globex's
    youtube = app.channel("feeds").accounts()[1]
    assert youtube.account_ids() == ("youtube",)


def test_a_source_name_used_by_two_accounts_is_refused(
    scrm_database_url: str, sources: list[dict[str, Any]]
) -> None:
    from scrm.core.plugins import get_plugin_manager

    twice = {"a": {"sources": [sources[0]]}, "b": {"sources": [sources[0]]}}
    app = Scrm(Config(database_url=scrm_database_url, channels={"feeds": {"accounts": twice}}),
               get_plugin_manager())  # fmt: skip
    with pytest.raises(ValueError, match="two accounts have feed source 'blog'"):
        app.channel("feeds").sources()  # type: ignore[attr-defined]
