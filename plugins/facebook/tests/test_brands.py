"""Two brands with a Facebook page each: webhook and polled messages land in the brand of
their page, and replies go out with the token of the page the case's brand owns."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from scrm_facebook.sync import receive

from scrm.core.app import Scrm
from scrm.core.config import Config

from .conftest import APP_SECRET, PAGE_ID, TOKEN, VERIFY_TOKEN, Builders, FakeGraph, Reply, Seen

GLOBEX_PAGE = "998800776655443"
GLOBEX_TOKEN = "EAAG-globex-page-token"
BRANDS = {
    "acme": {"name": "Acme", "accounts": {"facebook": [PAGE_ID]}},
    "globex": {"name": "Globex", "accounts": {"facebook": [GLOBEX_PAGE]}},
}


@pytest.fixture
def scrm_config(scrm_database_url: str, graph: FakeGraph) -> Config:
    """The app's secret and verify token shared, one table per page."""
    graph.other_tokens.add(GLOBEX_TOKEN)
    accounts = {
        "acme": {"page_id": PAGE_ID, "page_name": "Acme Türkiye", "page_access_token": TOKEN},
        "globex": {
            "page_id": GLOBEX_PAGE,
            "page_name": "Globex",
            "page_access_token": GLOBEX_TOKEN,
        },
    }
    shared = {"graph_url": graph.url, "app_secret": APP_SECRET, "verify_token": VERIFY_TOKEN}
    return Config(
        database_url=scrm_database_url,
        channels={"facebook": {**shared, "accounts": accounts}},
        brands=BRANDS,
    )


def on_page(body: dict[str, Any], page: str) -> dict[str, Any]:
    """``body`` as delivered for ``page`` (its entries' ids and the comment's post)."""
    text = json.dumps(body).replace(PAGE_ID, page)
    return json.loads(text)  # type: ignore[no-any-return]


def texts(app: Scrm, brand: str) -> set[str]:
    return {i.text for i in app.for_brand(brand).interactions(limit=100)}


def deliver(app: Scrm, fb: Builders) -> None:
    """One signed delivery holding an event for each page."""
    acme = fb.body(fb.comment("998877_1", "Kargom hâlâ gelmedi!"))
    globex = on_page(fb.body(fb.comment("554433_2", "Faturam yanlış geldi", sender=("41", "Ali"))),
                     GLOBEX_PAGE)  # fmt: skip
    both = {"object": "page", "entry": acme["entry"] + globex["entry"]}
    raw = fb.raw(both)
    report = receive(app, fb.sign(raw), raw)
    assert report.stored == 2


def test_webhook_events_land_in_the_brand_of_their_page(app: Scrm, fb: Builders) -> None:
    deliver(app, fb)
    assert texts(app, "acme") == {"Kargom hâlâ gelmedi!"}
    assert texts(app, "globex") == {"Faturam yanlış geldi"}
    assert texts(app, "default") == set()


def test_replies_use_the_token_of_the_case_brand_page(
    app: Scrm, cli: Any, fb: Builders, graph: FakeGraph
) -> None:
    deliver(app, fb)
    posted: list[Seen] = []

    def comment(req: Seen) -> Reply:
        posted.append(req)
        return Reply({"id": f"{req.path.split('/')[0]}_reply"})

    graph.on("POST", "998877_1/comments", comment)
    graph.on("POST", "554433_2/comments", comment)
    for brand in ("acme", "globex"):
        (case,) = app.for_brand(brand).cases()
        cli("reply", str(case.id), "--text", f"{brand} ekibi olarak bakıyoruz")
    assert cli("outbox", "deliver").stdout.startswith("sent 2,")
    used = {req.path: (req.headers["authorization"], req.form()["message"]) for req in posted}
    assert used == {
        "998877_1/comments": (f"Bearer {TOKEN}", "acme ekibi olarak bakıyoruz"),
        "554433_2/comments": (f"Bearer {GLOBEX_TOKEN}", "globex ekibi olarak bakıyoruz"),
    }


def _fmt(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S+0000")


def serve_page(graph: FakeGraph, page: str, customer: str, text: str, at: datetime) -> None:
    post = {"id": f"{page}_1", "message": "Yeni kampanya", "created_time": _fmt(at),
            "from": {"id": page, "name": "page"}}  # fmt: skip
    comment = {"id": f"{page[:4]}_7", "message": text, "created_time": _fmt(at),
               "from": {"id": customer, "name": "Müşteri"}}  # fmt: skip
    graph.on("GET", f"{page}/feed", Reply({"data": [post], "paging": {}}))
    graph.on("GET", f"{page}_1/comments", Reply({"data": [comment], "paging": {}}))


def test_polling_reads_each_page_into_its_brand_with_its_own_cursor(
    app: Scrm, cli: Any, graph: FakeGraph
) -> None:
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    serve_page(graph, PAGE_ID, "71", "Siparişim iptal oldu", now)
    serve_page(graph, GLOBEX_PAGE, "72", "Modem arızalı", now - timedelta(minutes=1))
    lines = [json.loads(line) for line in cli("facebook", "poll", "--json").stdout.splitlines()]
    assert [(r["account"], r["page"], r["stored"]) for r in lines] == [
        ("acme", PAGE_ID, 2), ("globex", GLOBEX_PAGE, 2),
    ]  # fmt: skip
    assert texts(app, "acme") == {"Yeni kampanya", "Siparişim iptal oldu"}
    assert texts(app, "globex") == {"Yeni kampanya", "Modem arızalı"}
    assert app.load_state("facebook", f"feed:{PAGE_ID}") == {"since": int(now.timestamp())}
    assert app.load_state("facebook", f"feed:{GLOBEX_PAGE}") == {
        "since": int((now - timedelta(minutes=1)).timestamp())
    }
    # the page's own posts are each brand's outbound messages
    for brand in ("acme", "globex"):
        outbound = [
            i for i in app.for_brand(brand).interactions(limit=10) if i.direction == "outbound"
        ]
        assert [i.text for i in outbound] == ["Yeni kampanya"]


def test_a_page_whose_token_expired_does_not_stop_the_other(
    app: Scrm, cli: Any, graph: FakeGraph
) -> None:
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    serve_page(graph, GLOBEX_PAGE, "72", "Modem arızalı", now)
    graph.token = "acme-token-renewed"  # acme's configured token no longer works
    result = cli("facebook", "poll", expect=1)
    assert "acme (page 112233445566778): facebook poll failed" in result.stderr
    assert "globex (page 998800776655443): read 1 posts and 1 comments" in result.stdout
    assert texts(app, "globex") == {"Yeni kampanya", "Modem arızalı"}


def test_check_takes_the_page_of_one_account(cli: Any, graph: FakeGraph) -> None:
    graph.on("GET", GLOBEX_PAGE, Reply({"id": GLOBEX_PAGE, "name": "Globex"}))
    graph.on("GET", f"{GLOBEX_PAGE}/subscribed_apps",
             Reply({"data": [{"subscribed_fields": ["feed", "messages", "message_echoes"]}]}))  # fmt: skip
    out = json.loads(cli("facebook", "check", "--account", "globex", "--json").stdout)
    assert out["page"] == {"id": GLOBEX_PAGE, "name": "Globex"} and out["problems"] == []
    seen = [s for s in graph.seen if s.path.startswith(GLOBEX_PAGE)]
    assert {s.headers["authorization"] for s in seen} == {f"Bearer {GLOBEX_TOKEN}"}
    result = cli("facebook", "check", "--account", "initech", expect=1)
    assert "no facebook account 'initech'; accounts: acme, globex" in result.stderr
