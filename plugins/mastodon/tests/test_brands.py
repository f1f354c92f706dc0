"""The Mastodon account of a brand: its messages name it (``brand_acct``), land in the brand
listing it, and only that brand's cases are answered from it."""

from __future__ import annotations

from typing import Any

import pytest
from fake_mastodon import FakeMastodon, status
from mastodon_data import BRAND, MEHMET, at, snowflake

from scrm.core.app import Scrm
from scrm.core.config import Config

ACCT = "acmedestek@mastodon.example"
MENTION = '<p><span class="h-card">@<span>acmedestek</span></span> {}</p>'


@pytest.fixture
def scrm_config(scrm_database_url: str, mastodon_settings: dict[str, Any]) -> Config:
    """The single [channels.mastodon] account, listed by brand acme; globex has none."""
    return Config(
        database_url=scrm_database_url,
        channels={"mastodon": {**mastodon_settings, "brand_acct": ACCT}},
        brands={"acme": {"name": "Acme", "accounts": {"mastodon": [ACCT]}},
                "globex": {"name": "Globex"}},
    )  # fmt: skip


def test_polled_statuses_name_the_account_and_land_in_its_brand(
    app: Scrm, cli: Any, fake: FakeMastodon
) -> None:
    fake.add_status(status(snowflake(1), MEHMET, MENTION.format("faturam iki kat geldi"),
                           created_at=at(1), mentions=[BRAND]))  # fmt: skip
    cli("mastodon", "poll", "--once")
    (stored,) = app.for_brand("acme").interactions(limit=10)
    assert stored.text.endswith("faturam iki kat geldi")
    assert app.for_brand("default").interactions(limit=10) == []
    # the stored native status says which account read it: replayed, it lands the same way
    ch = app.channel("mastodon")
    (again,) = ch.parse({**fake.statuses[stored.external_id], "for_account": ACCT})
    assert again.account == ACCT


def test_only_the_brand_owning_the_account_is_answered_from_it(
    app: Scrm, cli: Any, fake: FakeMastodon
) -> None:
    fake.add_status(status(snowflake(2), MEHMET, MENTION.format("hattım kesildi"),
                           created_at=at(2), mentions=[BRAND]))  # fmt: skip
    cli("mastodon", "poll", "--once")
    (case,) = app.for_brand("acme").cases()
    cli("reply", str(case.id), "--text", "Bakıyoruz.")
    app.for_brand("globex").ingest([{
        "channel": "mastodon", "external_id": "999", "text": "merhaba", "public": True,
        "created_at": "2024-10-27T10:05:00Z", "author": {"external_id": MEHMET["id"]}}])  # fmt: skip
    (other,) = app.for_brand("globex").cases()
    cli("reply", str(other.id), "--text", "Merhaba")
    out = cli("outbox", "deliver", expect=None)
    assert out.stdout.startswith("sent 1, retrying 0, failed 1")
    assert "brand 'globex' has no mastodon account to reply from" in out.stderr
    (post,) = fake.seen("/api/v1/statuses", "POST")
    assert post.body["status"].endswith("Bakıyoruz.")
