"""Tests for promised follow-up detection (scrm.core.promises)."""

from __future__ import annotations

import functools
import importlib.util
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers import T0, message
from hypothesis import given
from hypothesis import strategies as st
from realdata import load_sikayetvar_bank_replies, load_sikayetvar_brand_replies

from scrm.core.app import Scrm
from scrm.core.promises import (
    Promise,
    PromiseKind,
    detect_promise,
    format_duration,
    parse_duration,
    run_detect,
)

DATA = Path(__file__).parent / "data" / "promises_eval.jsonl"
IBM = Path(__file__).resolve().parents[2] / "shared" / "data" / "ibm_twitter_customer_care"
CR, CB, INV, NONE = (
    PromiseKind.contact_request,
    PromiseKind.callback,
    PromiseKind.investigating,
    PromiseKind.none,
)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        # contact_request
        ("İletişim bilgilerinizi DM ile iletir misiniz?", CR),
        ("Merhaba, özelden yazar mısınız? 🙏", CR),
        ("Sipariş numaranızı paylaşır mısınız? /Ece", CR),
        ("E-posta adresinizi iletebilir misiniz?", CR),
        ("ILETISIM BILGILERINIZI DM ILE ILETIR MISINIZ", CR),
        ("Detayları DM'den bekliyoruz 🙏", CR),
        ("Siparişinde sorun mu var? DM'den sipariş bilgilerini iletir misin?", CR),
        (
            "Hi Sam, sorry to hear that! Please DM us your order number and we'll take a look ^JM",
            CR,
        ),
        ("Please send us a private message with your booking reference.", CR),
        ("Follow us so we can DM you.", CR),
        ("Please create a support ticket so we can investigate this matter.", CR),
        # callback
        ("Size en kısa sürede ulaşacağız.", CB),
        ("size en kisa surede ulasacagiz", CB),
        ("Ekibimiz sizi arayacak.", CB),
        ("Değerli müşterimiz, en kısa sürede dönüş yapılacaktır.", CB),
        ("We'll reach out to you shortly. ^TK", CB),
        ("We will get back to you within 24 hours.", CB),
        ("A specialist will give you a call tomorrow.", CB),
        # investigating (also wins over a callback in the same reply)
        ("Talebiniz ilgili birime iletilmiştir.", INV),
        ("Konu inceleniyor.", INV),
        ("Kontrol edip bilgi vereceğiz.", INV),
        (
            "Değerli müşterimiz, talebiniz ilgili birime iletilmiştir, en kısa sürede dönüş yapılacaktır.",
            INV,
        ),
        ("We're looking into this.", INV),
        ("This has been escalated to our team.", INV),
        # as banks and brands write them (issue 20)
        ("Başvurunuz inceleme ekiplerimize iletilmiştir.", INV),
        ("Şikayetiniz incelenmek üzere ilgili departmana yönlendirilmiştir.", INV),
        ("Hemen incelemeye başlıyoruz, en kısa sürede size bilgi vereceğiz.", INV),
        ("This was forwarded to our review team.", INV),
        ("Your complaint has been sent to our review team.", INV),
        ("We've shared this with the team for review.", INV),
        ("Join us in a DM so we can help.", CR),
        ("Please send a DM to us.", CR),
        ("Head to DM and we'll sort it.", CR),
        ("Özelden yazarsanız yardımcı olalım.", CR),
        ("DM üzerinden yazarsanız hemen ilgilenelim.", CR),
        ("DM'den yazın.", CR),
        ("Please reply to the email we sent you.", CR),
        ("Şikayetiniz için bize DM'den yazar mısınız?", CR),
        ("Yetkili arkadaşlarımız sizinle görüşecektir.", CB),
        ("En kısa sürede sizinle iletişime geçilecektir.", CB),
        ("Sonuç hakkında e-posta ile bilgilendirileceksiniz.", CB),
        ("Sonuç e-posta adresinize gönderilecektir.", CB),
        ("An email will be sent to you shortly.", CB),
        ("You'll be emailed by the team tomorrow.", CB),
        # a converb, active or passive, is an investigation before a future or present verb;
        # before a past one it reports work done (other brands' Şikayetvar replies, issue 20)
        ("Talebiniz ilgili ekiplerce değerlendirilip size bilgi verilecektir.", INV),
        ("Başvurunuz araştırılıp sonucu tarafınıza iletilecektir.", INV),
        ("Konu kontrol edilerek en kısa sürede dönüş sağlanacaktır.", INV),
        ("Bildiriminiz incelenerek gerekli işlemler yapılmaktadır.", INV),
        ("Şikayetiniz uzmanlarımızca incelenip size geri dönülecektir.", INV),
        ("Hattınızı kontrol edip düzelttik.", NONE),
        ("Şikayetiniz incelenip çözülmüştür.", NONE),
        ("Talebiniz değerlendirilip sonuçlandırıldı.", NONE),
        # received is no investigation: "we will inform you" is a callback
        (
            "Bildiriminiz bize ulaşmıştır, kayıtlı iletişim bilgileriniz üzerinden size bilgi verilecektir.",
            CB,
        ),
        # none
        ("Teşekkür ederiz 😊", NONE),
        ("Siparişiniz bugün teslim edilmiştir.", NONE),
        ("You can reset your password at https://example.com/reset", NONE),
        ("We're so sorry about your experience.", NONE),
        ("Our summer sale starts today! 🌞", NONE),
        ("We called you yesterday.", NONE),
        ("Dün sizi aradık ancak ulaşamadık.", NONE),
        ("We cannot contact you by phone.", NONE),
        ("Maalesef sizi telefonla arayamıyoruz.", NONE),
        ("Did you get the email we sent last week?", NONE),
        ("If the issue persists, feel free to DM us.", NONE),
        ("Sorun devam ederse bize DM üzerinden yazabilirsiniz.", NONE),
        ("Thanks! We've passed your feedback on to our product team.", NONE),
        ("Kindly do not share your order number here.", NONE),
        ("If we need anything else, we'll contact you.", NONE),
        # a standing offer of channels for any later message is no request
        (
            "Şikayet, öneri ve taleplerinizi Bize Yazın bölümünden ve Şubelerimizden de "
            "iletebilirsiniz.",
            NONE,
        ),
        ("Tüm öneri ve taleplerinizi Bize Ulaşın bölümünden iletebilirsiniz.", NONE),
        (
            "Ürünlerimizle ilgili tüm öneri ve isteklerinizi iletişim formundan iletebilirsiniz.",
            NONE,
        ),
        ("Şikayet ve önerileriniz için bize DM'den yazabilirsiniz.", NONE),
        ("Sorun devam ederse DM'den yazabilirsiniz.", NONE),
        ("You never replied to our email.", NONE),
        ("Dün size e-posta gönderdik.", NONE),
        ("", NONE),
    ],
)
def test_kind(text: str, kind: PromiseKind) -> None:
    got = detect_promise(text)
    assert got.kind is kind, got
    assert got.promise is (kind is not NONE)
    assert (got.evidence is not None) is got.promise


