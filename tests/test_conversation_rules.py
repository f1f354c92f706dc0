"""How conversations land on cases and move them: each rule of the conversations section of
docs/complaint-loop.md, through the Python API and the CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from helpers import T0, message
from loopkit import Recorder

from scrm.core.app import Scrm
from scrm.core.conversation import is_chasing, is_gratitude
from scrm.core.models import Interaction
from scrm.core.services import cases as case_service


def say(app: Scrm, *messages: dict[str, Any]) -> None:
    report = app.ingest(list(messages))
    assert report.rejected == 0, report.rejects


def brand(n: str, text: str, *, to: str, minutes: float, **extra: Any) -> dict[str, Any]:
    return message(
        n, text, author="acme", minutes=minutes, direction="outbound", in_reply_to=to,
        public=extra.pop("public", True), recipient={"external_id": extra.pop("customer", "u1")},
        **extra,
    )  # fmt: skip


def events(app: Scrm, case_id: int) -> list[str]:
    return [e.action for e in app.case(case_id).events]


def case_of(app: Scrm, external_id: str) -> int | None:
    [it] = [i for i in app.interactions(limit=1000) if i.external_id == external_id]
    return it.case_id


# -- brand replies move the loop ---------------------------------------------------------------


def test_a_public_answer_acknowledges_and_a_thank_you_resolves(app: Scrm) -> None:
    say(
        app,
        message("c1", "@Acme my router keeps dropping the connection every hour", thread_key="c1"),
        brand("b1", "So sorry about that! Please try restarting it while we check the line.",
              to="c1", minutes=10, thread_key="c1"),
        message("c2", "Brilliant thanks 😊 it works now", minutes=30, thread_key="c1",
                in_reply_to="b1"),
        brand("b2", "You're welcome!", to="c2", minutes=32, thread_key="c1"),
    )  # fmt: skip
    case = app.case(case_of(app, "c1"))
    assert case.status == "resolved"
    assert case.first_response_at == T0.replace(minute=10)
    assert "satisfaction" in events(app, case.id)
    [thanked] = [e for e in case.events if e.action == "satisfaction"]
    assert thanked.actor == "customer" and "Brilliant" in (thanked.note or "")


def test_a_thank_you_can_ask_for_confirmation_instead(app: Scrm) -> None:
    cases = app.config.cases.model_copy(update={"on_thanks": "confirm"})
    app.config = app.config.model_copy(update={"cases": cases})
    say(
        app,
        message("c1", "@Acme faturam iki kez kesildi", thread_key="c1"),
        brand("b1", "Merhaba, iade işlemini başlattık.", to="c1", minutes=10, thread_key="c1"),
        message("c2", "Çok teşekkür ederim", minutes=30, thread_key="c1", in_reply_to="b1"),
    )
    assert app.case(case_of(app, "c1")).status == "solution_proposed"


def test_a_request_for_details_waits_on_the_customer_and_their_dm_resumes(app: Scrm) -> None:
    say(
        app,
        message("c1", "@Acme faturam iki kez kesildi, rezalet", thread_key="c1"),
        brand("b1", "Merhaba, DM üzerinden hizmet numaranızı iletir misiniz?", to="c1",
              minutes=10, thread_key="c1"),
    )  # fmt: skip
    case = app.case(case_of(app, "c1"))
    assert case.status == "contacted" and case.waiting_since is not None
    # The details arrive by DM, a channel thread of its own: the same case goes on.
    say(app, message("d1", "Hizmet no 5321112233", minutes=40, public=False, thread_key="dm:1"))
    assert case_of(app, "d1") == case.id
    after = app.case(case.id)
    assert after.waiting_since is None and after.status == "contacted"
    assert len(app.cases()) == 1


def test_a_phone_call_about_the_tweet_continues_its_case(app: Scrm) -> None:
    say(
        app,
        message("c1", "@Acme faturam iki kez kesildi", thread_key="c1",
                author_obj={"external_id": "tw1", "phone": "+905321112233"}),
        brand("b1", "Merhaba, telefon numaranızı DM ile iletir misiniz?", to="c1", minutes=5,
              thread_key="c1", customer="tw1"),
        message("p1", "Müşteri aradı: çift fatura kesilmiş, iade istiyor", channel="phone",
                minutes=60, author_obj={"external_id": "+905321112233",
                                        "phone": "+905321112233"}),
    )  # fmt: skip
    assert case_of(app, "p1") == case_of(app, "c1")


# -- no complaint lost ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["You've paralysed my phone with your update grrrr", "Bu bir KVKK ihlali", "hmm."],
)
def test_every_public_message_from_a_person_lands_on_a_case(app: Scrm, text: str) -> None:
    say(app, message("c1", text, thread_key="c1"))
    case_id = case_of(app, "c1")
    assert case_id is not None
    case = app.case(case_id)
    assert case.status == "new" and case.first_response_due is not None
    assert case in app.cases(status="open") or case.id in {c.id for c in app.cases()}


def test_the_brand_answering_a_message_read_as_spam_gives_it_a_case(app: Scrm) -> None:
    say(app, message("c1", "Evden çalışarak günde 5000 TL kazanmak ister misin? dm at",
                     thread_key="c1"))  # fmt: skip
    spam = case_of(app, "c1")
    say(app, brand("b1", "Merhaba, hesabınızla ilgili bir sorun mu var? DM'den yazın lütfen.",
                   to="c1", minutes=10, thread_key="c1"))  # fmt: skip
    case_id = case_of(app, "c1")
    assert case_id is not None and case_of(app, "b1") == case_id
    assert spam is None or spam == case_id
    assert app.case(case_id).first_response_at is not None


def test_relabelling_a_message_without_a_case_opens_one(app: Scrm, cli: Any) -> None:
    say(app, message("c1", "@AcmeHelp 🚀🚀 Earn 500 USDT daily with our AI trading bot, DM me",
                     thread_key="c1"))  # fmt: skip
    [it] = app.interactions()
    assert it.kind == "spam" and it.case_id is None
    cli("label", str(it.id), "--kind", "complaint", "--category", "billing")
    case_id = case_of(app, "c1")
    assert case_id is not None
    case = app.case(case_id)
    assert (case.kind, case.category, case.department) == ("complaint", "billing", "support")
    assert "opened" in events(app, case_id)


# -- threads with several people ----------------------------------------------------------------


def test_people_under_one_post_each_get_a_case_and_answers_go_to_theirs(app: Scrm) -> None:
    say(
        app,
        message("d", "@AcmePage my order never arrived, two weeks now", author="daniel",
                channel="facebook", thread_key="post1"),
        message("s", "@AcmePage same here, my parcel is lost too", author="sophie",
                channel="facebook", thread_key="post1", minutes=3),
        brand("bs", "Hi Sophie, sorry! Could you DM us your order number?", to="s",
              channel="facebook", thread_key="post1", minutes=9, customer="sophie"),
    )  # fmt: skip
    daniel, sophie = case_of(app, "d"), case_of(app, "s")
    assert daniel is not None and sophie is not None and daniel != sophie
    assert case_of(app, "bs") == sophie
    assert app.case(daniel).first_response_at is None
    assert app.case(sophie).status == "contacted"


# -- order ------------------------------------------------------------------------------------------


def test_a_reply_stored_before_its_parent_joins_the_parents_case(app: Scrm) -> None:
    say(app, brand("b1", "Merhaba, yaşadığınız sorun için üzgünüz, inceliyoruz.", to="c1",
                   minutes=15, thread_key="c1"))  # fmt: skip
    assert case_of(app, "b1") is None  # its parent is not here yet
    say(app, message("c1", "@Acme internetim 3 gündür yok", thread_key="c1"))
    case = app.case(case_of(app, "c1"))
    assert case_of(app, "b1") == case.id
    assert case.opened_at == T0 and case.first_response_at == T0.replace(minute=15)
    assert case.status == "acknowledged"


def test_a_follow_up_arriving_first_does_not_open_the_case_late(app: Scrm) -> None:
    say(app, message("c2", "@Acme hala bekliyorum, kimse dönmedi", minutes=120, thread_key="c1",
                     in_reply_to="c1"))  # fmt: skip
    say(app, message("c1", "@Acme modemim yandı, internet yok", thread_key="c1"))
    [case] = app.cases()
    assert case.opened_at == T0 and case.subject.startswith("@Acme modemim")
    assert case_of(app, "c1") == case_of(app, "c2") == case.id


def test_a_late_first_message_sets_the_priority_it_would_have_set_first(app: Scrm) -> None:
    """The thank-you opened the case (low); the complaint arriving later is its first message."""
    say(app, message("c3", "@Acme teşekkürler, düzeldi", minutes=60, thread_key="c1",
                     in_reply_to="b1"))  # fmt: skip
    say(app, brand("b1", "Hattınızı kontrol edip düzelttik.", to="c1", minutes=30,
                   thread_key="c1"))  # fmt: skip
    say(app, message("c1", "@Acme 3 gündür internetim yok, rezalet", thread_key="c1"))
    late = app.case(case_of(app, "c1"))
    with app.session() as s:
        labels = s.scalar(sa.select(Interaction.labels).where(Interaction.external_id == "c1"))
    assert late.priority == labels["route"]["priority"]
    assert [e.action for e in late.events if e.action == "priority"] == []
    assert late.opened_at == T0 and late.status == "resolved"


def test_a_replayed_case_tells_its_hooks_only_what_is_new(app: Scrm) -> None:
    """A late message replays the case; transitions it had been through do not fire again."""
    recorder = Recorder()
    app.pm.register(recorder)
    say(
        app,
        message("c1", "@Acme internetim 3 gündür yok", thread_key="c1"),
        brand("b1", "Çok üzgünüz, hemen bakıyoruz.", to="c1", minutes=15, thread_key="c1"),
    )
    case_id = case_of(app, "c1")
    assert [(c["old"], c["new"]) for c in recorder.calls["case_transitioned"]] == [
        ("new", "acknowledged")
    ]
    # The customer's second message, written before the answer, arrives late: the case is
    # replayed from its first message and goes through new -> acknowledged again.
    say(app, message("c2", "@Acme modem ışıkları da yanıp sönüyor", minutes=5, thread_key="c1",
                     in_reply_to="c1"))  # fmt: skip
    assert case_of(app, "c2") == case_id
    assert app.case(case_id).status == "acknowledged"
    # Told once, when it happened: the replay adds nothing new.
    assert [(c["old"], c["new"]) for c in recorder.calls["case_transitioned"]] == [
        ("new", "acknowledged")
    ]


# -- promises --------------------------------------------------------------------------------------


def test_a_customer_chasing_a_call_back_does_not_keep_it_and_escalates(app: Scrm) -> None:
    say(
        app,
        message("c1", "@Acme internetim yok, arıza kaydı açın", thread_key="c1"),
        brand("b1", "Merhaba, teknik ekibimiz 24 saat içinde sizi arayacak.", to="c1",
              minutes=10, thread_key="c1"),
        message("c2", "2 gün oldu hala kimse aramadı", minutes=60 * 48, thread_key="c1",
                in_reply_to="b1", public=False),
    )  # fmt: skip
    case = app.case(case_of(app, "c1"))
    assert [p.status for p in case.follow_ups] != ["kept"]
    assert "chased" in events(app, case.id)
    assert "escalated" in events(app, case.id) or case.escalation_level >= 1


def test_the_brands_private_message_keeps_its_call_back(app: Scrm) -> None:
    say(
        app,
        message("c1", "@Acme internetim yok", thread_key="c1"),
        brand("b1", "Merhaba, sizi 24 saat içinde arayacağız.", to="c1", minutes=10,
              thread_key="c1"),
        brand("b2", "Merhaba, arıza giderildi, kontrol eder misiniz?", to="b1", minutes=120,
              thread_key="dm:c1", public=False),
    )  # fmt: skip
    case = app.case(case_of(app, "c1"))
    assert [p.status for p in case.follow_ups] == ["kept"]


# -- priority and profiles ------------------------------------------------------------------------


def test_a_graver_later_message_raises_the_priority_and_says_why(app: Scrm) -> None:
    say(app, message("c1", "@Acme internet çok yavaş", thread_key="c1"))
    case = app.case(case_of(app, "c1"))
    before = case.priority
    say(app, message("c2", "Modem dumanlar çıkardı, yangın çıkacaktı! Avukatımla görüşüyorum.",
                     minutes=60, public=False, thread_key="c1", in_reply_to="c1"))  # fmt: skip
    after = app.case(case.id)
    assert after.priority in ("high", "urgent") and after.priority != before
    [raised] = [e for e in after.events if e.action == "priority"]
    assert raised.from_value == before and "later message" in (raised.note or "")


def test_within_a_batch_an_empty_profile_field_erases_nothing(app: Scrm) -> None:
    say(
        app,
        message("c1", "@Acme faturam yanlış",
                author_obj={"external_id": "u9", "display_name": "Ayşe Yılmaz"}),
        message("c2", "@Acme hala cevap yok", minutes=5,
                author_obj={"external_id": "u9", "display_name": None}),
    )  # fmt: skip
    [customer] = app.customers()
    assert customer.display_name == "Ayşe Yılmaz"


# -- reading what customers say ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "chasing"),
    [
        ("Hala kimse aramadı", True),
        ("24 saat içinde arayacaktınız, 2 gün oldu arayan soran yok", True),
        ("2 gün oldu kimse aramadı, internet hala yok", True),
        ("still waiting for the call you promised", True),
        ("Nobody has called me back", True),
        ("Teşekkürler, aradılar ve sorun çözüldü", False),
        ("Thanks, that fixed it", False),
    ],
)
def test_chasing(text: str, chasing: bool) -> None:
    assert is_chasing(text) is chasing


@pytest.mark.parametrize(
    ("text", "thanks"),
    [
        ("Brilliant thanks 😊", True),
        ("Çok teşekkür ederim, çözüldü", True),
        ("thanks for nothing, still broken", False),
        ("Teşekkürler ama hala çalışmıyor", False),
        ("Thanks, but why was I charged twice?", False),
    ],
)
def test_gratitude(text: str, thanks: bool) -> None:
    assert is_gratitude(text, None) is thanks


# -- agents move messages ---------------------------------------------------------------------


def test_an_agent_splits_a_message_out_and_moves_it_back_and_the_times_follow(
    app: Scrm, cli: Any
) -> None:
    say(
        app,
        message("c1", "@Acme faturam iki kez kesildi", thread_key="c1"),
        brand("b1", "Merhaba, inceliyoruz.", to="c1", minutes=10, thread_key="c1"),
        message("c2", "@Acme bir de modemim bozuldu", minutes=20, thread_key="c1",
                in_reply_to="b1"),
    )  # fmt: skip
    first = case_of(app, "c1")
    assert case_of(app, "c2") == first
    ids = {i.external_id: i.id for i in app.interactions()}
    out = cli("case", "move", str(ids["c1"])).stdout  # the opening message, split out
    split = case_of(app, "c1")
    assert split != first and f"is on case {split}" in out
    # The old case now opens at its next customer message; its answer came before that.
    old = app.case(first)
    assert old.opened_at == T0.replace(minute=20) and old.first_response_at is None
    assert "message_moved" in events(app, first) and "opened" in events(app, split)
    cli("case", "move", str(ids["c1"]), "--to", str(first))
    back = app.case(first)
    assert back.opened_at == T0 and back.first_response_at == T0.replace(minute=10)
    assert cli("case", "move", str(ids["c1"]), "--to", str(first), expect=1).exit_code == 1


def test_silence_after_a_proposed_solution_closes_the_case(app: Scrm, cli: Any) -> None:
    say(app, message("c1", "@Acme faturam iki kez kesildi", thread_key="c1"))
    case_id = case_of(app, "c1")
    assert case_id is not None
    cli("case", "propose", str(case_id), "--note", "iade yapıldı")
    proposed = app.case(case_id)
    assert proposed.status == "solution_proposed"
    silent_since = proposed.last_activity_at
    assert case_service.close_silent(app, now=silent_since + timedelta(days=6)) == []
    assert case_service.close_silent(app, now=silent_since + timedelta(days=8)) == [case_id]
    closed = app.case(case_id)
    assert closed.status == "closed" and closed.resolved_at is not None
    assert [e.to_value for e in closed.events if e.action == "status"][-2:] == [
        "resolved",
        "closed",
    ]
