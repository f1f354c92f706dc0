"""Sending through a real SMTP server (aiosmtpd on 127.0.0.1): headers, Turkish, errors."""

from __future__ import annotations

import logging
import socket
from typing import Any

import pytest
from scrm_email.channel import EmailChannel
from scrm_email.smtp import reply_subject

from scrm.core.channel import PermanentSendError, TransientSendError
from scrm.core.schemas import OutboundMessage

TEXT = "Sayın Zeynep Arslan,\n\nİadeniz işleme alındı; ğüşıöç ĞÜŞİÖÇ.\n\nAcme"


@pytest.fixture
def channel(smtp_server: Any, settings_for: Any) -> EmailChannel:
    return EmailChannel(settings_for(None, smtp_server))


def reply(**kw: Any) -> OutboundMessage:
    base: dict[str, Any] = {
        "channel": "email",
        "text": TEXT,
        "public": False,
        "to": "zeynep.arslan@example.com",
        "in_reply_to": "<20241021063006.3745@mail.example.com>",
        "subject": "Re: Re: Fazla çekilen ücretin iadesi",
        "idempotency_key": "reply-1",
        "case_id": 42,
        "metadata": {"references": ["<20241021063006.3745@mail.example.com>"]},
    }
    base.update(kw)
    return OutboundMessage(**base)


def test_reply_threads_and_keeps_turkish(channel: EmailChannel, smtp_server: Any) -> None:
    result = channel.send(
        reply(
            metadata={
                "references": ["<root@example.com>", "<mid@acme.com.tr>"],
                "html": "<p>İadeniz <b>işleme</b> alındı</p>",
            }
        )
    )
    (msg,) = smtp_server.recorder.messages
    assert msg["Message-ID"] == result.external_id
    assert result.external_id.endswith("@mail.acme.com.tr>")
    assert msg["In-Reply-To"] == "<20241021063006.3745@mail.example.com>"
    assert msg["References"].split() == [
        "<root@example.com>",
        "<mid@acme.com.tr>",
        "<20241021063006.3745@mail.example.com>",
    ]
    assert msg["Subject"] == "[#42] Re: Fazla çekilen ücretin iadesi"
    assert msg["From"].addresses[0].display_name == "Acme Müşteri Hizmetleri"
    assert msg.get_body(("plain",)).get_content().replace("\r\n", "\n").rstrip("\n") == TEXT
    assert "işleme" in msg.get_body(("html",)).get_content()
    assert "Auto-Submitted" not in msg  # an agent's reply is not automatic
    assert smtp_server.recorder.envelopes == [("destek@acme.com.tr", ["zeynep.arslan@example.com"])]
    assert smtp_server.recorder.logins == ["scrm-relay"]


def test_references_default_to_thread_and_parent(channel: EmailChannel, smtp_server: Any) -> None:
    channel.send(reply(metadata={}, thread_key="<root@example.com>", in_reply_to="<p@acme.com.tr>"))
    (msg,) = smtp_server.recorder.messages
    assert msg["References"].split() == ["<root@example.com>", "<p@acme.com.tr>"]


def test_automatic_acknowledgment_is_marked(channel: EmailChannel, smtp_server: Any) -> None:
    channel.send(reply(metadata={"automatic": True}))
    assert smtp_server.recorder.messages[0]["Auto-Submitted"] == "auto-replied"


@pytest.mark.parametrize(
    ("subject", "case_id", "is_reply", "expected"),
    [
        ("Fazla çekilen ücret", 7, True, "[#7] Re: Fazla çekilen ücret"),
        ("Re: [#7] Re: Fazla çekilen ücret", 7, True, "[#7] Re: Fazla çekilen ücret"),
        ("YNT: RE: Konu", None, True, "Re: Konu"),
        ("Konu", None, False, "Konu"),
        (None, 9, True, "[#9] Re: Case #9"),
    ],
)
def test_subject_is_tagged_once(
    subject: str | None, case_id: int | None, is_reply: bool, expected: str
) -> None:
    assert reply_subject(subject, case_id=case_id, reply=is_reply) == expected


def test_4xx_is_transient_and_a_retry_reuses_the_message_id(
    channel: EmailChannel, smtp_server: Any
) -> None:
    smtp_server.recorder.fail_next.append("451 4.3.0 Mailbox busy, try again later")
    with pytest.raises(TransientSendError) as e:
        channel.send(reply())
    assert "451" in str(e.value) and "try again later" in str(e.value)
    result = channel.send(reply())  # the outbox retries the same message
    (msg,) = smtp_server.recorder.messages
    assert msg["Message-ID"] == result.external_id


def test_5xx_is_permanent_with_the_server_message(channel: EmailChannel, smtp_server: Any) -> None:
    smtp_server.recorder.fail_next.append("554 5.7.1 Message rejected as spam")
    with pytest.raises(PermanentSendError, match=r"554 5\.7\.1 Message rejected as spam"):
        channel.send(reply())
    assert smtp_server.recorder.messages == []


def test_connection_refused_is_transient(smtp_server: Any, settings_for: Any) -> None:
    settings = settings_for(None, smtp_server)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        settings["smtp"]["port"] = s.getsockname()[1]  # nothing listens there once closed
    with pytest.raises(TransientSendError, match="ConnectionRefusedError"):
        EmailChannel(settings).send(reply())


def test_bad_credentials_are_permanent_and_never_logged(
    smtp_server: Any, settings_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = settings_for(None, smtp_server)
    settings["smtp"]["password"] = "wrong-Pw-zz91"
    with pytest.raises(PermanentSendError, match="535") as e:
        EmailChannel(settings).send(reply())
    assert "wrong-Pw-zz91" not in str(e.value)
    assert "wrong-Pw-zz91" not in caplog.text
    assert "wrong-Pw-zz91" not in repr(EmailChannel(settings).settings)


def test_password_from_the_environment(
    smtp_server: Any, settings_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_for(None, smtp_server)
    monkeypatch.setenv("TEST_SMTP_PASSWORD", settings["smtp"].pop("password"))
    settings["smtp"]["password_env"] = "TEST_SMTP_PASSWORD"
    EmailChannel(settings).send(reply())
    assert len(smtp_server.recorder.messages) == 1


def test_never_writes_to_automatic_addresses(channel: EmailChannel, smtp_server: Any) -> None:
    with pytest.raises(PermanentSendError, match="mail loop"):
        channel.send(reply(to="MAILER-DAEMON@googlemail.com"))
    with pytest.raises(PermanentSendError, match="no recipient"):
        channel.send(reply(to=None))
    assert smtp_server.recorder.messages == []


def test_send_without_smtp_settings_is_permanent() -> None:
    with pytest.raises(PermanentSendError, match="not configured"):
        EmailChannel({}).send(reply())
