"""A feed item cannot be answered through scrm: the case says where, the agent records it."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from scrm_feeds.poller import Poller

from scrm.core.app import Scrm
from scrm.core.channel import PermanentSendError
from scrm.core.config import Config
from scrm.core.models import Case, Interaction, OutboxMessage
from scrm.core.schemas import OutboundMessage

VIDEO = "https://www.youtube.com/watch?v=Zk3aP9x2LqE"


def video_case(app: Scrm, poller: Poller) -> int:
    poller.poll(["youtube"])
    with app.session(read_only=True) as s:
        it = s.scalars(sa.select(Interaction).where(Interaction.answer_url == VIDEO)).one()
        assert it.case_id is not None
        return it.case_id


def test_reply_is_refused_naming_the_page(app: Scrm, poller: Poller, cli: Any) -> None:
    case_id = video_case(app, poller)
    out = cli("reply", str(case_id), "--text", "Merhaba, bakıyoruz", expect=1)
    assert f"reply on the page itself, {VIDEO}" in out.stderr
    assert f"scrm case answered {case_id}" in out.stderr
    with app.session(read_only=True) as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 0
    shown = cli("case", "show", str(case_id)).stdout
    assert "answer on the page itself" in shown and VIDEO in shown


def test_the_answer_given_there_is_recorded_once_and_moves_the_loop(
    app: Scrm, poller: Poller, cli: Any
) -> None:
    case_id = video_case(app, poller)
    args = ("case", "answered", str(case_id), "--actor", "zeynep", "--at",
            "2024-10-23T09:00:00+03:00", "--text", "Merhaba, bağlantı sorununu inceliyoruz, bilgi vereceğiz.")  # fmt: skip
    assert "recorded" in cli(*args).stdout
    assert "already recorded" in cli(*args).stdout
    with app.session(read_only=True) as s:
        case = s.get(Case, case_id)
        assert case is not None and case.status == "acknowledged"
        assert case.first_response_at is not None
        answers = s.scalars(
            sa.select(Interaction).where(
                Interaction.case_id == case_id, Interaction.direction == "outbound"
            )
        ).all()
    assert len(answers) == 1
    a = answers[0]
    assert a.public and a.channel == "feeds" and a.in_reply_to == "yt:video:Zk3aP9x2LqE"
    assert a.raw == {"answered_at": VIDEO, "recorded_by": "zeynep"}
    assert "no case 999" in cli("case", "answered", "999", "--text", "x", expect=1).stderr


@pytest.fixture
def scrm_config(scrm_database_url: str, feeds_settings: dict[str, Any]) -> Config:
    cfg = Config(database_url=scrm_database_url, channels={"feeds": feeds_settings})
    cfg.cases.auto_acknowledge = True
    return cfg


def test_no_automatic_acknowledgment_is_queued_for_a_feed_case(app: Scrm, poller: Poller) -> None:
    case_id = video_case(app, poller)
    with app.session(read_only=True) as s:
        assert s.scalars(sa.select(OutboxMessage)).all() == []
        case = s.get(Case, case_id)
        assert case is not None and case.status == "new"  # waiting for a person to answer


def test_the_channel_refuses_to_send(app: Scrm) -> None:
    msg = OutboundMessage(channel="feeds", text="x", public=True, idempotency_key="k", case_id=4,
                          thread_key=f"feed:{VIDEO}")  # fmt: skip
    with pytest.raises(
        PermanentSendError, match=rf"\({VIDEO.replace('?', '[?]')}\).*scrm case answered 4"
    ):
        app.channel("feeds").send(msg)


def test_an_incident_reply_skips_the_feed_case_and_answers_the_others(
    app: Scrm, poller: Poller, cli: Any
) -> None:
    poller.poll(["youtube", "forum"])
    with app.session(read_only=True) as s:
        ids = sorted(c for c in s.scalars(sa.select(Interaction.case_id)) if c is not None)
    phone = cli("interactions", "add", "--channel", "phone", "--phone", "+90 532 111 22 33",
                "--text", "Acme modemim her akşam kopuyor", "--json").stdout  # fmt: skip
    assert phone
    with app.session(read_only=True) as s:
        phone_case = s.scalar(sa.select(Case.id).where(Case.channel == "phone"))
    cli("case", "link", *map(str, ids), str(phone_case), "--incident", "modem-kopma")
    out = cli("reply", "--incident", "modem-kopma", "--text", "Sorunu inceliyoruz.").stdout
    assert "queued 1 replies" in out
    with app.session(read_only=True) as s:
        assert {r.case_id for r in s.scalars(sa.select(OutboxMessage))} == {phone_case}


def test_over_rest_the_reply_is_refused_and_the_answer_recorded(app: Scrm, poller: Poller) -> None:
    from scrm.core.apikeys import create_key
    from scrm.server import create_app

    case_id = video_case(app, poller)
    department = app.case(case_id).department
    assert department is not None
    with app.session() as s:  # an agent of the case's department
        _, token = create_key(s, name="agent", role="agent", actor="test", departments=[department])
    headers = {"Authorization": f"Bearer {token}"}

    async def go() -> tuple[Any, Any]:
        import httpx

        transport = httpx.ASGITransport(app=create_app(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://scrm.test/api/v1") as c:
            refused = await c.post(f"/cases/{case_id}/replies", json={"text": "Merhaba"},
                                   headers=headers)  # fmt: skip
            recorded = await c.post(f"/cases/{case_id}/answers", headers=headers,
                                    json={"text": "Merhaba, inceliyoruz.",
                                          "at": "2024-10-23T09:00:00+03:00"})  # fmt: skip
            return refused, recorded

    import asyncio

    refused, recorded = asyncio.run(go())
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "refused"
    assert VIDEO in refused.json()["error"]["message"]
    assert recorded.status_code == 201
    body = recorded.json()
    assert body["status"] == "acknowledged" and body["first_response_at"]
    assert [i["direction"] for i in body["interactions"]] == ["inbound", "outbound"]
    assert body["interactions"][0]["answer_url"] == VIDEO
