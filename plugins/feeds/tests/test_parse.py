"""Parsing real-world feed shapes, and hostile documents (entity bombs, bad dates, junk)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from feeds_kit import BILLION_LAUGHS, DATA
from hypothesis import given, settings
from hypothesis import strategies as st
from scrm_feeds.mapping import FeedRecord, item_id, record_for
from scrm_feeds.parse import FeedError, ParsedFeed, html_to_text, parse_feed

FETCHED = datetime(2024, 10, 23, 12, 0, tzinfo=UTC)


def load(name: str) -> ParsedFeed:
    return parse_feed((DATA / name).read_bytes())


def test_wordpress_rss2() -> None:
    feed = load("wordpress-rss2.xml")
    assert (feed.format, feed.title, feed.language) == ("rss20", "Tüketici Günlüğü", "tr")
    first = feed.items[0]
    assert first.id == "https://tuketicigunlugu.example/?p=1482"
    assert first.link == "https://tuketicigunlugu.example/2024/10/22/acme-kargo-istanbul-aktarma/"
    assert first.author_name == "Ayşe Yılmaz"
    assert first.published == datetime(2024, 10, 22, 8, 30, tzinfo=UTC)
    # content:encoded wins over the excerpt; HTML is text; the script is gone
    assert "Takip numarası 7781 2290" in first.text
    assert "alert" not in first.text and "<" not in first.text
    # +0300 is converted, not dropped
    assert feed.items[3].published == datetime(2024, 10, 19, 15, 45, tzinfo=UTC)


def test_blogger_atom_gives_the_profile_url() -> None:
    item = load("blogger-atom.xml").items[0]
    assert item.id == "tag:blogger.com,1999:blog-4417368925163392801.post-6630951272040418337"
    assert item.author_url == "http://www.blogger.com/profile/09873411266501987612"
    assert item.published == datetime(2024, 10, 23, 7, 38, tzinfo=UTC)
    assert "ISTANBUL bölge müdürlüğüne" in item.text


def test_youtube_channel_feed() -> None:
    feed = load("youtube-channel.xml")
    video = feed.items[0]
    assert video.id == "yt:video:Zk3aP9x2LqE"
    assert video.link == "https://www.youtube.com/watch?v=Zk3aP9x2LqE"
    assert video.author_url == "https://www.youtube.com/channel/UCq3Xn8v0kQw2pZ7bS1uJcHg"
    assert video.views == 18734
    assert "destek hattı sıfırlamayı önerdi" in video.text


def test_json_feed_1_1_and_1_0() -> None:
    feed = load("forum-feed.json")
    assert feed.format == "json11" and feed.language == "tr-TR"
    assert feed.items[0].author_url == "https://forum.sikayet.example/u/kubra_d"
    assert feed.items[0].text.startswith("Kutunun köşesi ezik geldi")
    assert feed.items[0].published == datetime(2024, 10, 22, 16, 4, 11, tzinfo=UTC)
    v1 = {"version": "https://jsonfeed.org/version/1", "items": [
        {"id": "1", "content_text": "x", "author": {"name": "a", "url": "https://a.example/"}}]}  # fmt: skip
    assert parse_feed(json.dumps(v1).encode()).items[0].author_url == "https://a.example/"


def test_rss1_rdf() -> None:
    feed = load("rss1.rdf")
    assert feed.format == "rss10"
    item = feed.items[0]
    assert item.link == "https://haber.example/ekonomi/acme-zam-2024"
    assert (item.published or item.updated) == datetime(2024, 10, 22, 4, 15, tzinfo=UTC)


def test_malformed_feed_is_read_leniently_and_says_so() -> None:
    feed = load("malformed-rss.xml")
    assert feed.warning and "not well-formed" in feed.warning
    first = feed.items[0]
    assert first.title == "Acme bayisi kapandı mı?"
    assert first.published is None and first.date_text == "Pzt, 21 Eki 2024 25:61:00 +0300"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<html><body><p>Merhaba</p></body></html>", "not an RSS, Atom or JSON feed"),
        (b"", "not an RSS, Atom or JSON feed"),
        (b'{"items": []}', "not a JSON Feed"),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": {}}', "items array"),
        (b"{" * 100_000, "not valid JSON"),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": [' + b"[" * 100_000, "JSON"),
    ],
)
def test_what_is_not_a_feed_is_one_clear_error(body: bytes, reason: str) -> None:
    with pytest.raises(FeedError, match=reason):
        parse_feed(body)


QUADRATIC = (
    b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "' + b"A" * 50_000 + b'">]>'
    b'<rss version="2.0"><channel><item><title>Acme</title><description>'
    + b"&a;" * 50_000
    + b"</description></item></channel></rss>"
)
EXTERNAL = b"""<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><item><title>Acme &xxe;</title></item></channel></rss>"""


@pytest.mark.parametrize(
    "body",
    [
        BILLION_LAUGHS,
        QUADRATIC,
        EXTERNAL,
        BILLION_LAUGHS.decode().replace('"1.0"?>', '"1.0" encoding="utf-16"?>', 1).encode("utf-16"),
    ],
    ids=["billion-laughs", "quadratic-blowup", "external-entity", "billion-laughs-utf16"],
)
def test_entity_expansion_is_refused(body: bytes) -> None:
    with pytest.raises(FeedError, match="entity expansion is a known denial-of-service attack"):
        parse_feed(body)


def test_character_entities_in_a_doctype_are_fine() -> None:
    body = b"""<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY nbsp "&#160;"> <!ENTITY copy '&#xA9;'>]>
