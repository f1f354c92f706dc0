"""A sector pack's categories in the complaint loop (issue 20): a category without a playbook of
its own name replies with the templates of the playbook its pack names, and the console offers
the categories in use, the pack's too, when an agent relabels a message."""

from __future__ import annotations

import html
from collections.abc import Callable

import pytest
from consolekit import client, sign_in
from helpers import message
from serverkit import make_key

from scrm.core.app import Scrm
from scrm.core.config import Config
from scrm.core.services import outbox
from scrm.plugin import hookimpl

#: A bank customer's complaint that the banking pack reads as ``fees`` (playbook ``billing``).
FEES = "Hesabımdan her ay hesap işletim ücreti kesiliyor, iade edin"


@pytest.fixture
def scrm_config(scrm_database_url: str) -> Config:
    return Config(database_url=scrm_database_url, plugins={"classifier": {"sectors": ["banking"]}})


def _case_page(app: Scrm, case_id: int) -> str:
    c = client(app)
    sign_in(c, make_key(app, "admin"))
    page = c.get(f"/app/cases/{case_id}")
    assert page.status_code == 200, page.text[:300]
    return html.unescape(page.text)


def test_a_pack_category_replies_with_the_templates_of_the_playbook_it_follows(app: Scrm) -> None:
    app.ingest([message(1, FEES)])
    [case] = app.cases()
    assert case.category == "fees"
    texts = outbox.previews(app, case.id, actor="test").texts
    billing, other = (app.playbooks.playbooks[n] for n in ("billing", "other"))
    assert set(texts) == set(billing.templates)
    # The billing playbook's acknowledgement warns about card numbers; other's does not.
    assert "kart numaranızın" in texts["acknowledge"]
    assert "kart numaranızın" not in " ".join(other.texts("acknowledge", None).values())
    assert "kart numaranızın" in _case_page(app, case.id)


def test_the_relabel_list_offers_the_pack_categories(app: Scrm) -> None:
    app.ingest([message(1, FEES)])
    [case] = app.cases()
    page = _case_page(app, case.id)
    relabel = page[page.index('name="category"') :]
    relabel = relabel[: relabel.index("</select>")]
    for category in ("fees", "fraud", "atm", "call_centre", "billing", "other"):
        assert f"<option>{category}</option>" in relabel or (
            f"<option selected>{category}</option>" in relabel
        ), category


class CryptoCategories:
    """A company's own classifier, with a category that follows the outage playbook."""

    @hookimpl
    def register_categories(self, register: Callable[[str, str | None], None]) -> None:
        register("crypto_wallet", "service_outage")
        register("fees", "refund")  # a later plugin is asked first: its word wins


def test_a_plugin_registers_its_categories_and_their_playbooks(
    app: Scrm, register_plugin: Callable[[object], None]
) -> None:
    register_plugin(CryptoCategories())
    books = app.playbooks
    assert books.for_category("crypto_wallet").category == "service_outage"
    assert books.for_category("fees").category == "refund"
    assert books.for_category("atm").category == "other"  # the pack names no playbook for it
    assert "crypto_wallet" in books.categories and "fraud" in books.categories
