"""Streaming for several accounts: two brands' accounts on one instance, each listened on over
its own connection with its own token, each status stored as its account's."""

from __future__ import annotations

import threading
import time
from typing import Any, cast

import pytest
from fake_mastodon import FakeMastodon, account, notification, sse, status
from mastodon_data import AYSE, BRAND, MEHMET, TOKEN, at, snowflake
from scrm_mastodon.channel import MastodonChannel
from scrm_mastodon.stream import Listener, streamed_accounts

from scrm.core.app import Scrm
from scrm.core.config import Config
from scrm.plugin import Direction

GLOBEX = account("109400512033001776", "globexyardim", followers=9120, display_name="Globex")
GLOBEX_TOKEN = "fake-mastodon-user-token-0002"
ACME_ACCT, GLOBEX_ACCT = "acmedestek@mastodon.example", "globexyardim@mastodon.example"
TO_ACME = '<p><span class="h-card">@<span>acmedestek</span></span> {}</p>'
TO_GLOBEX = '<p><span class="h-card">@<span>globexyardim</span></span> {}</p>'


@pytest.fixture
def globex_streams(fake: FakeMastodon) -> list[bytes]:
    return fake.add_user(dict(GLOBEX), GLOBEX_TOKEN)


@pytest.fixture
def globex_token() -> str:
    return GLOBEX_TOKEN


@pytest.fixture
def scrm_config(
    scrm_database_url: str, fake: FakeMastodon, globex_streams: list[bytes], globex_token: str
) -> Config:
    """Acme's and Globex's accounts on one instance, each listed by its brand."""
    accounts = {
        "acme": {"access_token": TOKEN, "brand_account_id": BRAND["id"], "brand_acct": ACME_ACCT},
        "globex": {"access_token": globex_token, "brand_account_id": GLOBEX["id"],
                   "brand_acct": GLOBEX_ACCT},
    }  # fmt: skip
    return Config(
        database_url=scrm_database_url,
        channels={"mastodon": {"instance_url": fake.url, "backoff": 1.0, "accounts": accounts}},
        brands={"acme": {"name": "Acme", "accounts": {"mastodon": [ACME_ACCT]}},
                "globex": {"name": "Globex", "accounts": {"mastodon": [GLOBEX_ACCT]}}},
    )  # fmt: skip


def conversations(fake: FakeMastodon, globex_streams: list[bytes]) -> dict[str, dict[str, Any]]:
    """A mention of each brand and each brand's answer, on its own account's stream; Globex's
    answer reaches Acme's home timeline too (Acme follows Globex)."""
    to_acme = status(snowflake(1), AYSE, TO_ACME.format("modemim yandı"), created_at=at(1),
                     mentions=[BRAND])  # fmt: skip
    acme_reply = status(snowflake(3), BRAND, "<p>@aysylmz bakıyoruz</p>", created_at=at(3),
                        reply_to=to_acme, mentions=[AYSE])  # fmt: skip
    to_globex = status(snowflake(2), MEHMET, TO_GLOBEX.format("kargom gelmedi"),
                       created_at=at(2), mentions=[GLOBEX])  # fmt: skip
    globex_reply = status(snowflake(4), GLOBEX, "<p>@mehmet_k hemen soruyoruz</p>",
                          created_at=at(4), reply_to=to_globex, mentions=[MEHMET])  # fmt: skip
    fake.streams.append(
        sse(("notification", notification(to_acme)), ("update", globex_reply),
            ("update", acme_reply))
    )  # fmt: skip
    globex_streams.append(
        sse(("notification", notification(to_globex)), ("update", globex_reply),
            ("notification", notification(to_globex, "favourite")))
    )  # fmt: skip
    return {"to_acme": to_acme, "acme_reply": acme_reply, "to_globex": to_globex,
            "globex_reply": globex_reply}  # fmt: skip


