"""Two brands with a mailbox and an SMTP sender each (pymap and aiosmtpd on 127.0.0.1): mail
lands in the brand of the address it was delivered to, replies leave from that brand's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from scrm.core.app import Scrm
from scrm.core.config import Config

ACME = "destek@acme.com.tr"
GLOBEX = "yardim@globex.com.tr"
CUSTOMER = "Zeynep Arslan <zeynep.arslan@example.com>"
BRANDS = {
    "acme": {"name": "Acme", "accounts": {"email": [ACME]}},
    "globex": {"name": "Globex", "accounts": {"email": [GLOBEX]}},
}


@pytest.fixture
def scrm_config(
    scrm_database_url: str, imap_server: Any, smtp_server: Any, settings_for: Any
) -> Config:
    """One IMAP login with a folder per brand (mail to each brand's alias filed there)."""
    client = imap_server.client()
    client.create_folder("Globex")
    client.logout()
    base = settings_for(imap_server, smtp_server)
    (box,), smtp = base["mailboxes"], base["smtp"]
    accounts = {
        "acme": {"mailboxes": [{**box, "name": "acme"}], "smtp": smtp, "addresses": [ACME]},
        "globex": {
            "mailboxes": [{**box, "name": "globex", "folder": "Globex", "address": GLOBEX}],
            "smtp": {**smtp, "from_address": GLOBEX, "from_name": "Globex Destek",
                     "domain": "mail.globex.com.tr"},
            "addresses": [GLOBEX],
        },
    }  # fmt: skip
    return Config(
        database_url=scrm_database_url,
        channels={"email": {"poll_interval": 300.0, "accounts": accounts}},
        brands=BRANDS,
    )


def texts(app: Scrm, brand: str) -> set[str]:
    return {i.text for i in app.for_brand(brand).interactions(limit=100)}


def deliver_both(imap_server: Any, mail: Any) -> None:
    imap_server.deliver(mail(sender=CUSTOMER, to=ACME, subject="Fatura", msgid="<a1@example.com>",
                             text="Acme faturam iki kez çekildi."))  # fmt: skip
    imap_server.deliver(
        mail(sender=CUSTOMER, to=GLOBEX, subject="Modem", msgid="<g1@example.com>",
             text="Globex modemim çalışmıyor."),
        folder="Globex",
    )  # fmt: skip


def test_polled_mail_lands_in_the_brand_of_its_mailbox(
    app: Scrm, cli: Any, imap_server: Any, mail: Any
) -> None:
    deliver_both(imap_server, mail)
    lines = [json.loads(x) for x in cli("email", "poll", "--once", "--json").stdout.splitlines()]
    assert [(r["mailbox"], r["account"], r["stored"]) for r in lines] == [
        ("acme", ACME, 1), ("globex", GLOBEX, 1),
    ]  # fmt: skip
    assert texts(app, "acme") == {"Acme faturam iki kez çekildi."}
    assert texts(app, "globex") == {"Globex modemim çalışmıyor."}
    assert app.load_state("email", "acme")["last_uid"] >= 1  # type: ignore[index]
    assert app.load_state("email", "globex")["last_uid"] >= 1  # type: ignore[index]


def test_replies_leave_from_the_address_of_the_case_brand(
    app: Scrm, cli: Any, imap_server: Any, smtp_server: Any, mail: Any
) -> None:
    deliver_both(imap_server, mail)
    cli("email", "poll", "--once")
    for brand in ("acme", "globex"):
        (case,) = app.for_brand(brand).cases()
        cli("reply", str(case.id), "--text", f"{brand} olarak inceliyoruz.")
    assert cli("outbox", "deliver").stdout.startswith("sent 2,")
    sent = {m["In-Reply-To"]: m for m in smtp_server.recorder.messages}
    assert sent["<a1@example.com>"]["From"] == f"Acme Müşteri Hizmetleri <{ACME}>"
    assert sent["<g1@example.com>"]["From"] == f"Globex Destek <{GLOBEX}>"
    assert sent["<g1@example.com>"]["Message-ID"].endswith("@mail.globex.com.tr>")
    assert "globex olarak" in sent["<g1@example.com>"].get_content()
    envelopes = sorted(mail_from for mail_from, _ in smtp_server.recorder.envelopes)
    assert envelopes == [ACME, GLOBEX]


def test_imported_mail_lands_in_the_brand_it_was_addressed_to(
    app: Scrm, cli: Any, mail: Any, tmp_path: Path
) -> None:
    folder = tmp_path / "mail"
    folder.mkdir()
    for n, to in enumerate((f"Globex <{GLOBEX}>", f"Acme <{ACME}>")):
        message = mail(sender=CUSTOMER, to=to, subject="Şikayet", msgid=f"<i{n}@example.com>",
                       text=f"İçe aktarılan {n}")  # fmt: skip
        (folder / f"{n}.eml").write_bytes(message.as_bytes())
    cli("email", "import", str(folder))
    assert texts(app, "globex") == {"İçe aktarılan 0"}
    assert texts(app, "acme") == {"İçe aktarılan 1"}
