"""Mapping statuses, notifications, searches and contexts; hostile content and bounds."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fake_mastodon import status
from hypothesis import given, settings
from hypothesis import strategies as st
from mastodon_data import AYSE, BRAND, MEHMET, at, snowflake
from scrm_mastodon.content import MAX_HTML_LENGTH, html_to_text
from scrm_mastodon.mapping import Mapper, split_payload

from scrm.core.app import Scrm
from scrm.core.channel import ParseError
from scrm.core.schemas import MAX_TEXT_LENGTH

MAPPER = Mapper([BRAND["id"]])


def one(payload: Any) -> Any:
    (it,) = MAPPER.parse(payload)
    return it


def test_a_customer_status_maps_every_field() -> None:
    media = [{"id": "22345792", "type": "image", "url": "https://files.example/original/x.png",
              "preview_url": "https://files.example/small/x.png", "remote_url": None,
              "description": "modem ışıkları", "blurhash": "UFBWY:8_0Jxv"}]  # fmt: skip
    s = status(snowflake(1), MEHMET, '<p>Acme &amp; fiber: <a href="https://ex.example/a" rel="nofollow">rapor</a></p>',
               created_at=at(1), favourites=7, reblogs=3, spoiler="fatura", media=media,
               language="tr")  # fmt: skip
    it = one(s)
    assert it.channel == "mastodon" and it.external_id == s["id"]
    assert it.text == "Acme & fiber: rapor (https://ex.example/a)"
    assert it.subject == "fatura" and it.language == "tr" and it.public
    assert it.direction == "inbound" and it.thread_key == s["id"] and it.in_reply_to is None
    assert it.created_at.isoformat() == "2024-10-27T10:01:00+00:00"
    a = it.author
    assert (a.external_id, a.handle, a.display_name, a.followers) == (
        MEHMET["id"], "mehmet_k@fosstodon.org", "Mehmet_K", 48)  # fmt: skip
    assert a.account_created_at is not None
    assert it.engagement.likes == 7 and it.engagement.shares == 3
    (att,) = it.attachments
    assert att.content_type == "image/*" and att.name == "modem ışıkları"
    assert it.raw == s  # the status itself: it parses again to the same interaction
    assert one(it.raw) == it


def test_brand_statuses_are_outbound_and_name_the_customer() -> None:
    root = status(
        snowflake(1), AYSE, "<p>@acmedestek yardım</p>", created_at=at(1), mentions=[BRAND]
    )
    ours = status(snowflake(2), BRAND, "<p>@aysylmz bakıyoruz</p>", created_at=at(2),
                  reply_to=root, mentions=[AYSE], visibility="direct")  # fmt: skip
    it = one(ours)
    assert it.direction == "outbound" and not it.public
    assert it.in_reply_to == root["id"] and it.thread_key is None
    assert it.recipient is not None
    assert (it.recipient.external_id, it.recipient.handle) == (AYSE["id"], "aysylmz")
    # a direct message that answers nothing finds its recipient among the mentions
    dm = status(snowflake(3), BRAND, "<p>@aysylmz selam</p>", created_at=at(3),
                mentions=[AYSE], visibility="direct")  # fmt: skip
    assert one(dm).recipient.external_id == AYSE["id"]
    # the brand's own post addresses nobody
    assert one(status(snowflake(4), BRAND, "<p>duyuru</p>", created_at=at(4))).recipient is None


def test_payload_shapes_split_into_statuses() -> None:
    a = status(snowflake(1), AYSE, "<p>a</p>", created_at=at(1), mentions=[BRAND])
    b = status(snowflake(2), MEHMET, "<p>b</p>", created_at=at(2), reply_to=a)
    boost = {**status(snowflake(3), MEHMET, "", created_at=at(3)), "reblog": a}
    notes = [{"id": "1", "type": "mention", "created_at": at(1), "account": AYSE, "status": a},
             {"id": "2", "type": "favourite", "created_at": at(2), "account": MEHMET, "status": a},
             {"id": "3", "type": "follow", "created_at": at(2), "account": MEHMET}]  # fmt: skip
    assert list(split_payload(notes)) == [a]
    assert list(split_payload({"accounts": [], "statuses": [a, b], "hashtags": []})) == [a, b]
    assert list(split_payload({"ancestors": [a], "descendants": [b]})) == [a, b]
    assert [i.external_id for i in MAPPER.parse([a, b, boost])] == [a["id"], b["id"]]


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"id": "../../etc"}, "id", "not an id"),
        ({"id": 12}, "id", "not an id"),
        ({"created_at": "yesterday"}, "created_at", "ISO 8601"),
        ({"created_at": "2024-10-27T10:00:00"}, "created_at", "without a zone"),
        ({"created_at": "1500-01-01T00:00:00Z"}, None, "between 1970 and 2099"),
        ({"visibility": "secret"}, "visibility", "not one of"),
        ({"content": ["<p>"]}, "content", "expected a string"),
        ({"content": "x" * (MAX_HTML_LENGTH + 1)}, "content", "of HTML, over"),
        ({"content": "<p>" + "y" * (MAX_TEXT_LENGTH + 1) + "</p>"}, "content", "characters, over"),
        ({"account": "ayse"}, "account", "not an object"),
        ({"favourites_count": -1}, "favourites_count", "a count"),
        ({"favourites_count": 2**64}, None, "less than or equal"),
        ({"media_attachments": {"a": 1}}, "media_attachments", "a list"),
        ({"in_reply_to_id": "1 OR 1=1"}, "in_reply_to_id", "not an id"),
    ],
)
def test_hostile_statuses_are_refused_naming_the_field(
    change: dict[str, Any], field: str | None, reason: str
) -> None:
    s = {**status(snowflake(1), AYSE, "<p>x</p>", created_at=at(1)), **change}
    with pytest.raises(ParseError) as err:
        list(MAPPER.parse(s))
    assert err.value.field == field and reason in err.value.reason


def test_hostile_account_fields_are_bounded() -> None:
    acc = {**AYSE, "display_name": "Ä" * 5000, "acct": "a" * 400, "followers_count": 2**40}
    with pytest.raises(ParseError, match="followers"):
        list(MAPPER.parse(status(snowflake(1), acc, "<p>x</p>", created_at=at(1))))
    acc["followers_count"] = 5
    it = one(status(snowflake(1), acc, "<p>x</p>", created_at=at(1)))
    assert len(it.author.display_name) == 255 and len(it.author.handle) == 255


def test_nul_and_lone_surrogates_are_replaced_not_refused() -> None:
    it = one(status(snowflake(1), AYSE, "<p>a\x00b\ud800c</p>", created_at=at(1)))
    assert it.text == "a\ufffdb\ufffdc"


def test_html_is_read_as_text() -> None:
    cases = {
        "<p>one</p><p>two<br>three</p>": "one\n\ntwo\nthree",
        '<p><a href="https://x.example/tags/acme" class="mention hashtag">#<span>acme</span></a></p>': "#acme",
        '<a href="https://e.example/p"><span class="invisible">https://</span><span class="ellipsis">e.example/</span><span class="invisible">p</span></a>': "https://e.example/p",
        '<a href="javascript:alert(1)">tıkla</a>': "tıkla",
        "<script>alert('x')</script><style>p{}</style>ok": "ok",
        "a <!-- gizli --> b": "a  b",
        "1 < 2 and 3 > 2, &lt;b&gt; &#x131; &unknown;": "1 < 2 and 3 > 2, <b> ı &unknown;",
        "<p>unclosed <b": "unclosed <b",
        "": "",
    }
    for html, text in cases.items():
        assert html_to_text(html) == text, html


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [*"<>/ab\"'=& \n!-p", "<p>", "</a>", '<a href="https://z.example">', "<br>", "&amp;"]
        ),
        max_size=120,
    ).map("".join)
)
def test_any_html_gives_bounded_text_without_its_markup(html: str) -> None:
    text = html_to_text(html)
    assert "<br>" not in text and "</a>" not in text and '<a href="' not in text
    assert text == text.strip()
    # every character comes from the input, or is a link's address added once per anchor
    assert len(text) <= len(html) + html.count("<a") * len(" (https://z.example)")


def test_ingest_cli_rejects_a_bad_status_and_keeps_its_neighbours(
    cli: Any, app: Scrm, tmp_path: Any
) -> None:
    good = status(
        snowflake(1), AYSE, "<p>@acmedestek kargo?</p>", created_at=at(1), mentions=[BRAND]
    )
    bad = {**status(snowflake(2), MEHMET, "<p>b</p>", created_at=at(2)), "created_at": "dün"}
    page = [good, bad, status(snowflake(3), MEHMET, "<p>c</p>", created_at=at(3))]
    path = tmp_path / "m.jsonl"
    # a line is one JSON object: a page of statuses is kept as a search result's shape
    line = json.dumps({"statuses": page}, ensure_ascii=False)
    path.write_text(line + "\n[\n", encoding="utf-8")
    report = json.loads(
        cli("ingest", "--channel", "mastodon", str(path), "--json", expect=3).stdout
    )
    assert (report["stored"], report["rejected"]) == (2, 2)
    field = next(r for r in report["rejects"] if r["position"] == 1)
    assert (
        field["field"] == "[1].created_at" and json.loads(field["payload"])["created_at"] == "dün"
    )