<rss version="2.0"><channel><title>t</title><item><title>Acme&nbsp;Kargo &copy;</title>
<link>https://x.example/1</link></item></channel></rss>"""
    assert parse_feed(body).items[0].title == "Acme Kargo ©"


def test_bad_dates_fall_back_to_the_fetch_time() -> None:
    def created(published: str | None) -> datetime:
        feed = ParsedFeed("rss20", "t", "https://s.example/", None)
        body = (
            '<rss version="2.0"><channel><link>https://s.example/</link><item><title>Acme</title>'
            f"<link>https://s.example/1</link><pubDate>{published}</pubDate></item></channel></rss>"
        )
        item = parse_feed(body.encode()).items[0]
        rec = record_for("s", "https://s.example/feed", feed, item, fetched_at=FETCHED, matched=[])
        assert rec is not None
        return FeedRecord.model_validate(rec).to_interaction(rec).created_at

    assert created("Tue, 22 Oct 2024 08:30:00 +0000") == datetime(2024, 10, 22, 8, 30, tzinfo=UTC)
    assert created("yesterday at noon") == FETCHED  # unreadable
    assert created("Wed, 31 Dec 2131 10:00:00 +0000") == FETCHED  # in the future
    assert created("Thu, 01 Jan 1903 00:00:00 +0000") == FETCHED  # before 1970
    assert created("Pzt, 21 Eki 2024 25:61:00 +0300") == FETCHED  # no such time


def test_item_ids_are_stable_and_global() -> None:
    feed = ParsedFeed("rss20", "t", "https://s.example/", None)
    rss = b"""<rss version="2.0"><channel><item><guid isPermaLink="false">42</guid>
<title>Acme</title></item><item><guid>https://s.example/?p=7</guid><link>https://s.example/a</link>
<title>Acme</title></item><item><title>Acme</title><link>https://s.example/b</link></item>
<item><description>no id, no link</description></item></channel></rss>"""
    items = parse_feed(rss).items
    ids = [item_id(feed, it, "src") for it in items]
    assert ids == ["https://s.example/#42", "https://s.example/?p=7", "https://s.example/b", None]


def test_html_to_text() -> None:
    html = (
        "<div><p>Bir&nbsp;iki</p><script>x()</script><style>p{}</style><p>üç &amp; dört</p></div>"
    )
    assert html_to_text(html) == "Bir iki\nüç & dört"


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=2000) | st.text(max_size=1000).map(str.encode))
def test_any_bytes_parse_or_fail_clearly(body: bytes) -> None:
    try:
        feed = parse_feed(body)
    except FeedError as exc:
        assert str(exc)
        return
    assert isinstance(feed.items, list)


XMLISH = st.lists(
    st.sampled_from([
        "<rss version='2.0'>", "<channel>", "<item>", "</item>", "<title>", "</title>",
        "Acme", "&amp;", "&", "<![CDATA[", "]]>", "<link>https://x.example/</link>", "<!--",
        "<pubDate>", "</pubDate>", "Tue, 22 Oct 2024", "<", ">", "\x00", "ı", "<!DOCTYPE rss [",
        "<!ENTITY a 'b'>", "]>", "&a;", "</channel>", "</rss>", "<feed xmlns='http://www.w3.org/2005/Atom'>",
        "<entry>", "</entry>", "</feed>", "<author><uri>https://u.example/</uri></author>",
    ]),
    max_size=40,
).map(lambda parts: "".join(parts).encode())  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(XMLISH)
def test_feedlike_junk_parses_or_fails_clearly(body: bytes) -> None:
    try:
        feed = parse_feed(body)
    except FeedError:
        return
    for item in feed.items:
        assert isinstance(item.text, str)


TEXT = st.text(max_size=300) | st.sampled_from(["", " ", "\x00", "İ" * 300, "a" * 5000])
URLS = st.none() | st.sampled_from(["https://u.example/p", "javascript:alert(1)", "ftp://x",
                                    "https://u.example/" + "a" * 3000, ""])  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(
    ident=st.none() | TEXT, link=URLS, title=st.none() | TEXT, text=TEXT,
    name=st.none() | TEXT, url=URLS, email=st.none() | TEXT,
    published=st.none() | st.datetimes(timezones=st.just(UTC)),
    views=st.none() | st.integers(min_value=0, max_value=2**63 - 1),
)  # fmt: skip
def test_any_item_maps_to_a_valid_interaction_or_a_clear_reject(**f: Any) -> None:
    from pydantic import ValidationError
    from scrm_feeds.parse import ParsedItem

    from scrm.core.schemas import InboundInteraction

    feed = ParsedFeed("rss20", "t", "https://s.example/", "tr-TR")
    item = ParsedItem(id=f["ident"], link=f["link"], title=f["title"], text=f["text"],
                      published=f["published"], updated=None, author_name=f["name"],
                      author_url=f["url"], author_email=f["email"], views=f["views"])  # fmt: skip
    rec = record_for("s", "https://s.example/feed", feed, item, fetched_at=FETCHED, matched=[])
    if rec is None:
        assert not (f["ident"] or f["link"])
        return
    try:
        it = FeedRecord.model_validate(json.loads(json.dumps(rec))).to_interaction(rec)
    except ValidationError as exc:  # the pipeline keeps it as a reject naming the field
        assert exc.errors()
        return
    assert isinstance(it, InboundInteraction) and it.public and it.channel == "feeds"
    assert len(it.external_id) <= 255 and it.created_at <= FETCHED + timedelta(days=1)
