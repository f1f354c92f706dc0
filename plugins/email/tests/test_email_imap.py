"""Receiving from a real IMAP server (pymap on 127.0.0.1), and the issue's end-to-end exchange."""

from __future__ import annotations

import json
import logging
import threading
import time
from email import message_from_bytes, policy
from typing import Any

import pytest
import sqlalchemy as sa
from scrm_email.channel import EmailChannel
from scrm_email.imap import PollResult, connect, poll_mailbox, watch_mailbox
from scrm_email.parse import encode_payload

from scrm.core.app import Scrm
from scrm.core.schemas import OutboundMessage
from scrm.testing import CliInvoker

CUSTOMER = "Zeynep Arslan <zeynep.arslan@example.com>"


@pytest.fixture
def email_settings(imap_server: Any, smtp_server: Any, settings_for: Any) -> dict[str, Any]:
    return dict(settings_for(imap_server, smtp_server))


def channel_of(app: Scrm) -> EmailChannel:
    ch = app.channel("email")
    assert isinstance(ch, EmailChannel)
    return ch


def poll(app: Scrm) -> PollResult:
    box = channel_of(app).settings.mailboxes[0]
    with connect(box) as client:
        return poll_mailbox(app, box, client, batch=2)


def customer_mail(mail: Any, n: int, **kw: Any) -> Any:
    return mail(
        sender=CUSTOMER,
        subject=kw.pop("subject", f"Fatura sorunu {n}"),
        text=kw.pop("text", f"Faturamda hata var, ücret iki kez çekildi ({n})."),
        msgid=f"<c{n}@mail.example.com>",
        **kw,
    )


def test_incremental_fetch_by_uid(app: Scrm, imap_server: Any, mail: Any) -> None:
    imap_server.deliver(customer_mail(mail, 1), customer_mail(mail, 2), customer_mail(mail, 3))
    first = poll(app)
    assert (first.fetched, first.totals()["stored"], first.resynced) == (3, 3, False)
    state = app.load_state("email", "support")
    assert state == {"uidvalidity": first.uidvalidity, "last_uid": state["last_uid"]}  # type: ignore[index]
    assert poll(app).fetched == 0  # nothing new: "n:*" returning the last UID is filtered
    imap_server.deliver(customer_mail(mail, 4))
    second = poll(app)
    assert (second.fetched, second.totals()["stored"]) == (1, 1)
    assert {i.external_id for i in app.interactions(channel="email")} == {
        f"<c{n}@mail.example.com>" for n in range(1, 5)
    }


def test_uidvalidity_change_resyncs_without_duplicates(
    app: Scrm, imap_server: Any, mail: Any
) -> None:
    old = [customer_mail(mail, 1), customer_mail(mail, 2)]
    imap_server.deliver(*old)
    before = poll(app)
    imap_server.restart()  # a new folder: new UIDVALIDITY, UIDs start again
    imap_server.deliver(*old, customer_mail(mail, 3))
    after = poll(app)
    assert after.uidvalidity != before.uidvalidity and after.resynced
    totals = after.totals()
    assert (totals["fetched"], totals["stored"], totals["duplicates"]) == (3, 1, 2)
    assert len(app.interactions(channel="email")) == 3
    assert app.load_state("email", "support")["uidvalidity"] == after.uidvalidity  # type: ignore[index]


def test_idle_wakes_the_watcher(app: Scrm, imap_server: Any, mail: Any) -> None:
    box = channel_of(app).settings.mailboxes[0]
    stop = threading.Event()
    results: list[PollResult] = []
    watcher = threading.Thread(
        target=watch_mailbox,
        args=(app, box, stop),
        kwargs={"poll_interval": 300.0, "idle_timeout": 300.0, "on_result": results.append},
    )
    watcher.start()
    try:
        deadline = time.monotonic() + 10
        while not results and time.monotonic() < deadline:
            time.sleep(0.05)
        assert results, "the watcher did not make its first poll"
        time.sleep(0.3)  # let it enter IDLE
        imap_server.deliver(customer_mail(mail, 1))
        deadline = time.monotonic() + 10  # far below the 300 s poll interval: only IDLE wakes it
        while not app.interactions(channel="email") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [i.external_id for i in app.interactions(channel="email")] == [
            "<c1@mail.example.com>"
        ]
    finally:
        stop.set()
        watcher.join(10)
    assert not watcher.is_alive()


