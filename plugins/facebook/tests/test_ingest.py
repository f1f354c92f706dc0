"""Webhook intake, redelivery, edits, polling and the CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from scrm_facebook.sync import SignatureError, receive

from scrm.core.app import Scrm

from .conftest import PAGE_ID, FakeGraph, Reply, Seen


def stored(app: Scrm) -> dict[str, Any]:
    return {i.external_id: i for i in app.interactions(channel="facebook", limit=1000)}


def test_one_bad_entry_is_rejected_alone(app: Scrm, fb) -> None:
    bad = fb.comment("998877_9")
    bad["value"]["from"] = "not an object"
    body = fb.raw(fb.body(fb.comment("998877_1"), bad, fb.message("m_1"), fb.message("m_2")))
    report = receive(app, fb.sign(body), body)
    assert (report.stored, report.rejected) == (3, 1)
    assert set(stored(app)) == {"998877_1", "m_1", "m_2"}
    [reject] = app.rejects()
    assert reject.source == "webhook:facebook" and reject.channel == "facebook"
    assert reject.field == "entry[0].changes[0].value.from"
    kept = json.loads(reject.payload)
    assert kept["entry"][0]["changes"][0]["value"]["comment_id"] == "998877_9"  # only the bad one


def test_one_bad_entry_in_a_file_line_is_rejected_alone(app: Scrm, cli, fb, tmp_path: Path) -> None:
    bad = fb.message("m_bad")
    bad["timestamp"] = "yesterday"
    path = tmp_path / "fb.jsonl"
    path.write_bytes(fb.raw(fb.body(fb.comment("998877_1"), bad, fb.message("m_1"))) + b"\n")
    result = cli("ingest", "--channel", "facebook", str(path), "--json", expect=3)
    out = json.loads(result.stdout)
    assert (out["stored"], out["rejected"]) == (2, 1)
    [reject] = app.rejects()
    assert reject.position == 1 and reject.field is not None
    assert reject.field.endswith("entry[0].messaging[0].timestamp")
    assert "m_bad" in reject.payload and "998877_1" not in reject.payload


def test_a_wrong_signature_stores_nothing(app: Scrm, fb) -> None:
    body = fb.raw(fb.body(fb.comment()))
    with pytest.raises(SignatureError):
        receive(app, fb.sign(body, "another secret"), body)
    with pytest.raises(SignatureError):
        receive(app, {}, body)
    assert stored(app) == {} and app.rejects() == []


def test_redelivery_through_scrm_ingest_stores_nothing_twice(
    app: Scrm, cli, fb, tmp_path: Path
) -> None:
    body = fb.body(
        fb.comment("998877_1", "Kargom hâlâ gelmedi! Rezalet."),
        fb.comment(
            "998877_2",
            "Merhaba, DM atar mısınız?",
            parent_id="998877_1",
            sender=(PAGE_ID, "Acme Türkiye"),
            created_time=1520544900,
        ),
        fb.message("m_1", "sipariş no 4471"),
        fb.message("m_2", "Bakıyoruz", echo=True, timestamp=1457764199000),
    )
    path = tmp_path / "facebook.jsonl"
    path.write_bytes(fb.raw(body) + b"\n")
    first = json.loads(cli("ingest", "--channel", "facebook", str(path), "--json").stdout)
    assert (first["stored"], first["rejected"]) == (4, 0)
    again = json.loads(cli("ingest", "--channel", "facebook", str(path), "--json").stdout)
    assert (again["stored"], again["duplicates"], again["rejected"]) == (0, 4, 0)
    rows = stored(app)
    assert len(rows) == 4
    assert rows["998877_2"].direction == "outbound" and rows["m_2"].direction == "outbound"
    assert rows["998877_2"].case_id == rows["998877_1"].case_id  # the page answered that case


def test_edits_and_removals_keep_history(app: Scrm, fb) -> None:
    original = fb.body(fb.comment(message="Kargom hâlâ gelmedi, rezalet!"))
    edited = fb.body(
        fb.comment(message="Kargom geldi, teşekkürler", verb="edited"), time=1520546000
    )
    removed = fb.body(fb.comment(message=None, verb="remove"), time=1520547000)
    for payload in (original, edited, removed, edited):  # the edit is delivered twice
        body = fb.raw(payload)
        receive(app, fb.sign(body), body)
    rows = stored(app)
    assert len(rows) == 3
    first = rows["998877_1234567"]
    assert first.text == "Kargom hâlâ gelmedi, rezalet!"  # the original text is never overwritten
    [edit] = [r for k, r in rows.items() if "#edit-" in k]
    assert edit.text == "Kargom geldi, teşekkürler" and edit.in_reply_to == first.external_id
    gone = rows["998877_1234567#removed"]
    assert gone.in_reply_to == first.external_id and gone.text == ""
    if first.case_id is not None:
        assert edit.case_id == gone.case_id == first.case_id


# -- polling ------------------------------------------------------------------------------


def _fmt(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S+0000")


def _comment(cid: str, at: datetime, who: str, text: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": cid,
        "message": text,
        "created_time": _fmt(at),
        "from": {"id": who, "name": f"User {who}"},
        "like_count": 1,
        "comment_count": 0,
        **extra,
    }


def _serve_feed(graph: FakeGraph, now: datetime, likes: int = 3) -> None:
    post_b, post_a = f"{PAGE_ID}_2", f"{PAGE_ID}_1"
    posts = {
        None: (
            [{"id": post_b, "message": "Yeni kampanya!", "created_time": _fmt(now - timedelta(hours=5)),
              "updated_time": _fmt(now - timedelta(minutes=10)), "from": {"id": PAGE_ID, "name": "Acme"}}],
            "CURSOR_B",
        ),
        "CURSOR_B": (
            [{"id": post_a, "message": "Eski gönderi", "created_time": _fmt(now - timedelta(days=30)),
              "updated_time": _fmt(now - timedelta(hours=1)), "from": {"id": PAGE_ID, "name": "Acme"}}],
            None,
        ),
    }  # fmt: skip

    def feed(req: Seen) -> Reply:
        data, after = posts[req.query.get("after")]
        paging: dict[str, Any] = {"cursors": {"before": "B0", "after": after or "END"}}
        if after:
            paging["next"] = f"{graph.url}/{PAGE_ID}/feed?after={after}&access_token=LEAK"
        return Reply({"data": data, "paging": paging})

    newest = now - timedelta(minutes=10)
    b_pages = {
        None: [
            _comment("2_30", newest, "300", "Fiyatı ne kadar?", like_count=likes),
            _comment("2_20", now - timedelta(hours=2), "200", "Bende de aynı sorun", parent={"id": "2_10"}),
        ],
        "P2": [
            {"id": "2_15", "message": "yazarı görünmüyor", "created_time": _fmt(now - timedelta(hours=3))},
            _comment("2_10", now - timedelta(hours=4), "100", "İnternet yok 3 gündür"),
        ],
    }  # fmt: skip

    def comments_b(req: Seen) -> Reply:
        page = req.query.get("after")
        paging: dict[str, Any] = {}
        if page is None:  # only a next URL, no cursors: the client must follow it safely
            paging["next"] = f"{graph.url}/{post_b}/comments?after=P2&access_token=LEAK"
        return Reply({"data": b_pages[page], "paging": paging})

    graph.on("GET", f"{PAGE_ID}/feed", feed)
    graph.on("GET", f"{post_b}/comments", comments_b)
    old = _comment("1_5", now - timedelta(hours=1), "500", "Hâlâ cevap yok")
    graph.on("GET", f"{post_a}/comments", Reply({"data": [old], "paging": {}}))


def test_poll_reads_every_page_and_resumes_from_its_cursor(
    app: Scrm, cli, graph: FakeGraph
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    _serve_feed(graph, now)
    out = json.loads(cli("facebook", "poll", "--json").stdout)
    assert (out["posts"], out["comments"], out["skipped"]) == (1, 4, 1)
    assert out["stored"] == 5
    rows = stored(app)
    assert set(rows) == {f"{PAGE_ID}_2", "2_30", "2_20", "2_10", "1_5"}
    assert rows[f"{PAGE_ID}_2"].direction == "outbound"
    # 2_20 answers another customer's comment: a conversation of its own, not theirs.
    assert (rows["2_10"].thread_key, rows["2_20"].thread_key) == ("2_10", "2_20")
    assert rows["2_20"].in_reply_to is None and rows["2_20"].case_id != rows["2_10"].case_id
    assert rows["2_30"].engagement == {
        "likes": 3,
        "shares": 0,
        "replies": 0,
        "quotes": 0,
        "views": None,
    }
    assert all("access_token" not in s.query for s in graph.seen)
    assert any(s.query.get("after") == "CURSOR_B" for s in graph.seen)
    state = app.load_state("facebook", f"feed:{PAGE_ID}")
    assert state == {"since": int((now - timedelta(minutes=10)).timestamp())}

    graph.seen.clear()
    _serve_feed(graph, now, likes=40)
    again = json.loads(cli("facebook", "poll", "--json").stdout)
    assert again["stored"] == 0 and again["updated"] == 1  # only the newest is re-read
    assert stored(app)["2_30"].engagement["likes"] == 40  # type: ignore[index]


def test_poll_with_an_expired_token_says_so(cli, graph: FakeGraph) -> None:
    graph.token = "a-new-token"
    result = cli("facebook", "poll", expect=1)
    assert "invalid or has expired" in result.stderr


def test_check_reports_missing_subscriptions(cli, graph: FakeGraph) -> None:
    graph.on("GET", PAGE_ID, Reply({"id": PAGE_ID, "name": "Acme Türkiye"}))
    graph.on(
        "GET",
        f"{PAGE_ID}/subscribed_apps",
        Reply({"data": [{"name": "scrm", "id": "1", "subscribed_fields": ["feed", "messages"]}]}),
    )
    result = cli("facebook", "check", expect=1)
    assert "Acme Türkiye" in result.stdout
    assert "message_echoes" in result.stderr
    graph.on(
        "GET",
        f"{PAGE_ID}/subscribed_apps",
        Reply({"data": [{"subscribed_fields": ["feed", "messages", "message_echoes"]}]}),
    )
    ok = json.loads(cli("facebook", "check", "--json").stdout)
    assert ok["problems"] == []


def test_a_messenger_text_over_the_maximum_is_rejected_before_it_is_read(app: Scrm, fb) -> None:
    # 10 MB of "a.": the e-mail pattern once took minutes on it; now nothing reads it at all.
    huge = fb.message("m_huge", "a." * 5_000_000)
    body = fb.raw(fb.body(huge, fb.message("m_1", "kargom nerede? a@b.com")))
    report = receive(app, fb.sign(body), body)
    assert (report.stored, report.rejected) == (1, 1)
    assert set(stored(app)) == {"m_1"}
    [reject] = app.rejects()
    assert reject.field == "entry[0].messaging[0].message.text"
    assert reject.reason == "10000000 characters, over the 100000 allowed"
    assert "m_huge" in reject.payload


def test_a_comment_over_the_maximum_is_rejected_with_its_field(app: Scrm, fb) -> None:
    body = fb.raw(fb.body(fb.comment("998877_1", " " * 100_001), fb.comment("998877_2")))
    report = receive(app, fb.sign(body), body)
    assert (report.stored, report.rejected) == (1, 1)
    [reject] = app.rejects()
    assert reject.field == "entry[0].changes[0].value.message"
    assert reject.reason == "100001 characters, over the 100000 allowed"
