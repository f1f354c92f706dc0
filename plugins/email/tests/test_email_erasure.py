"""Erasing a customer deletes the attachment files directory mode stored for them."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest
import sqlalchemy as sa
from scrm_email.parse import encode_payload

from scrm.core.config import Config
from scrm.core.models import Identity
from scrm.core.privacy import erase_customer, purge_deleted


@pytest.fixture
def scrm_config(scrm_database_url: str, tmp_path: Path) -> Config:
    return Config(
        database_url=scrm_database_url,
        channels={
            "email": {
                "addresses": ["destek@acme.com.tr"],
                "attachments": "directory",
                "attachment_dir": str(tmp_path / "files"),
            }
        },
    )


def mail(sender: str, n: int, content: bytes) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "destek@acme.com.tr"
    msg["Subject"] = "Fatura hatası"
    msg["Message-ID"] = f"<m{n}@example.com>"
    msg["Date"] = "Mon, 21 Oct 2024 09:00:00 +0300"
    msg.set_content("Faturam yanlış geldi, düzeltir misiniz?")
    msg.add_attachment(content, maintype="application", subtype="pdf", filename="fatura.pdf")
    return msg.as_bytes()


def test_erasure_deletes_the_persons_attachment_files(app, tmp_path: Path) -> None:
    report = app.ingest_native(
        "email",
        [
            encode_payload(mail("ayse@example.com", 1, b"%PDF ayse's invoice")),
            encode_payload(mail("ali@example.com", 2, b"%PDF ali's invoice")),
            encode_payload(mail("veli@example.com", 3, b"%PDF ali's invoice")),
        ],
    )
    assert report.stored == 3
    files = sorted((tmp_path / "files").rglob("*.pdf"))
    assert len(files) == 2
    with app.session() as s:
        people = dict(s.execute(sa.select(Identity.external_id, Identity.customer_id)).all())
    with app.session() as s:
        erase_customer(s, people["ayse@example.com"], "dpo", app.hooks)
        erase_customer(s, people["ali@example.com"], "dpo", app.hooks)
    purge_deleted(app.engine)
    left = sorted((tmp_path / "files").rglob("*.pdf"))
    # Ayşe's file is gone; the file Ali and Veli both sent stays for Veli.
    assert len(left) == 1 and left[0].read_bytes() == b"%PDF ali's invoice"