def test_evidence_is_the_original_phrase() -> None:
    got = detect_promise("Merhaba, size en kısa sürede ULAŞACAĞIZ.")
    assert got.evidence is not None
    assert got.evidence in "Merhaba, size en kısa sürede ULAŞACAĞIZ."


def test_promise_is_frozen() -> None:
    p = detect_promise("We'll call you tomorrow.")
    assert isinstance(p, Promise)
    with pytest.raises(ValueError):
        p.kind = NONE  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "due"),
    [
        ("We will get back to you within 24 hours.", "PT24H"),
        ("Ekibimiz 48 saat içinde size ulaşacak.", "PT48H"),
        ("Talebiniz 2 iş günü içinde sonuçlanacak, size bilgi verilecektir.", "P2D"),
        ("Bugün içinde size dönüş yapılacaktır.", "PT8H"),
        ("We'll get back to you by end of day.", "PT8H"),
        ("Yarın sizi arayacağız.", "P1D"),
        ("We'll call you tomorrow.", "P1D"),
        ("En kısa sürede size ulaşacağız.", None),
        ("We'll reach out asap.", None),
        ("1 hafta içinde sizinle iletişime geçilecektir.", "P7D"),
        ("İki gün içinde size dönüş yapılacaktır.", "P2D"),
        ("Yirmi dört saat içinde sizi arayacağız.", "PT24H"),
        ("We'll get back to you in 24h.", "PT24H"),
        ("24 sa. içinde tarafınıza ulaşılacaktır.", "PT24H"),
        ("Size 24-48 saat içinde dönüş yapılacaktır.", "PT48H"),
        ("We'll call you in the next 30 minutes.", "PT30M"),
        ("Our team will contact you within one week.", "P7D"),
        ("En geç 3 iş günü içinde size dönüş sağlanacaktır.", "P3D"),
        # a duration in a reply with no promise is not a due date
        ("Refunds take 5-7 business days.", None),
    ],
)
def test_due(text: str, due: str | None) -> None:
    got = detect_promise(text)
    assert got.due_iso == due, got
    if due is not None:
        assert got.due == parse_duration(due)


