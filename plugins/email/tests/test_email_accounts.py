"""One brand with two e-mail accounts (pymap and aiosmtpd on 127.0.0.1): destek@ with a second
folder for iade@, and fatura@ with an SMTP sender of its own.  A reply goes out from the address
the customer wrote to, not from the first account's."""

from __future__ import annotations

import json
from typing import Any

import pytest

from scrm.core.app import Scrm
from scrm.core.config import Config

SUPPORT = "destek@acme.com.tr"
RETURNS = "iade@acme.com.tr"
BILLING = "fatura@acme.com.tr"


@pytest.fixture
def scrm_config(
    scrm_database_url: str, imap_server: Any, smtp_server: Any, settings_for: Any
) -> Config:
    """One IMAP login; mail to iade@ is filed in "Iade", mail to fatura@ in "Fatura"."""
    client = imap_server.client()
    client.create_folder("Iade")
    client.create_folder("Fatura")
    client.logout()
    base = settings_for(imap_server, smtp_server)
    (box,), smtp = base["mailboxes"], base["smtp"]
    accounts = {
        "support": {
            "mailboxes": [{**box, "name": "support", "address": SUPPORT},
                          {**box, "name": "returns", "folder": "Iade", "address": RETURNS}],
            "smtp": {**smtp, "from_address": SUPPORT},
        },
        "billing": {
            "mailboxes": [{**box, "name": "billing", "folder": "Fatura", "address": BILLING}],
            "smtp": {**smtp, "from_address": BILLING, "from_name": "Acme Fatura"},
        },
    }  # fmt: skip
    return Config(
        database_url=scrm_database_url,
        channels={"email": {"poll_interval": 300.0, "accounts": accounts}},
        brands={"acme": {"name": "Acme", "accounts": {"email": [SUPPORT, RETURNS, BILLING]}}},
    )


def test_a_reply_leaves_from_the_address_the_customer_wrote_to(
    app: Scrm, cli: Any, imap_server: Any, smtp_server: Any, mail: Any
) -> None:
    written = {SUPPORT: "INBOX", RETURNS: "Iade", BILLING: "Fatura"}
    for n, (to, folder) in enumerate(written.items()):
        imap_server.deliver(
            mail(sender=f"Müşteri {n} <musteri{n}@example.com>", to=to, subject=f"Konu {n}",
                 msgid=f"<c{n}@example.com>", text=f"Merhaba, {to} adresine yazıyorum."),
            folder=folder,
        )  # fmt: skip
    cli("email", "poll", "--once")
    stored = json.loads(cli("interactions", "list", "--json").stdout)
    arrived = {i["external_id"]: i["account"] for i in stored}
    assert arrived == {"<c0@example.com>": SUPPORT, "<c1@example.com>": RETURNS,
                       "<c2@example.com>": BILLING}  # fmt: skip
    for case in app.for_brand("acme").cases():
        cli("reply", str(case.id), "--text", f"Kaydınız {case.id} inceleniyor.")
    assert cli("outbox", "deliver").stdout.startswith("sent 3,")
    sent = {m["In-Reply-To"]: m for m in smtp_server.recorder.messages}
    assert sent["<c0@example.com>"]["From"] == f"Acme Müşteri Hizmetleri <{SUPPORT}>"
    # iade@ is the support account's second folder: its SMTP login, its own address
    assert sent["<c1@example.com>"]["From"] == f"Acme Müşteri Hizmetleri <{RETURNS}>"
    assert sent["<c2@example.com>"]["From"] == f"Acme Fatura <{BILLING}>"
    envelopes = sorted(mail_from for mail_from, _ in smtp_server.recorder.envelopes)
    assert envelopes == sorted([SUPPORT, RETURNS, BILLING])
    # each reply is recorded as the brand's message from the address it left from
    ours = {i.in_reply_to: i.account for i in app.interactions() if i.direction == "outbound"}
    assert ours == arrived


def test_an_address_of_another_account_or_none_gets_the_smtp_sender(app: Scrm) -> None:
    support = app.channel("email").by_label("support")
    assert support.reply_account(RETURNS) == RETURNS
    assert support.reply_account(BILLING) == SUPPORT  # billing's: not this account's to use
    assert support.reply_account(None) == SUPPORT  # a message stored before accounts were kept
