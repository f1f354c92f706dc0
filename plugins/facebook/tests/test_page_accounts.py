"""One brand with two Facebook pages (Acme Türkiye and Acme Yardım): a message keeps the page it
arrived at, and the reply goes out with that page's token, not with the first page's."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from scrm_facebook.sync import receive

from scrm.core.app import Scrm
from scrm.core.config import Config

from .conftest import APP_SECRET, PAGE_ID, TOKEN, VERIFY_TOKEN, Builders, FakeGraph, Reply, Seen

HELP_PAGE = "445566778899001"
HELP_TOKEN = "EAAG-acme-yardim-page-token"
MAIN_PSID, HELP_PSID = "6890213847561920", "7712093847561111"


@pytest.fixture
def scrm_config(scrm_database_url: str, graph: FakeGraph) -> Config:
    graph.other_tokens.add(HELP_TOKEN)
    accounts = {
        "acme": {"page_id": PAGE_ID, "page_name": "Acme Türkiye", "page_access_token": TOKEN},
        "acme_help": {
            "page_id": HELP_PAGE,
            "page_name": "Acme Yardım",
            "page_access_token": HELP_TOKEN,
        },
    }
    shared = {"graph_url": graph.url, "app_secret": APP_SECRET, "verify_token": VERIFY_TOKEN}
    return Config(
        database_url=scrm_database_url,
        channels={"facebook": {**shared, "accounts": accounts}},
        brands={"acme": {"name": "Acme", "accounts": {"facebook": [PAGE_ID, HELP_PAGE]}}},
    )


def on_page(body: dict[str, Any], page: str) -> dict[str, Any]:
    """``body`` as delivered for ``page``."""
    return json.loads(json.dumps(body).replace(PAGE_ID, page))  # type: ignore[no-any-return]


def test_a_messenger_reply_uses_the_token_of_the_page_written_to(
    app: Scrm, cli: Any, fb: Builders, graph: FakeGraph
) -> None:
    now = int(time.time() * 1000) - 60_000  # within Messenger's 24-hour window
    to_main = fb.body(fb.message("mid.1", "Siparişim nerede?", psid=MAIN_PSID, timestamp=now))
    to_help = on_page(fb.body(fb.message("mid.2", "Faturam yanlış", psid=HELP_PSID,
                                         timestamp=now)), HELP_PAGE)  # fmt: skip
    raw = fb.raw({"object": "page", "entry": to_main["entry"] + to_help["entry"]})
    assert receive(app, fb.sign(raw), raw).stored == 2
    arrived = {i.external_id: i.account for i in app.interactions()}
    assert arrived == {"mid.1": PAGE_ID, "mid.2": HELP_PAGE}

    sent: list[Seen] = []

    def messages(req: Seen) -> Reply:
        sent.append(req)
        return Reply({"recipient_id": "1", "message_id": f"m_{len(sent)}"})

    graph.on("POST", "me/messages", messages)
    cases = app.for_brand("acme").cases()
    assert len(cases) == 2
    for case in cases:
        cli("reply", str(case.id), "--text", f"Kayıt {case.id} inceleniyor")
    assert cli("outbox", "deliver").stdout.startswith("sent 2,")
    tokens = {req.json()["recipient"]["id"]: req.headers["authorization"] for req in sent}
    assert tokens == {MAIN_PSID: f"Bearer {TOKEN}", HELP_PSID: f"Bearer {HELP_TOKEN}"}
    # the case shows which page each message reached and each reply left from
    for case in cases:
        detail = json.loads(cli("case", "show", str(case.id), "--json").stdout)
        (inbound,) = [i for i in detail["interactions"] if i["direction"] == "inbound"]
        (outbound,) = [i for i in detail["interactions"] if i["direction"] == "outbound"]
        (reply,) = detail["replies"]
        assert inbound["account"] == outbound["account"] == reply["account"]