@pytest.mark.parametrize(
    ("text", "td"),
    [
        ("PT4H", timedelta(hours=4)),
        ("P2D", timedelta(days=2)),
        ("PT30M", timedelta(minutes=30)),
        ("P1DT12H", timedelta(days=1, hours=12)),
        ("P1W", timedelta(weeks=1)),
        ("pt1h30m", timedelta(hours=1, minutes=30)),
        ("4h", timedelta(hours=4)),
        ("30m", timedelta(minutes=30)),
        ("2d", timedelta(days=2)),
        ("1w", timedelta(weeks=1)),
        ("1d 12h", timedelta(days=1, hours=12)),
        (" 90s ", timedelta(seconds=90)),
    ],
)
def test_parse_duration(text: str, td: timedelta) -> None:
    assert parse_duration(text) == td


@pytest.mark.parametrize("bad", ["", "P", "PT", "4x", "P1Y", "P1M", "tomorrow", "-4h", "4h4", "h"])
def test_parse_duration_refuses(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(bad)


def test_format_duration() -> None:
    assert format_duration(timedelta(hours=4)) == "PT4H"
    assert format_duration(timedelta(days=2)) == "P2D"
    assert format_duration(timedelta(minutes=30)) == "PT30M"
    assert format_duration(timedelta(days=1, hours=12)) == "P1DT12H"
    assert format_duration(timedelta(0)) == "PT0S"
    with pytest.raises(ValueError):
        format_duration(timedelta(hours=-1))


@given(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3650)))
def test_duration_round_trip(td: timedelta) -> None:
    assert parse_duration(format_duration(td)) == td


def test_run_detect_contract() -> None:
    lines = [
        json.dumps({"id": "a", "text": "Please DM us your order number."}),
        json.dumps({"id": 2, "text": "Thanks!", "lang": "en"}),
        "not json",
        json.dumps({"id": "c"}),
        json.dumps({"text": "hi"}),
        json.dumps({"id": "d", "text": 5}),
        json.dumps({"id": "e", "text": "We'll call you within 24 hours", "lang": 3}),
        "",
        json.dumps(["id", "text"]),
        json.dumps({"id": "f", "text": "Ekibimiz 48 saat içinde sizi arayacak."}),
    ]
    out = list(run_detect(lines))
    assert out[0] == {"id": "a", "promise": True, "kind": "contact_request", "due": None}
    assert out[1] == {"id": 2, "promise": False, "kind": "none", "due": None}
    assert out[2]["id"] is None and out[2]["line"] == 3 and "JSON" in out[2]["error"]
    assert out[3] == {"id": "c", "error": 'missing field "text"', "line": 4}
    # A missing id is echoed as null, like in `scrm classify`: the position still identifies it.
    assert out[4] == {"id": None, "promise": False, "kind": "none", "due": None}
    assert out[5]["id"] == "d" and '"text"' in out[5]["error"]
    assert out[6]["id"] == "e" and '"lang"' in out[6]["error"]
    assert out[7]["line"] == 8 and out[8]["line"] == 9
    assert out[9] == {"id": "f", "promise": True, "kind": "callback", "due": "PT48H"}


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
_lines = st.one_of(
    st.text(),
    _json_values.map(json.dumps),
    st.builds(
        lambda i, t, extra: json.dumps({"id": i, "text": t, **extra}),
        st.one_of(st.text(), st.integers(), st.none()),
        st.one_of(st.text(), st.none(), st.integers()),
        st.dictionaries(st.sampled_from(["lang", "x"]), _json_values, max_size=2),
    ),
)


