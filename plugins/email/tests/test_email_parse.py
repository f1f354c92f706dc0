"""Parsing: charsets, HTML, quotes, signatures, ids, noise, payload forms (no servers, no database)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from scrm_email.channel import EmailChannel
from scrm_email.mime import message_ids
from scrm_email.parse import encode_payload
from scrm_email.text import fold, html_to_text, repair_mojibake, split_reply

from scrm.core.channel import ParseError
from scrm.core.schemas import Direction, InboundInteraction

BRAND = "destek@acme.com.tr"


def parse(raw: bytes | dict[str, Any], **settings: Any) -> InboundInteraction:
    channel = EmailChannel({"addresses": [BRAND], **settings})
    (it,) = list(channel.parse(raw))
    return it


def turkish_mail(charset: str, cte: str) -> bytes:
    text = "Şikayetim: ağır ışık, çiğ süt, İzmir'de ödeme.\n"
    body = text.encode(charset)
    if cte == "base64":
        encoded = base64.encodebytes(body)
    else:
        import quopri

        encoded = quopri.encodestring(body)
    q = f"=?{charset}?Q?M=FC=FEteri_=DE=FEikayeti?="
    return (
        f"From: =?{charset}?Q?=DDbrahim_=C7elik?= <ibrahim@example.com>\n"
        f"To: {BRAND}\nSubject: {q}\nDate: Tue, 22 Oct 2024 10:00:00 +0300\n"
        "Message-ID: <tr-1@example.com>\nMIME-Version: 1.0\n"
        f'Content-Type: text/plain; charset="{charset}"\nContent-Transfer-Encoding: {cte}\n\n'
    ).encode("ascii") + encoded


@pytest.mark.parametrize("charset", ["windows-1254", "iso-8859-9"])
@pytest.mark.parametrize("cte", ["quoted-printable", "base64"])
def test_turkish_charsets_survive(charset: str, cte: str) -> None:
    it = parse(turkish_mail(charset, cte))
    assert it.text == "Şikayetim: ağır ışık, çiğ süt, İzmir'de ödeme."
    assert it.subject == "Müşteri Şşikayeti"
    assert it.author.display_name == "İbrahim Çelik"
    assert it.author.external_id == it.author.email == "ibrahim@example.com"


def test_cp1254_mislabelled_as_latin1_is_repaired() -> None:
    raw = (
        b"From: =?iso-8859-1?Q?=DEule_Ya=F0mur?= <sule@example.com>\nTo: destek@acme.com.tr\n"
        b"Subject: =?iso-8859-1?Q?=DEikayetim?=\nMessage-ID: <moji@example.com>\n"
        b"Date: Tue, 22 Oct 2024 10:00:00 +0300\n"
        b'Content-Type: text/plain; charset="iso-8859-1"\nContent-Transfer-Encoding: 8bit\n\n'
        + "Şikayetim var, ağır işlem.\n".encode("cp1254")
    )
    it = parse(raw)
    assert it.text == "Şikayetim var, ağır işlem."
    assert it.subject == "Şikayetim"
    assert it.author.display_name == "Şule Yağmur"
    assert repair_mojibake("café") == "café"  # correct Latin-1 is left alone


def test_raw_8bit_headers_and_unknown_charset() -> None:
    raw = (
        "From: Gökay Erim <gokay@example.com>\nTo: destek@acme.com.tr\n"
        "Subject: Yurtdışı paket\nMessage-ID: <8bit@example.com>\n"
        "Date: Tue, 22 Oct 2024 10:00:00 +0300\n"
        "Content-Type: text/plain; charset=unknown-8bit\n\nÇalışmıyor.\n"
    ).encode("cp1254")
    it = parse(raw)
    assert (it.subject, it.author.display_name, it.text) == (
        "Yurtdışı paket",
        "Gökay Erim",
        "Çalışmıyor.",
    )


def test_html_only_mail_is_reduced_to_text(mail: Any) -> None:
    msg = mail(
        sender="Elif <elif@example.com>",
        subject="HTML",
        text="x",
        msgid="<html-1@example.com>",
    )
    msg.set_content(
        "<html><head><style>p{color:red}</style></head><body><p>Merhaba,</p>"
        "<p>Modemim <b>çalışmıyor</b>&nbsp;&amp; ışıklar kırmızı.<br>Abone no 123</p>"
        "<ul><li>bir</li><li>iki</li></ul><script>alert(1)</script></body></html>",
        subtype="html",
    )
    it = parse(msg.as_bytes())
    assert it.text == (
        "Merhaba,\n\nModemim çalışmıyor & ışıklar kırmızı.\nAbone no 123\n\n- bir\n- iki"
    )
    assert it.raw is not None and it.raw["html_only"] is True


def test_plain_part_is_preferred_over_html(mail: Any) -> None:
    msg = mail(
        sender="a@example.com",
        subject="s",
        text="Düz metin.",
        msgid="<alt@example.com>",
        html="<p>HTML metin.</p>",
    )
    assert parse(msg.as_bytes()).text == "Düz metin."


def test_quoted_reply_and_signature_are_separated(mail: Any) -> None:
    body = (
        "Teşekkürler, iade kartıma mı yapılacak?\n\nZeynep\n-- \nZeynep Arslan\n0532 000 00 00\n\n"
        "21 Eki 2024 Pzt, 11:02 tarihinde Acme <destek@acme.com.tr> şunu yazdı:\n"
        "> Talebiniz kaydedilmiştir.\n"
    )
    msg = mail(sender="z@example.com", subject="Re: x", text=body, msgid="<q@example.com>")
    it = parse(msg.as_bytes())
    assert it.text == "Teşekkürler, iade kartıma mı yapılacak?\n\nZeynep"
    assert it.raw is not None
    assert it.raw["quoted"].startswith("21 Eki 2024") and "> Talebiniz" in it.raw["quoted"]
    assert it.raw["signature"] == "Zeynep Arslan\n0532 000 00 00"
    assert it.raw["body"].startswith("Teşekkürler") and "> Talebiniz" in it.raw["body"]


def test_reply_splitting_variants() -> None:
    gmail = split_reply(
        "Yes please.\n\nOn Mon, 21 Oct 2024 at 11:02, Acme <d@acme.com>\nwrote:\n> old"
    )
    assert gmail.new == "Yes please." and gmail.quoted.endswith("> old")
    outlook = split_reply(
        "Tamam.\n\n________________________________\nKimden: Acme <d@acme.com>\n"
        "Gönderildi: 21 Ekim 2024\nKime: ben\nKonu: x\n\neski metin"
    )
    assert outlook.new == "Tamam." and outlook.quoted.startswith("_____")
    mobile = split_reply("Olur.\n\niPhone'umdan gönderildi")
    assert (mobile.new, mobile.signature) == ("Olur.", "iPhone'umdan gönderildi")
    inline = split_reply("Merhaba\n\n> Talebiniz DST-1 numarası ile kaydedilmiştir.")
    assert inline.new.endswith("> Talebiniz DST-1 numarası ile kaydedilmiştir.")
    assert split_reply("Kargo depodan gönderildi").new == "Kargo depodan gönderildi"


def test_html_blockquote_becomes_a_quote() -> None:
    text = html_to_text(
        "<div>Evet.</div><div class=gmail_quote>On Mon, A &lt;a@b.c&gt; wrote:"
        "<blockquote>Eski <i>mesaj</i></blockquote></div>"
    )
    assert text == "Evet.\nOn Mon, A <a@b.c> wrote:\n> Eski mesaj"
    assert split_reply(text).new == "Evet."


def test_message_ids_tolerate_real_world_mess() -> None:
    assert message_ids("<a@x>, <a@x>") == ["<a@x>"]
    assert message_ids("<a@x> <test-in-reply-to>") == ["<a@x>", "<test-in-reply-to>"]
    assert message_ids("1234@host.example") == ["<1234@host.example>"]
    assert message_ids("<a@\n x>") == ["<a@x>"]
    assert message_ids("") == []


def test_threading_fields(mail: Any) -> None:
    msg = mail(
        sender="Oğuz <oguz@example.com>",
        subject="Re: Re: teklif",
        text="Tamam",
        msgid="<3@example.com>",
        in_reply_to="<2@acme.com.tr>",
        references="<1@example.com> <2@acme.com.tr>",
    )
    it = parse(msg.as_bytes())
    assert (it.external_id, it.in_reply_to, it.thread_key) == (
        "<3@example.com>",
        "<2@acme.com.tr>",
        "<1@example.com>",
    )
    assert it.public is False and it.direction is Direction.INBOUND
    first = parse(mail(sender="o@example.com", subject="s", text="t", msgid="<1@x.com>").as_bytes())
    assert first.thread_key == first.external_id == "<1@x.com>" and first.in_reply_to is None


def test_missing_message_id_falls_back_to_a_stable_hash() -> None:
    raw = b"From: a@example.com\nSubject: s\nDate: Tue, 22 Oct 2024 10:00:00 +0300\n\nbody\n"
    a, b = parse(raw), parse(raw)
    assert a.external_id == b.external_id and a.external_id.startswith("<sha256-")
    assert a.thread_key == a.external_id


def test_outbound_mail_from_the_brand(mail: Any) -> None:
    msg = mail(
        sender=f"Acme <{BRAND}>",
        to="Zeynep Arslan <Zeynep.Arslan@Example.com>",
        subject="Re: iade",
        text="Sayın Zeynep Arslan",
        msgid="<r@acme.com.tr>",
        in_reply_to="<1@example.com>",
    )
    it = parse(msg.as_bytes())
    assert it.direction is Direction.OUTBOUND
    assert it.recipient is not None and it.recipient.email == "zeynep.arslan@example.com"
    assert it.author.external_id == BRAND


def test_attachments_are_recorded_and_optionally_stored(mail: Any, tmp_path: Path) -> None:
    msg = mail(sender="k@example.com", subject="s", text="ekte", msgid="<att@example.com>")
    msg.add_attachment(
        b"\x89PNG" + b"0" * 96, maintype="image", subtype="png", filename="ekran.png"
    )
    msg.add_attachment("fatura satırı\n", filename="fatura.txt")
    it = parse(msg.as_bytes())
    assert [(a.name, a.content_type, a.size) for a in it.attachments] == [
        ("ekran.png", "image/png", 100),
        ("fatura.txt", "text/plain", len("fatura satırı\n".encode())),
    ]
    assert it.text == "ekte"
    stored = parse(msg.as_bytes(), attachments="directory", attachment_dir=str(tmp_path))
    url = stored.attachments[0].url
    assert url is not None and url.startswith("file://")
    assert Path(url.removeprefix("file://")).read_bytes().startswith(b"\x89PNG")


def test_json_payload_form_and_its_errors() -> None:
    raw = turkish_mail("iso-8859-9", "base64")
    payload = json.loads(json.dumps(encode_payload(raw, source="x.mbox#1", uid=7)))
    it = parse(payload)
    assert it.external_id == "<tr-1@example.com>"
    assert it.raw is not None and it.raw["origin"] == {"source": "x.mbox#1", "uid": 7}
    with pytest.raises(ParseError) as e:
        parse({"raw_base64": "@@not base64@@"})
    assert e.value.field == "raw_base64"
    with pytest.raises(ParseError) as e:
        parse({"eml": "x"})
    assert e.value.field in ("raw_base64", "eml")
    with pytest.raises(ParseError) as e:
        parse({"raw_base64": base64.b64encode(b"Subject: no sender\n\nbody").decode()})
    assert e.value.field == "From"


def test_chatwoot_auto_reply_with_duplicate_in_reply_to(chatwoot_dir: Path) -> None:
    it = parse((chatwoot_dir / "non_utf_encoded_mail.eml").read_bytes())
    assert it.in_reply_to == "<4e6e35f5a38b4_479f13bb90078178@small-app-01.mail>"
    assert it.thread_key == it.in_reply_to
    assert it.subject == "أهلين عميلنا الكريم" and it.text.startswith("أنظروا")
    assert it.raw is not None and it.raw["scrm_noise"] == "auto_reply"


def test_chatwoot_bounce(chatwoot_dir: Path) -> None:
    it = parse((chatwoot_dir / "bounced_gmail.eml").read_bytes())
    assert it.raw is not None and it.raw["scrm_noise"] == "bounce"
    assert it.raw["failed_recipients"] == ["alex.jones@fictionalcorp.com"]
    assert it.raw["bounced_message_id"].startswith("<conversation/93775311")
    assert it.text.startswith("** Address not found **")
    assert [a.content_type for a in it.attachments] == ["message/rfc822"]


def test_chatwoot_references_with_non_address_token(chatwoot_dir: Path) -> None:
    it = parse((chatwoot_dir / "references.eml").read_bytes())
    assert it.thread_key == "<4e6e35f5a38b4_479f13bb90078178@small-app-01.mail>"
    assert it.raw is not None and it.raw["references"][-1] == "<test-in-reply-to>"
    assert it.text == "References Email" and "scrm_noise" not in it.raw


@pytest.mark.parametrize(
    ("headers", "subject", "kind"),
    [
        ({"Auto-Submitted": "auto-replied"}, "Re: x", "auto_reply"),
        ({"Auto-Submitted": "no"}, "Re: x", None),
        ({"X-Autoreply": "yes"}, "x", "auto_reply"),
        ({"X-Auto-Response-Suppress": "All"}, "x", "auto_reply"),
        ({"Precedence": "auto_reply"}, "x", "auto_reply"),
        ({}, "OTOMATİK YANIT: Re: teklif", "auto_reply"),
        ({}, "Otomatik yanıt: Re: teklif", "auto_reply"),
        ({}, "Out of Office: Re: x", "auto_reply"),
        ({}, "Automatic reply: x", "auto_reply"),
        ({"List-Id": "<news.example.com>"}, "Bülten", "mailing_list"),
        ({"List-Unsubscribe": "<mailto:u@example.com>"}, "Kampanya", "mailing_list"),
        ({"Precedence": "bulk"}, "Kampanya", "bulk"),
        ({}, "Out of stock again?", None),
    ],
)
def test_noise_is_recognised(
    mail: Any, headers: dict[str, str], subject: str, kind: str | None
) -> None:
    msg = mail(
        sender="o@example.com", subject=subject, text="t", msgid="<n@x.com>", headers=headers
    )
    it = parse(msg.as_bytes())
    assert it.raw is not None and it.raw.get("scrm_noise") == kind


def test_mailer_daemon_is_a_bounce(mail: Any) -> None:
    msg = mail(
        sender="MAILER-DAEMON@mx.example.com", subject="failure", text="t", msgid="<b@x.com>"
    )
    assert parse(msg.as_bytes()).raw["scrm_noise"] == "bounce"  # type: ignore[index]


def test_fold_is_turkish_safe() -> None:
    assert fold("OTOMATİK YANIT") == fold("otomatik yanıt") == "otomatik yanit"


def test_a_body_over_the_maximum_is_cut_before_it_is_split_and_the_cut_is_recorded(
    mail: Any,
) -> None:
    body = "Merhaba,\n" + "a." * 150_000 + "\n\nOn Mon, 21 Oct 2024 Destek wrote:\n> eski\n"
    msg = mail(sender="Ali <ali@example.com>", subject="uzun", text=body, msgid="<long@x>")
    it = parse(msg.as_bytes())
    assert it.text == body[:100_000]  # the attribution lies past the cut: nothing is quoted
    assert it.raw["body_cut"]["kept"] == 100_000
    assert it.raw["body_cut"]["length"] == len(body.rstrip("\n"))  # the decoded text part
    assert "quoted" not in it.raw
    short = parse(
        mail(sender="ali@example.com", subject="k", text="kısa\n", msgid="<s@x>").as_bytes()
    )
    assert "body_cut" not in short.raw
