"""Each commenter's comment is a conversation of its own, and replies go to that commenter.

Through ``scrm ingest`` of the bundled sample, webhook deliveries, ``scrm facebook poll``
against the fake Graph API, ``scrm reply`` and ``scrm outbox deliver``, on SQLite and
PostgreSQL.  What the fake Graph API received (the comment replied to, the text) is checked.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from scrm_facebook.sync import receive

from scrm.core.app import Scrm

from .conftest import PAGE_ID, FakeGraph, Reply, Seen

NATIVE = Path(__file__).parent.parent / "sample" / "facebook.jsonl"
PAGE = {"id": PAGE_ID, "name": "Acme Türkiye"}


def people_per_case(app: Scrm) -> dict[int, set[int | None]]:
    """Map each case to the customers of its messages (the page's replies count for theirs)."""
    found: dict[int, set[int | None]] = defaultdict(set)
    for i in app.interactions(channel="facebook", limit=1000):
        if i.case_id is not None:
            found[i.case_id].add(i.customer_id)
    for case_id in found:
        found[case_id].add(app.case(case_id).customer_id)
    return found


def by_id(app: Scrm) -> dict[str, Any]:
    return {i.external_id: i for i in app.interactions(channel="facebook", limit=1000)}


def answer_comments(graph: FakeGraph) -> list[Seen]:
    """Answer every ``POST /{comment-id}/comments`` like Facebook; return what was received."""
    posted: list[Seen] = []
    for_ids = iter(range(1, 100))

    def route(req: Seen) -> Reply:
        posted.append(req)
        return Reply({"id": f"{req.path.split('_')[0]}_99{next(for_ids)}"})

    original = graph.answer

    def answer(seen: Seen) -> Reply:
        if seen.method == "POST" and seen.path.endswith("/comments"):
            return route(seen)
        return original(seen)

    graph.answer = answer  # type: ignore[method-assign]
    return posted


def reply_and_deliver(cli, case_id: int) -> None:
    cli("reply", str(case_id), "--template", "acknowledge")
    out = cli("outbox", "deliver").stdout
    assert out.startswith("sent 1,"), out


# -- the bundled sample ----------------------------------------------------------------


def test_every_case_of_the_sample_holds_one_customer(app: Scrm, cli) -> None:
    cli("ingest", "--channel", "facebook", str(NATIVE))
    cases = people_per_case(app)
    assert len(cases) >= 20
    assert {case: people for case, people in cases.items() if len(people) != 1} == {}
    rows = by_id(app)
    # A customer's comment, the page's answer and the customer's answer under it: one case.
    for chain in (
        ("998702_1234574", "998702_1234597", "998702_1234640"),  # Fatma
        ("998877_1234809", "998877_1234820", "998877_1235468"),  # Gül, a day later
        ("999015_1235090", "999015_1235125", "999015_1235152"),  # Ahmet
    ):
        assert len({rows[c].case_id for c in chain}) == 1 and rows[chain[0]].case_id, chain
        assert {rows[c].thread_key for c in chain[:2]} == {chain[0]}
    # Comments of different people under the same post are different conversations (a
    # person may start a second comment thread of their own, e.g. to say thanks).
    post = [i for i in rows.values() if i.external_id.startswith("999120_")]
    inbound = [i for i in post if i.direction == "inbound"]
    assert len({i.customer_id for i in inbound}) == 7
    for key in ("thread_key", "case_id"):
        owners: dict[object, set[int | None]] = {}
        for i in inbound:
            if getattr(i, key) is not None:
                owners.setdefault(getattr(i, key), set()).add(i.customer_id)
        assert all(len(people) == 1 for people in owners.values()), (key, owners)


def test_a_reply_through_scrm_answers_the_case_customer_s_latest_comment(
    app: Scrm, cli, graph: FakeGraph
) -> None:
    cli("ingest", "--channel", "facebook", str(NATIVE))
    posted = answer_comments(graph)
    rows = by_id(app)
    wanted = {
        # case of this comment: (the comment the reply must answer, its greeting)
        "999120_1235307": ("999120_1235307", "Hi Daniel,"),
        "998702_1234574": ("998702_1234640", "Merhaba Fatma,"),  # her latest, under our answer
        "998877_1234809": ("998877_1235468", "Merhaba Gül,"),
    }
    for first, (target, greeting) in wanted.items():
        case_id = rows[first].case_id
        assert case_id is not None
        reply_and_deliver(cli, case_id)
        sent = posted[-1]
        assert sent.path == f"{target}/comments"
        assert sent.form()["message"].startswith(greeting), sent.form()
        # The delivered reply is the page's message on that case, answering that comment.
        [mine] = [
            i for i in app.interactions(case=case_id, limit=100) if i.text == sent.form()["message"]
        ]
        assert (mine.direction, mine.in_reply_to) == ("outbound", target)
    assert len(posted) == 3
    assert {c: p for c, p in people_per_case(app).items() if len(p) != 1} == {}


# -- webhooks ----------------------------------------------------------------------------


def deliver(app: Scrm, fb, *events: dict[str, Any]) -> None:
    body = fb.raw(fb.body(*events))
    receive(app, fb.sign(body), body)


def test_the_page_s_answers_stay_with_the_commenter_they_answer(app: Scrm, fb) -> None:
    daniel, sophie = ("3088119634567890", "Daniel Wright"), ("4410982276519903", "Sophie Laurent")
    deliver(
        app,
        fb,
        fb.comment("998877_1", "Kargom 5 gündür gelmedi, rezalet!", sender=daniel),
        fb.comment("998877_2", "İnternetim 3 gündür yok, arıza kaydı açın", sender=sophie,
                   created_time=1520544900),
        fb.comment("998877_3", "Merhaba Daniel Bey, DM atar mısınız?", parent_id="998877_1",
                   sender=(PAGE_ID, "Acme Türkiye"), created_time=1520545000),
        fb.comment("998877_4", "Merhaba Sophie Hanım, bakıyoruz", parent_id="998877_2",
                   sender=(PAGE_ID, "Acme Türkiye"), created_time=1520545100),
        fb.comment("998877_5", "Attım, hâlâ bekliyorum", parent_id="998877_3", sender=daniel,
                   created_time=1520545200),
    )  # fmt: skip
    rows = by_id(app)
    assert None not in (rows["998877_1"].case_id, rows["998877_2"].case_id)
    assert rows["998877_1"].case_id != rows["998877_2"].case_id
    assert {rows[c].case_id for c in ("998877_1", "998877_3", "998877_5")} == {
        rows["998877_1"].case_id
    }
    assert rows["998877_4"].case_id == rows["998877_2"].case_id
    assert rows["998877_4"].customer_id == rows["998877_2"].customer_id  # answers Sophie
    assert {c: p for c, p in people_per_case(app).items() if len(p) != 1} == {}


def sophie_under_daniel(app: Scrm, fb) -> None:
    """Deliver Daniel's comment and, by webhook, Sophie's reply under it."""
    daniel, sophie = ("3088119634567890", "Daniel Wright"), ("4410982276519903", "Sophie Laurent")
    deliver(
        app,
        fb,
        fb.comment("998877_1", "Kargom 5 gündür gelmedi, rezalet!", sender=daniel),
        fb.comment("998877_2", "Aynısı bende de oldu, kargo hâlâ yok", parent_id="998877_1",
                   sender=sophie, created_time=1520545000),
    )  # fmt: skip


def test_a_reply_goes_to_the_case_customer_even_when_another_person_wrote_last(
    app: Scrm, cli, fb, graph: FakeGraph
) -> None:
    """Another person's reply under Daniel's comment does not make his case theirs: scrm
    still answers Daniel, by name, on his comment."""
    posted = answer_comments(graph)
    sophie_under_daniel(app, fb)
    case_id = by_id(app)["998877_1"].case_id
    assert case_id is not None
    reply_and_deliver(cli, case_id)
    [sent] = posted
    assert sent.path == "998877_1/comments"
    assert sent.form()["message"].startswith("Merhaba Daniel,")


def test_another_person_s_reply_by_webhook_gets_its_own_case(app: Scrm, fb) -> None:
    sophie_under_daniel(app, fb)
    # Two customers answering the page's own top-level comment share its id as thread key.
    page, maria, ben = (PAGE_ID, "Acme Türkiye"), ("300", "Maria Rossi"), ("400", "Ben Carter")
    deliver(
        app,
        fb,
        fb.comment("998877_7", "Kampanya yarın bitiyor!", sender=page, created_time=1520546000),
        fb.comment("998877_8", "Kargom 5 gündür gelmedi!", parent_id="998877_7", sender=maria,
                   created_time=1520546100),
        fb.comment("998877_9", "Modemim bozuk geldi, değişim istiyorum", parent_id="998877_7",
                   sender=ben, created_time=1520546200),
    )  # fmt: skip
    assert {c: p for c, p in people_per_case(app).items() if len(p) != 1} == {}


# -- polling the Graph API ---------------------------------------------------------------


def _fmt(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S+0000")


def _c(
    cid: str, at: datetime, who: dict[str, str], text: str, parent: dict[str, Any] | None = None
):
    obj: dict[str, Any] = {"id": cid, "message": text, "created_time": _fmt(at), "from": who}
    if parent is not None:
        obj["parent"] = parent
    return obj


X = {"id": "100", "name": "Daniel Wright"}
Y = {"id": "200", "name": "Sophie Laurent"}
Z = {"id": "300", "name": "Maria Rossi"}
W = {"id": "400", "name": "Ben Carter"}


def _serve(graph: FakeGraph, post: dict[str, Any], comments: list[dict[str, Any]]) -> None:
    """Serve one post and its comments, newest first, as ``filter=stream`` does."""
    newest_first = sorted(comments, key=lambda c: c["created_time"], reverse=True)
    graph.on("GET", f"{PAGE_ID}/feed", Reply({"data": [post], "paging": {}}))
    graph.on("GET", f"{post['id']}/comments", Reply({"data": newest_first, "paging": {}}))


def test_poll_gives_every_commenter_a_conversation_of_their_own(
    app: Scrm, cli, graph: FakeGraph
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    t = [now - timedelta(hours=6) + timedelta(minutes=20 * i) for i in range(12)]
    post = {
        "id": f"{PAGE_ID}_3",
        "message": "eSIM kampanyası başladı!",
        "created_time": _fmt(t[0]),
        "updated_time": _fmt(t[0]),
        "from": PAGE,
    }
    comments = [
        _c("3_10", t[1], X, "İnternetim 3 gündür yok, arıza kaydı açın lütfen"),
        _c("3_11", t[2], PAGE, "Merhaba Daniel Bey, DM atar mısınız?", {"id": "3_10", "from": X}),
        _c("3_12", t[3], X, "Attım, hâlâ internet yok", {"id": "3_11", "from": PAGE}),
        _c("3_20", t[4], Y, "Faturam iki kez kesildi, iade istiyorum", {"id": "3_10", "from": X}),
        _c("3_21", t[5], PAGE, "Merhaba Sophie Hanım, bakıyoruz", {"id": "3_20", "from": Y}),
        _c("3_30", t[6], PAGE, "Kampanya yarın bitiyor!"),
        _c("3_31", t[7], Z, "Kargom 5 gündür gelmedi, rezalet!", {"id": "3_30", "from": PAGE}),
        _c("3_32", t[8], W, "Modemim bozuk geldi, değişim istiyorum", {"id": "3_30", "from": PAGE}),
    ]  # fmt: skip
    _serve(graph, post, comments)
    out = json.loads(cli("facebook", "poll", "--json").stdout)
    assert (out["stored"], out["rejected"]) == (9, 0)
    rows = by_id(app)
    thread = {
        c: rows[c].thread_key for c in ("3_10", "3_11", "3_12", "3_20", "3_21", "3_31", "3_32")
    }
    assert thread == {
        "3_10": "3_10", "3_11": "3_10", "3_12": "3_10",  # Daniel's, with the page's answer
        "3_20": "3_20", "3_21": "3_20",  # Sophie's reply under Daniel's comment is hers
        "3_31": "3_31", "3_32": "3_32",  # replies to the page's own comment: one each
    }  # fmt: skip
    assert rows["3_20"].in_reply_to is None and rows["3_21"].in_reply_to == "3_20"
    assert rows["3_12"].in_reply_to == "3_11"
    assert {c: p for c, p in people_per_case(app).items() if len(p) != 1} == {}
    assert rows["3_10"].case_id is not None
    assert len({rows[c].case_id for c in ("3_10", "3_11", "3_12")}) == 1
    assert rows["3_21"].case_id == rows["3_20"].case_id != rows["3_10"].case_id

    # A later poll: a reply under a comment read before is placed by its parent's author.
    later = _c("3_40", now - timedelta(minutes=5), Z, "Bende de internet yok, Kadıköy",
               {"id": "3_10", "from": X})  # fmt: skip
    _serve(graph, post, [*comments, later])
    assert json.loads(cli("facebook", "poll", "--json").stdout)["stored"] == 1
    rows = by_id(app)
    assert (rows["3_40"].thread_key, rows["3_40"].in_reply_to) == ("3_40", None)
    assert rows["3_40"].case_id != rows["3_10"].case_id
    assert {c: p for c, p in people_per_case(app).items() if len(p) != 1} == {}

    posted = answer_comments(graph)
    sophie_case = rows["3_20"].case_id
    assert sophie_case is not None
    reply_and_deliver(cli, sophie_case)
    [sent] = posted
    assert sent.path == "3_20/comments" and sent.form()["message"].startswith("Merhaba Sophie,")


# -- Messenger ---------------------------------------------------------------------------


def test_messenger_is_one_conversation_per_person(app: Scrm, cli, fb, graph: FakeGraph) -> None:
    emre, deniz = "7283910045512783", "6650182934471029"
    ms = int((datetime.now(UTC) - timedelta(hours=2)).timestamp() * 1000)
    deliver(
        app,
        fb,
        fb.message("m_e1", "Modemimin ışıkları kırmızı yanıyor, internet yok", psid=emre, timestamp=ms),
        fb.message("m_d1", "Yurtdışı paketi aldım ama internet çalışmıyor", psid=deniz,
                   timestamp=ms + 1000),
        fb.message("m_e2", "Merhaba Emre Bey, arıza kaydı açtık", psid=emre, echo=True,
                   timestamp=ms + 2000),
        fb.message("m_d2", "Yazıyorum kimse bakmıyor mu??", psid=deniz, timestamp=ms + 3000),
        fb.message("m_e3", "Hâlâ yok, yarın mağazaya gideceğim", psid=emre, timestamp=ms + 4000),
    )  # fmt: skip
    rows = by_id(app)
    assert {rows[m].thread_key for m in ("m_e1", "m_e2", "m_e3")} == {f"messenger:{emre}"}
    assert {rows[m].case_id for m in ("m_e1", "m_e2", "m_e3")} == {rows["m_e1"].case_id}
    assert rows["m_d1"].case_id == rows["m_d2"].case_id != rows["m_e1"].case_id
    assert {c: p for c, p in people_per_case(app).items() if len(p) != 1} == {}

    graph.on("POST", "me/messages", Reply({"recipient_id": deniz, "message_id": "m_sent"}))
    case_id = rows["m_d1"].case_id
    assert case_id is not None
    reply_and_deliver(cli, case_id)
    sent = [s for s in graph.seen if s.path == "me/messages"][-1].json()
    assert sent["recipient"] == {"id": deniz} and sent["messaging_type"] == "RESPONSE"
    assert by_id(app)["m_sent"].case_id == case_id