@given(st.lists(_lines, max_size=8))
def test_run_detect_never_raises_and_keeps_order(lines: list[str]) -> None:
    lines = [ln.replace("\n", " ").replace("\r", " ") for ln in lines]
    out = list(run_detect(lines))
    assert len(out) == len(lines)
    for n, (line, res) in enumerate(zip(lines, out, strict=True), start=1):
        if "error" in res:
            assert res["line"] == n
            assert set(res) == {"id", "error", "line"}
        else:
            assert res["id"] == json.loads(line)["id"]
            assert res["kind"] in {k.value for k in PromiseKind}
            assert res["due"] is None or parse_duration(res["due"]) > timedelta(0)
        json.dumps(res)


@given(st.text(max_size=400))
def test_detect_never_raises(text: str) -> None:
    p = detect_promise(text)
    assert p.promise is (p.kind is not NONE)


def _load() -> list[dict]:
    return [json.loads(x) for x in DATA.read_text(encoding="utf-8").splitlines() if x.strip()]


def test_eval_set_shape() -> None:
    rows = _load()
    assert len(rows) >= 240
    assert len({r["id"] for r in rows}) == len(rows)
    for r in rows:
        assert r["lang"] in {"tr", "en"} and r["split"] in {"dev", "heldout"}
        assert r["promise"] is (r["kind"] != "none")
        assert r["due"] is None or parse_duration(r["due"])
    langs = [r["lang"] for r in rows]
    assert abs(langs.count("tr") - langs.count("en")) <= len(rows) * 0.1


# Floors measured on the dev split (all 1.0 when written); they leave room for phrases
# added later. The heldout split is never asserted on: see bench/promises_eval.py.
@pytest.mark.parametrize("lang", ["tr", "en"])
def test_dev_precision_recall_floor(lang: str) -> None:
    dev = [r for r in _load() if r["split"] == "dev" and r["lang"] == lang]
    pairs = [(r, detect_promise(r["text"], lang)) for r in dev]
    tp = sum(r["promise"] and p.promise for r, p in pairs)
    precision = tp / sum(p.promise for _, p in pairs)
    recall = tp / sum(r["promise"] for r, _ in pairs)
    kind_acc = sum(r["kind"] == p.kind.value for r, p in pairs) / len(pairs)
    due_acc = sum(r["due"] == p.due_iso for r, p in pairs) / len(pairs)
    assert precision >= 0.95 and recall >= 0.95
    assert kind_acc >= 0.93 and due_acc >= 0.93


@pytest.mark.slow  # the whole real corpus
def test_real_agent_replies() -> None:
    """Run on every real brand-agent reply in the IBM Twitter customer-care set."""
    if not IBM.is_dir():
        pytest.skip(f"third-party data not present at {IBM} (only in the development checkout)")
    replies = []
    for name in ("dev.json", "test.json"):
        for conv in json.loads((IBM / name).read_text(encoding="utf-8")):
            replies += [t["message"] for t in conv["dialogContent"] if "agent" in t]
            replies.append(conv["agentURL"]["url_utterance"])
    lines = (json.dumps({"id": i, "text": t}) for i, t in enumerate(replies))
    out = list(run_detect(lines))
    assert len(out) == len(replies) and all("error" not in r for r in out)
    share = sum(r["kind"] == "contact_request" for r in out) / len(out)
    # These conversations end in a help-article link; a fifth to a third of the agent
    # turns ask the customer to DM, e-mail or open a ticket.
    assert 0.1 <= share <= 0.4, share


# --------------------------------------------------------------------------- real replies


@functools.cache
def _real() -> tuple[dict[tuple[str, str], tuple[list[Any], list[dict]]], Any]:
    """The real brand replies per (source, half) as bench/promises_eval.py --real reads them,
    and that module (its ``evaluate`` scores them)."""
    path = Path(__file__).resolve().parent.parent / "bench" / "promises_eval.py"
    spec = importlib.util.spec_from_file_location("promises_eval", path)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return {(name, half): (sub, rows) for name, half, sub, rows in bench.real_halves()}, bench


# Issue 20: promise detection F1 and kind accuracy of at least 0.80 on every real source, on
# the half the rules were tuned on and on the held-out half. The corpora are third-party data
# (tests/realdata.py): a source that is not here skips, naming where it was looked for.
#: Hand-labelled replies a half must hold at least: a loader that silently loses replies fails.
#: The other brands' two folders are read alone too (Setur's 54 replies give 27 a half).
_MIN_ROWS = {"ibm-agents": 150, "tr-bank-replies": 150, "tr-brand-replies": 20}


