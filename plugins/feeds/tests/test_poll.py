"""Polling a local feed server: matching items become cases once; 304s, errors and back-off."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from feed_server import FeedServer
from feeds_kit import BILLION_LAUGHS, DATA, Clock
from scrm_feeds.poller import Poller

from scrm.core.app import Scrm
from scrm.core.models import Case, Identity, Interaction


def stored(app: Scrm) -> dict[str, Interaction]:
    with app.session(read_only=True) as s:
        rows = s.scalars(sa.select(Interaction).where(Interaction.channel == "feeds"))
        return {r.external_id: r for r in rows}


def by_name(report: Any) -> dict[str, Any]:
    return {r.name: r for r in report.sources}


def test_every_kind_of_feed_is_read_and_matching_items_open_cases(
    app: Scrm, poller: Poller
) -> None:
    report = poller.poll()
    res = by_name(report)
    assert {n: r.status for n, r in res.items()} == dict.fromkeys(res, "ok")
    assert (res["blog"].items, res["blog"].matched) == (4, 2)  # not "Acmetech", not the tyres
    assert [res[n].matched for n in ("blogger", "youtube", "forum", "haber")] == [1, 1, 1, 1]
    rows = stored(app)
    assert set(rows) == {
        "https://tuketicigunlugu.example/?p=1482",
        "https://tuketicigunlugu.example/?p=1470",
        "tag:blogger.com,1999:blog-4417368925163392801.post-6630951272040418337",
        "yt:video:Zk3aP9x2LqE",
        "https://forum.sikayet.example/t/acme-kargo-hasarli-paket/88213",
        "https://haber.example/ekonomi/acme-zam-2024",
    }
    video = rows["yt:video:Zk3aP9x2LqE"]
    assert video.public and video.direction == "inbound"
    assert video.answer_url == "https://www.youtube.com/watch?v=Zk3aP9x2LqE"
    assert video.engagement and video.engagement["views"] == 18734
    assert video.subject == "Acme modem kutu açılımı ve bağlantı kopma sorunu"
    assert video.raw and video.raw["matched"] == ["acme"]
    with app.session(read_only=True) as s:
        cases = s.scalars(sa.select(Case).where(Case.channel == "feeds")).all()
        assert len(cases) >= 5 and all(c.status == "new" for c in cases)
        assert all(r.case_id is not None for r in stored(app).values())


def test_authors_are_identities_by_profile_url(app: Scrm, poller: Poller) -> None:
    poller.poll()
    with app.session(read_only=True) as s:
        ids = {
            i.external_id: i
            for i in s.scalars(sa.select(Identity).where(Identity.channel == "feeds"))
        }
    assert "https://www.youtube.com/channel/UCq3Xn8v0kQw2pZ7bS1uJcHg" in ids
    assert "https://forum.sikayet.example/u/kubra_d" in ids
    blogger = ids["http://www.blogger.com/profile/09873411266501987612"]
    assert blogger.display_name == "Emre Işık"
    assert blogger.email is None  # noreply@blogger.com stands for every Blogger author
    # no profile URL in the WordPress feed: the author is known by name on that site
    ayse = ids["https://tuketicigunlugu.example#author=Ayşe Yılmaz"]
    rows = stored(app)
    assert {rows["https://tuketicigunlugu.example/?p=1482"].identity_id,
            rows["https://tuketicigunlugu.example/?p=1470"].identity_id} == {ayse.id}  # fmt: skip


def test_conditional_requests_get_304_and_store_nothing_twice(
    app: Scrm, poller: Poller, server: FeedServer, clock: Clock
) -> None:
    poller.poll()
    before = len(stored(app))
    clock.advance(901)
    report = poller.poll()
    assert {r.status for r in report.sources} == {"not modified"}
    second = server.hits("/blog/feed/")[-1]["headers"]
    assert second["If-None-Match"] == server.docs["/blog/feed/"].etag
    assert second["If-Modified-Since"] == "Tue, 22 Oct 2024 08:32:44 GMT"
    assert len(stored(app)) == before


def test_last_modified_alone_also_gives_304(
    app: Scrm, poller: Poller, server: FeedServer, clock: Clock
) -> None:
    server.docs["/haber/rss"].etag_enabled = False
    poller.poll(["haber"])
    clock.advance(901)
    assert poller.poll(["haber"]).sources[0].status == "not modified"
    assert "If-None-Match" not in server.hits("/haber/rss")[-1]["headers"]


def test_a_changed_feed_adds_only_its_new_items(
    app: Scrm, poller: Poller, server: FeedServer, clock: Clock
) -> None:
    poller.poll(["forum"])
    doc = json.loads((DATA / "forum-feed.json").read_text(encoding="utf-8"))
    doc["items"].insert(0, {"id": "https://forum.sikayet.example/t/acme-iade/88300",
                            "url": "https://forum.sikayet.example/t/acme-iade/88300",
                            "content_text": "ACME iadeyi iki haftadır yapmadı",
                            "date_published": "2024-10-23T08:00:00Z",
                            "authors": [{"name": "kübra_d", "url": "https://forum.sikayet.example/u/kubra_d"}]})  # fmt: skip
    server.put("/forum/feed.json", json.dumps(doc).encode(), content_type="application/feed+json")
    clock.advance(901)
    r = poller.poll(["forum"]).sources[0]
    assert (r.status, r.matched, r.stored, r.duplicates) == ("ok", 2, 1, 1)
    rows = stored(app)
    first = rows["https://forum.sikayet.example/t/acme-kargo-hasarli-paket/88213"]
    new = rows["https://forum.sikayet.example/t/acme-iade/88300"]
    assert first.identity_id == new.identity_id  # the same forum user, by profile URL


def test_intervals_are_per_source(app: Scrm, server: FeedServer, clock: Clock,
                                  sources: list[dict[str, Any]]) -> None:  # fmt: skip
    sources[0]["interval"] = 3600
    app.config.channels["feeds"]["sources"] = sources
    app._channels.clear()
    p = Poller(app, app.channel("feeds"), clock=clock)
    p.poll()
    clock.advance(1000)
    res = by_name(p.poll())
    assert res["blog"].status == "not due" and res["youtube"].status == "not modified"
    assert len(server.hits("/blog/feed/")) == 1
    assert by_name(p.poll(force=True))["blog"].status == "not modified"


def test_a_failing_source_backs_off_and_the_others_are_read(
    app: Scrm, poller: Poller, server: FeedServer, clock: Clock
) -> None:
    server.fail("/blog/feed/", 503, times=3)
    res = by_name(poller.poll())
    assert res["blog"].status == "error"
    assert res["blog"].error == f"HTTP 503 Service Unavailable from {server.url}/blog/feed/"
    assert all(res[n].status == "ok" for n in ("blogger", "youtube", "forum", "haber"))
    assert res["blog"].next_due == clock.now + 2 * 900
    clock.advance(901)
    assert by_name(poller.poll())["blog"].status == "not due"
    clock.advance(900)
    again = by_name(poller.poll())["blog"]
    assert again.status == "error" and again.next_due == clock.now + 4 * 900
    state = poller.state(poller.sources(["blog"])[0])
    assert state["failures"] == 2 and "503" in state["last_error"]
    clock.advance(4 * 900)
    poller.poll()  # third failure: 8 intervals
    clock.advance(8 * 900)
    ok = by_name(poller.poll())["blog"]
    assert (ok.status, ok.matched, ok.next_due) == ("ok", 2, clock.now + 900)
    assert poller.state(poller.sources(["blog"])[0])["failures"] == 0


def test_retry_after_and_the_back_off_ceiling(
    app: Scrm, poller: Poller, server: FeedServer, clock: Clock
) -> None:
    server.fail("/haber/rss", 429, retry_after="7200")
    r = poller.poll(["haber"]).sources[0]
    assert r.status == "error" and "HTTP 429" in (r.error or "")
    assert r.next_due == clock.now + 7200
    server.fail("/forum/feed.json", 500, times=30)
    for _ in range(12):
        r = poller.poll(["forum"], force=True).sources[0]
    assert r.next_due == clock.now + 86_400  # max_backoff


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "streamed"])
def test_a_huge_feed_is_that_sources_error(
    app: Scrm, poller: Poller, server: FeedServer, chunked: bool
) -> None:
    item = b"<item><title>Acme</title><link>https://x.example/%d</link></item>"
    body = b'<rss version="2.0"><channel>' + b"".join(item % n for n in range(40_000))
    server.put("/blog/feed/", body + b"</channel></rss>", chunked=chunked)
    assert len(body) > 2 * 1024 * 1024
    res = by_name(poller.poll())
    assert res["blog"].status == "error" and "max_bytes" in (res["blog"].error or "")
    assert res["youtube"].status == "ok"
    assert not any(k.startswith("https://x.example/") for k in stored(app))


def test_hostile_and_broken_feeds_fail_on_their_own(
    app: Scrm, poller: Poller, server: FeedServer
) -> None:
    server.put("/blog/feed/", BILLION_LAUGHS)
    server.put("/haber/rss", b"<html><body>Bakimdayiz</body></html>", content_type="text/html")
    res = by_name(poller.poll())
    assert "entity expansion" in (res["blog"].error or "")
    assert res["haber"].error == "not an RSS, Atom or JSON feed (no feed element found)" or (
        "not an RSS, Atom or JSON feed" in (res["haber"].error or "")
    )
    assert res["youtube"].status == "ok"


def test_a_malformed_feed_is_read_with_a_warning(
    app: Scrm, poller: Poller, server: FeedServer
) -> None:
    server.put("/haber/rss", (DATA / "malformed-rss.xml").read_bytes())
    r = poller.poll(["haber"]).sources[0]
    assert r.status == "ok" and r.matched == 1 and r.stored == 1
    assert r.warning and "not well-formed" in r.warning
    row = stored(app)["https://mahalle.example/konu/4411"]
    assert row.raw and row.raw["date_text"] == "Pzt, 21 Eki 2024 25:61:00 +0300"


def test_redirect_loops_and_missing_feeds(app: Scrm, server: FeedServer, clock: Clock) -> None:
    app.config.channels["feeds"]["sources"] = [
        {"name": "loop", "url": server.url + "/loop"},
        {"name": "gone", "url": server.url + "/nothing-here"},
        {"name": "closed", "url": "http://127.0.0.1:9/feed"},
    ]
    app._channels.clear()
    p = Poller(app, app.channel("feeds"), clock=clock)
    try:
        res = by_name(p.poll())
    finally:
        p.close()
    assert "too many redirects" in (res["loop"].error or "")
    assert res["gone"].error == f"HTTP 404 Not Found from {server.url}/nothing-here"
    assert "could not read http://127.0.0.1:9/feed: ConnectError" in (res["closed"].error or "")


def test_a_file_source_is_read_again_only_when_it_changes(
    app: Scrm, clock: Clock, tmp_path: Path
) -> None:
    feed = tmp_path / "alerts.xml"
    feed.write_bytes((DATA / "blogger-atom.xml").read_bytes())
    app.config.channels["feeds"]["sources"] = [
        {"name": "alerts", "path": str(feed), "match_all": True},
        {"name": "missing", "path": str(tmp_path / "none.xml")},
    ]
    app._channels.clear()
    p = Poller(app, app.channel("feeds"), clock=clock)
    res = by_name(p.poll())
    assert (res["alerts"].status, res["alerts"].matched, res["alerts"].stored) == ("ok", 2, 2)
    assert res["missing"].error == f"cannot read {tmp_path / 'none.xml'}: No such file or directory"
    clock.advance(901)
    assert by_name(p.poll())["alerts"].status == "not modified"
    feed.write_bytes((DATA / "youtube-channel.xml").read_bytes())
    clock.advance(901)
    assert by_name(p.poll())["alerts"].stored == 2


def test_cli_poll_and_status(cli: Any, server: FeedServer) -> None:
    server.fail("/haber/rss", 502)
    out = cli("feeds", "poll", expect=1)
    assert "blog" in out.stdout and "ok" in out.stdout
    assert "1 of 5 feeds failed: haber: HTTP 502 Bad Gateway" in out.stderr
    status = json.loads(cli("feeds", "status", "--json").stdout)
    haber = next(s for s in status if s["name"] == "haber")
    assert haber["failures"] == 1 and "502" in haber["last_error"]
    blog = next(s for s in status if s["name"] == "blog")
    assert blog["failures"] == 0 and blog["validators"]["etag"]
    assert "--source" in cli("feeds", "poll", "--source", "nope", expect=2).stderr


def test_worker_task(app: Scrm, server: FeedServer) -> None:
    from scrm_feeds.poller import poll_task

    assert poll_task(app, None) == "5 feeds read, 6 items matched, 6 stored, 0 failed"


def test_item_records_can_be_ingested_and_a_bad_one_is_a_reject(
    app: Scrm, cli: Any, tmp_path: Path
) -> None:
    good = {"source": "arsiv", "feed_url": "https://s.example/feed", "id": "https://s.example/1",
            "link": "https://s.example/1", "title": "Acme", "text": "Acme faturamı iki kez kesti",
            "fetched_at": "2024-10-22T09:00:00+00:00", "author": {"name": "Ece"}}  # fmt: skip
    bad = {**good, "id": "https://s.example/2", "fetched_at": "2024-10-22T09:00:00"}  # no offset
    path = tmp_path / "items.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in (good, bad)) + "\n", encoding="utf-8")
    out = cli("ingest", "--channel", "feeds", str(path), expect=3)
    assert "1" in out.stdout
    rejects = app.rejects()
    assert len(rejects) == 1 and rejects[0].field == "fetched_at"
    assert stored(app)["https://s.example/1"].answer_url == "https://s.example/1"
