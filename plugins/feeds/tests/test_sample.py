"""The demo's feed sources (``sample/``, configured in scrm's demo.toml) open the demo's cases."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from feeds_kit import SAMPLE, Clock
from scrm_feeds.poller import Poller

from scrm.core.app import Scrm
from scrm.core.config import Config

DEMO = Path(str(resources.files("scrm") / "data" / "sample" / "demo.toml"))


def demo_feeds() -> dict[str, Any]:
    """The demo's [channels.feeds], its paths made absolute (the demo runs in demo/)."""
    feeds = tomllib.loads(DEMO.read_text(encoding="utf-8"))["channels"]["feeds"]
    for src in feeds["sources"]:
        src["path"] = str(SAMPLE / Path(src["path"]).name)
    return feeds


@pytest.fixture
def scrm_config(scrm_database_url: str) -> Config:
    return Config(database_url=scrm_database_url, channels={"feeds": demo_feeds()})


def test_the_demo_feeds_open_four_cases_about_acme(app: Scrm) -> None:
    poller = Poller(app, app.channel("feeds"), clock=Clock())
    report = poller.poll()
    assert [(r.name, r.status, r.items, r.matched, r.stored) for r in report.sources] == [
        ("evden-notlar", "ok", 3, 2, 2),
        ("kablosuz-gundem", "ok", 2, 1, 1),
        ("tuketici-forumu", "ok", 2, 1, 1),
    ]
    cases = app.cases(channel="feeds")
    assert len(cases) == 4
    assert all(c.status == "new" and c.subject and "acme" in c.subject.lower() for c in cases)