@pytest.mark.parametrize("half", ["tune", "held"])
@pytest.mark.parametrize("source", sorted(_MIN_ROWS))
def test_real_replies_promise_f1_and_kind_accuracy(source: str, half: str) -> None:
    found, bench = _real()
    if (source, half) not in found:
        pytest.skip(f"real corpus for {source} not found in ../shared/data or SCRM_REAL_DATA")
    _, rows = found[(source, half)]
    assert len(rows) >= _MIN_ROWS[source]
    scores = bench.evaluate(rows)
    assert scores["promise_True_f1"] >= 0.80, scores
    assert scores["kind_accuracy"] >= 0.80, scores


@pytest.mark.parametrize(
    ("load", "folder"),
    [(load_sikayetvar_bank_replies, "sikayetvar_banks"),
     (load_sikayetvar_brand_replies, "sikayetvar_ziraat or sikayetvar_setur")],
)  # fmt: skip
def test_every_real_reply_template_is_labelled(load: Any, folder: str) -> None:
    """A new scrape brings new templates: label them (tests/data/
    sikayetvar_*_promise_labels.jsonl) before the figures mean anything."""
    replies = load()
    if not replies:
        pytest.skip(f"real corpus {folder} not found in ../shared/data or SCRM_REAL_DATA")
    missing = {r.labels["template"] for r in replies if "kind" not in r.labels}
    assert not missing, f"{len(missing)} reply templates without a label"


# --------------------------------------------------------------------------- the clocks


def _complaint_then_reply(app: Scrm, who: str, reply: str) -> tuple[int, datetime]:
    """A bank complaint and, ten minutes later, the bank's public reply; the case id and its
    resolution deadline as the complaint set it."""
    said = message(f"{who}-c", "Kartımdan iznim dışında 2.450 TL çekildi, iade edilmedi.",
                   author=who, thread_key=who)  # fmt: skip
    assert app.ingest([said]).rejected == 0
    [case] = app.cases()
    before = app.case(case.id).resolution_due
    assert before is not None
    answer = message(f"{who}-b", reply, author="bank", minutes=10, thread_key=who,
                     in_reply_to=f"{who}-c", direction="outbound", public=True,
                     recipient={"external_id": who})  # fmt: skip
    assert app.ingest([answer]).rejected == 0
    return case.id, before


def test_forwarded_to_the_review_team_keeps_the_resolution_clock_running(app: Scrm) -> None:
    """The bank's standard reply (forwarded to the review team, with the channels it can also
    be reached on) is an investigation: the bank owes the result, the clock runs on."""
    case_id, due = _complaint_then_reply(
        app, "u1",
        "Sayın Müşterimiz, ilettiğiniz başvurunuz Bankamızın inceleme ekiplerine iletilmiştir. "
        "Bankamız ürün ve hizmetleri ile ilgili şikayet, öneri ve taleplerinizi Bize Yazın "
        "bölümünden ve Şubelerimizden de iletebilirsiniz. Saygılarımızla.",
    )  # fmt: skip
    case = app.case(case_id)
    assert [f.kind for f in case.follow_ups] == ["investigating"]
    assert case.waiting_since is None
    assert case.resolution_due == due


def test_a_request_for_details_pauses_the_resolution_clock_until_the_answer(app: Scrm) -> None:
    case_id, due = _complaint_then_reply(
        app, "u2",
        "Sayın Müşterimiz, başvurunuzda T.C. Kimlik Numarası gibi bilgiler paylaşılmadığından "
        "bilgilerinize ulaşılamamıştır. Bilgilerinizi güncellemeniz halinde başvurunuz "
        "incelemeye alınacaktır.",
    )  # fmt: skip
    case = app.case(case_id)
    assert [f.kind for f in case.follow_ups] == ["contact_request"]
    assert case.waiting_since == T0 + timedelta(minutes=10)
    assert case.resolution_due is None  # paused: the case waits on the customer
    # The customer answers two hours later: the clock restarts with the time it had left.
    answer = message("u2-a", "Bilgilerimi güncelledim, T.C. kimlik numaram sistemde kayıtlı.",
                     author="u2", minutes=130, thread_key="u2", in_reply_to="u2-b")  # fmt: skip
    assert app.ingest([answer]).rejected == 0
    after = app.case(case_id)
    assert after.waiting_since is None
    assert after.resolution_due == due + timedelta(hours=2)