def test_every_account_is_listened_on_and_its_statuses_stored_as_its_own(
    cli: Any, app: Scrm, fake: FakeMastodon, globex_streams: list[bytes]
) -> None:
    said = conversations(fake, globex_streams)
    out = cli("mastodon", "stream", "--max-events", "3").stdout
    assert out.splitlines() == [
        "acme: 3 events: 2 stored, 0 already known, 0 rejected, 0 reconnections",
        "globex: 3 events: 2 stored, 0 already known, 0 rejected, 0 reconnections",
    ]
    ids = {k: v["id"] for k, v in said.items()}
    for brand, (mention, reply) in (
        ("acme", (ids["to_acme"], ids["acme_reply"])),
        ("globex", (ids["to_globex"], ids["globex_reply"])),
    ):
        # each landed in the brand listing the account whose stream carried it (its
        # ``account``), Globex's answer not in Acme's though Acme's stream carried it too
        rows = {i.external_id: i for i in app.for_brand(brand).interactions(limit=10)}
        assert rows.keys() == {mention, reply}
        # the brand's own answer is outbound from its account's point of view, and moves
        # the customer's case
        assert (rows[mention].direction, rows[reply].direction) == (
            Direction.INBOUND, Direction.OUTBOUND)  # fmt: skip
        assert rows[reply].case_id == rows[mention].case_id is not None
        assert app.case(rows[mention].case_id).status == "acknowledged"  # type: ignore[arg-type]
    tokens = sorted(s.headers["authorization"] for s in fake.seen("/api/v1/streaming/user"))
    assert tokens == [f"Bearer {TOKEN}", f"Bearer {GLOBEX_TOKEN}"]


@pytest.mark.parametrize("globex_token", ["revoked-token"])
def test_an_account_whose_token_is_refused_does_not_stop_the_others(
    cli: Any, app: Scrm, fake: FakeMastodon, globex_streams: list[bytes]
) -> None:
    conversations(fake, globex_streams)
    result = cli("mastodon", "stream", "--max-events", "3", expect=1)
    refused = (
        "the instance rejected channels.mastodon.access_token on GET /api/v1/streaming/user (401)"
    )
    nothing = "0 events: 0 stored, 0 already known, 0 rejected, 0 reconnections"
    assert result.stdout.splitlines() == [
        "acme: 3 events: 2 stored, 0 already known, 0 rejected, 0 reconnections",
        f"globex: {nothing}; stopped: {refused}",
    ]
    assert f"globex: stopped: {refused}" in result.stderr
    assert "1 of 2 accounts stopped: globex" in result.stderr
    assert len(app.for_brand("acme").interactions(limit=10)) == 2
    assert app.for_brand("globex").interactions(limit=10) == []


def test_account_listens_on_one_and_an_unknown_label_is_refused(
    cli: Any, app: Scrm, fake: FakeMastodon, globex_streams: list[bytes]
) -> None:
    said = conversations(fake, globex_streams)
    out = cli("mastodon", "stream", "--account", "globex", "--max-events", "3").stdout
    assert out == "globex: 3 events: 2 stored, 0 already known, 0 rejected, 0 reconnections\n"
    (seen,) = fake.seen("/api/v1/streaming/user")
    assert seen.headers["authorization"] == f"Bearer {GLOBEX_TOKEN}"
    assert {i.external_id for i in app.interactions(limit=10)} == {
        said["to_globex"]["id"], said["globex_reply"]["id"]}  # fmt: skip
    err = cli("mastodon", "stream", "--account", "initech", expect=1).stderr
    assert "no mastodon account 'initech'; accounts: acme, globex" in err
    # a brand listens on its own account only, and never on another brand's
    out = cli("--brand", "acme", "mastodon", "stream", "--max-events", "3").stdout
    assert out.startswith("acme: 3 events: 2 stored")
    assert len(fake.seen("/api/v1/streaming/user")) == 2
    err = cli("--brand", "acme", "mastodon", "stream", "--account", "globex", expect=1).stderr
    assert "the mastodon account 'globex' is another brand's" in err


def test_stop_ends_every_account_s_listening(app: Scrm, fake: FakeMastodon) -> None:
    """Nothing to read: both wait to reconnect, and a stop (SIGTERM, Ctrl-C) ends the wait."""
    channel = cast(MastodonChannel, app.channel("mastodon"))
    listener = Listener(app, streamed_accounts(app, channel))
    threading.Timer(0.3, listener.stop).start()
    began = time.monotonic()
    try:
        reports = listener.run()
    finally:
        listener.close()
    assert time.monotonic() - began < 3  # the pauses (1 s, 2 s, 4 s) were cut short
    assert [(r.events, r.error) for r in reports] == [(0, None), (0, None)]