def test_four_message_exchange_threads_onto_one_case(
    app: Scrm, imap_server: Any, mail: Any
) -> None:
    brand = "Acme Müşteri Hizmetleri <destek@acme.com.tr>"
    m1 = customer_mail(
        mail,
        1,
        subject="Modem kira bedeli",
        text="Modem kira bedeli iki kez yansıdı, iade istiyorum.",
    )
    m2 = mail(
        sender=brand,
        to=CUSTOMER,
        subject="Re: Modem kira bedeli",
        text="Talebiniz alındı.",
        msgid="<b2@acme.com.tr>",
        in_reply_to="<c1@mail.example.com>",
        references="<c1@mail.example.com>",
    )
    m3 = mail(
        sender=CUSTOMER,
        subject="Re: Modem kira bedeli",
        text="Ne zaman iade edilecek?",
        msgid="<c3@mail.example.com>",
        in_reply_to="<b2@acme.com.tr>",
        references="<c1@mail.example.com> <b2@acme.com.tr>",
    )
    m4 = mail(
        sender=brand,
        to=CUSTOMER,
        subject="Re: Modem kira bedeli",
        text="3 iş günü içinde.",
        msgid="<b4@acme.com.tr>",
        in_reply_to="<c3@mail.example.com>",
        references="<c1@mail.example.com> <b2@acme.com.tr> <c3@mail.example.com>",
    )
    imap_server.deliver(m1, m2)
    poll(app)
    imap_server.deliver(m3, m4)
    poll(app)
    items = app.interactions(channel="email")
    assert [i.direction for i in items] == ["inbound", "outbound", "inbound", "outbound"]
    assert {i.thread_key for i in items} == {"<c1@mail.example.com>"}
    cases = {i.case_id for i in items}
    assert len(cases) == 1 and None not in cases
    (case_id,) = cases
    assert case_id is not None and app.case(case_id).first_response_at is not None


def test_end_to_end_customer_reply_lands_on_the_same_case(
    app: Scrm,
    imap_server: Any,
    smtp_server: Any,
    mail: Any,
    caplog: pytest.LogCaptureFixture,
    test_passwords: tuple[str, str],
) -> None:
    caplog.set_level(logging.DEBUG)
    # 1. The customer mails in; polling opens a case.
    imap_server.deliver(customer_mail(mail, 1, subject="Fazla çekilen ücretin iadesi"))
    poll(app)
    (first,) = app.interactions(channel="email")
    assert first.case_id is not None
    # 2. The brand answers through the channel (as the outbox will).
    channel = channel_of(app)
    result = channel.send(
        OutboundMessage(
            channel="email",
            text="Talebiniz DST-1 numarası ile kaydedildi.",
            public=False,
            to="zeynep.arslan@example.com",
            in_reply_to=first.external_id,
            thread_key=first.thread_key,
            subject=first.subject,
            idempotency_key=f"ack-{first.id}",
            case_id=first.case_id,
        )
    )
    (sent,) = smtp_server.recorder.messages
    assert sent["In-Reply-To"] == first.external_id
    assert sent["References"] == first.external_id
    assert sent["Subject"] == f"[#{first.case_id}] Re: Fazla çekilen ücretin iadesi"
    # The copy kept by the brand (Bcc/Sent folder) is recorded as the first response.
    app.ingest_native("email", [encode_payload(sent.as_bytes(), source="sent")])
    # 3. The customer's client threads the acknowledgment and replies to it.
    received = message_from_bytes(sent.as_bytes(), policy=policy.default)
    answer = mail(
        sender=CUSTOMER,
        subject="Re: " + str(received["Subject"]),
        text=f"Teşekkürler, ne zaman iade edilir?\n\nOn Mon, Acme wrote:\n> {TEXT_QUOTE}",
        msgid="<c2@mail.example.com>",
        in_reply_to=str(received["Message-ID"]),
        references=f"{received['References']} {received['Message-ID']}",
        date="Mon, 21 Oct 2024 12:00:00 +0300",
    )
    imap_server.deliver(answer)
    poll(app)
    # 4. The reply lands on the same case, quote split off.
    items = {i.external_id: i for i in app.interactions(channel="email")}
    assert set(items) == {first.external_id, result.external_id, "<c2@mail.example.com>"}
    assert items["<c2@mail.example.com>"].case_id == first.case_id
    assert items[result.external_id].direction == "outbound"
    assert items[result.external_id].case_id == first.case_id
    assert items["<c2@mail.example.com>"].text == "Teşekkürler, ne zaman iade edilir?"
    assert app.case(first.case_id).first_response_at is not None
    # Credentials appear nowhere: not in logs, not in any stored row.
    # (The test servers' own wire logs, pymap and mail.log, are not ours and are left out.)
    secrets = test_passwords
    ours = "\n".join(
        r.getMessage() for r in caplog.records if not r.name.startswith(("pymap", "mail.log"))
    )
    assert "LOGIN" in ours  # the client's protocol log was captured, with the password redacted
    for secret in secrets:
        assert secret not in ours
    with app.engine.connect() as conn:
        for table in sa.inspect(conn).get_table_names():
            for row in conn.execute(sa.text(f"SELECT * FROM {table}")):
                dumped = json.dumps([str(v) for v in row])
                assert not any(s in dumped for s in secrets), table


TEXT_QUOTE = "Talebiniz DST-1 numarası ile kaydedildi."


def test_cli_poll_once(cli: CliInvoker, app: Scrm, imap_server: Any, mail: Any) -> None:
    imap_server.deliver(customer_mail(mail, 1))
    out = cli("email", "poll", "--once", "--json")
    line = json.loads(out.stdout.splitlines()[0])
    assert (line["mailbox"], line["fetched"], line["stored"]) == ("support", 1, 1)
    assert "email" in cli("--help").stdout
    bad = cli("email", "poll", "--mailbox", "nope", expect=1)
    assert "unknown mailbox 'nope'" in bad.stderr
