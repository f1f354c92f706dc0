"""The poll report and `scrm feeds status` show their times in the configured time zone."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from feed_server import FeedServer

from scrm.core.config import Config


@pytest.fixture
def scrm_config(scrm_database_url: str, feeds_settings: dict[str, Any]) -> Config:
    # Tokyo keeps UTC+09:00 all year: the expected text does not depend on the date.
    return Config(
        database_url=scrm_database_url, channels={"feeds": feeds_settings}, timezone="Asia/Tokyo"
    )


def test_next_read_is_shown_in_the_configured_zone_and_labelled(
    cli: Any, server: FeedServer
) -> None:
    poll = cli("feeds", "poll").stdout
    status = {s["name"]: s for s in json.loads(cli("feeds", "status", "--json").stdout)}
    due = datetime.fromtimestamp(status["blog"]["next_due"], UTC)  # JSON keeps the instant
    tokyo = datetime.fromtimestamp(due.timestamp() + 9 * 3600, UTC)  # Tokyo's wall clock
    assert "times in Asia/Tokyo (UTC+09:00)" in poll
    blog = next(line for line in poll.splitlines() if line.startswith("blog "))
    assert f"{tokyo:%Y-%m-%d %H:%M}" in blog and f"{due:%H:%M}" not in blog
    table = cli("feeds", "status").stdout  # a folded table: the day and the time apart
    assert f"{tokyo:%H:%M}" in table and f"{due:%H:%M}" not in table
    assert "times in Asia/Tokyo (UTC+09:00)" in table
    assert "(UTC)" not in poll and "(UTC)" not in table
