"""Several brands in one deployment: the brand a message belongs to, and each brand's view.

The isolation walk over every route and command is in test_brand_walk.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from helpers import message

from scrm.core.app import Scrm, open_app
from scrm.core.config import Config, ConfigError, load_config
from scrm.core.errors import NotFound
from scrm.core.models import Brand, Customer, Interaction
from scrm.core.services import cases, outbox
from scrm.core.tenancy import DEFAULT_BRAND_ID, BrandScopeError

BRANDS = {
    "acme": {"name": "Acme", "accounts": {"twitter": ["acme_tr"]}},
    "globex": {"name": "Globex", "timezone": "Europe/London", "accounts": {"twitter": ["globex"]}},
}


@pytest.fixture
def scrm_config(scrm_database_url: str) -> Config:
    return Config(
        database_url=scrm_database_url,
        brands=BRANDS,
        server={"secret_key": "server-key-for-tests-0123456789"},
    )


def _brand_of(app: Scrm, external_id: str) -> list[str]:
    with app.session() as s:
        return list(
            s.scalars(
                sa.select(Brand.key)
                .join(Interaction, Interaction.brand_id == Brand.id)
                .where(Interaction.external_id == external_id)
                .order_by(Brand.key)
            )
        )


def test_a_single_brand_installation_has_one_implicit_brand(scrm_database_url: str) -> None:
    with open_app(scrm_database_url) as app:
        app.ingest([message(1)])
        assert _brand_of(app, "1") == ["default"]
        assert app.brands.ids == {"default": DEFAULT_BRAND_ID}
        assert len(app.cases()) == 1


def test_the_account_a_message_arrived_on_decides_its_brand(app: Scrm) -> None:
    report = app.ingest(
        [
            message(1, account="acme_tr", author="deniz"),
            message(2, account="globex", author="deniz", minutes=1),
            message(3, author="deniz", minutes=2),  # no account: the default brand
        ]
    )
    assert report.stored == 3 and report.rejected == 0
    assert [_brand_of(app, n) for n in "123"] == [["acme"], ["globex"], ["default"]]
    # The same person writing to two brands is a customer of each.
    with app.session() as s:
        brands = s.scalars(sa.select(Customer.brand_id).order_by(Customer.brand_id)).all()
    assert brands == [DEFAULT_BRAND_ID, app.brands.id_of("acme"), app.brands.id_of("globex")]
    assert len(app.cases()) == 3


def test_the_same_message_seen_by_two_brands_is_stored_for_each(app: Scrm) -> None:
    first = app.ingest([message(7, account="acme_tr")])
    second = app.ingest([message(7, account="globex")])
    again = app.ingest([message(7, account="globex")])
    assert (first.stored, second.stored, again.duplicates) == (1, 1, 1)
    assert _brand_of(app, "7") == ["acme", "globex"]


def test_a_brand_sees_and_changes_only_its_own(app: Scrm) -> None:
    app.ingest([message(1, account="acme_tr"), message(2, account="globex", author="u2")])
    acme, globex = app.for_brand("acme"), app.for_brand("globex")
    [mine] = acme.cases()
    [theirs] = globex.cases()
    assert len(app.cases()) == 2  # across brands
    with pytest.raises(NotFound):
        acme.case(theirs.id)
    with pytest.raises(NotFound):
        cases.transition(acme, theirs.id, "acknowledged", actor="ece")
    cases.transition(acme, mine.id, "acknowledged", actor="ece")
    assert app.case(theirs.id).status == "new"
    # What a brand ingests is its own; another brand's account is refused.
    report = acme.ingest([message(3, author="u3"), message(4, account="globex", author="u4")])
    assert report.stored == 1 and report.rejects[0].field == "account"
    assert _brand_of(app, "3") == ["acme"]
    # An answer recorded on a case by an agency admin belongs to the case's brand.
    outbox.record_answer(app, theirs.id, actor="ece", text="Cevap verdik.", url="https://x.test/")
    assert {i.case_id for i in globex.interactions()} == {theirs.id}
    assert all(i.case_id != theirs.id for i in acme.interactions())


def test_a_brand_may_not_change_the_agencys_agents(app: Scrm) -> None:
    from scrm.core.agents import AgentIn, list_agents
    from scrm.core.services import agents

    agents.save(app, AgentIn(username="ece", department="support"), actor="admin")
    acme = app.for_brand("acme")
    with pytest.raises(BrandScopeError):
        agents.save(acme, AgentIn(username="ece", department="sales"), actor="acme-admin")
    agents.save(acme, AgentIn(username="ali", department="support"), actor="acme-admin")
    # The agency's agents work for every brand; a brand's own are its own.
    with app.for_brand("globex").session() as s:
        assert [a.username for a in list_agents(s)] == ["ece"]
    with acme.session() as s:
        assert [a.username for a in list_agents(s)] == ["ali", "ece"]


def test_unknown_brand_and_conflicting_accounts_are_refused(app: Scrm, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no brand 'initech'; brands: acme, default, globex"):
        app.for_brand("initech")
    path = tmp_path / "scrm.toml"
    path.write_text(
        '[brands.a]\nname = "A"\naccounts = {twitter = ["x"]}\n'
        '[brands.b]\nname = "B"\naccounts = {twitter = ["x"]}\n'
    )
    path.chmod(0o600)
    with pytest.raises(ConfigError, match="account twitter:x belongs to brands a and b"):
        load_config(path)


def test_an_existing_database_is_upgraded_into_the_default_brand(scrm_database_url: str) -> None:
    from scrm.core import db

    with open_app(scrm_database_url) as app:
        app.ingest([message(1), message(2, author="u2")])
        [case, _] = app.cases()
        outbox.reply(app, case.id, actor="ece", text="Bakıyoruz.")
        # Back to before brands, with the data in it, and up again.
        db.downgrade(app.engine, "0014", app.migration_locations())
        app.upgrade()
    with open_app(scrm_database_url) as app:
        with app.session() as s:
            assert set(s.scalars(sa.select(Interaction.brand_id))) == {DEFAULT_BRAND_ID}
            assert set(s.scalars(sa.select(Customer.brand_id))) == {DEFAULT_BRAND_ID}
        assert app.ingest([message(1)]).duplicates == 1
        assert len(app.for_brand("default").cases()) == 2


def test_reports_per_brand_and_across_brands(app: Scrm, cli: Any) -> None:
    app.ingest(
        [message(n, account="acme_tr", author=f"a{n}") for n in range(3)]
        + [message(10 + n, account="globex", author=f"g{n}") for n in range(2)]
    )
    window = ["--from", "2024-10-01", "--to", "2024-11-30", "--json"]

    def opened(*args: str) -> dict[str, int]:
        rep = json.loads(cli(*args, *window).stdout)
        return {g["key"]: g["cases_opened"] for g in [*rep["groups"], rep["total"]]}

    assert opened("report", "--by", "brand") == {"acme": 3, "globex": 2, "all": 5}
    assert opened("report", "--brand", "acme")["all"] == 3
    assert opened("--brand", "globex", "report")["all"] == 2
    # A brand's caller cannot ask for another brand's figures.
    refused = cli("--brand", "globex", "report", "--brand", "acme", *window, expect=1)
    assert "no brand 'acme'" in refused.stderr
    # The same over REST: an agency key chooses, a brand's key sees its own.
    from serverkit import SyncClient, auth, make_key

    from scrm.server import create_app

    api = SyncClient(create_app(app))
    period = "from=2024-10-01&to=2024-11-30"
    agency, globex = make_key(app, "admin"), make_key(app.for_brand("globex"), "readonly")
    r = api.get(f"/api/v1/reports?{period}&brand=acme", headers=auth(agency))
    assert r.json()["total"]["cases_opened"] == 3
    r = api.get(f"/api/v1/reports?{period}", headers=auth(globex))
    assert r.json()["total"]["cases_opened"] == 2
    r = api.get(f"/api/v1/reports?{period}&brand=acme", headers=auth(globex))
    assert r.status_code == 404


def test_a_brands_webhooks_get_its_events_only(app: Scrm, cli: Any) -> None:
    from scrm.core.models import WebhookDelivery, WebhookSubscription

    cli("--brand", "acme", "webhooks", "add", "http://127.0.0.1:9/acme", "--event", "case.opened")
    cli("webhooks", "add", "http://127.0.0.1:9/agency", "--event", "case.opened")
    app.ingest([message(1, account="acme_tr"), message(2, account="globex", author="u2")])
    with app.session() as s:
        got = dict(
            s.execute(
                sa.select(WebhookSubscription.url, sa.func.count(WebhookDelivery.id))
                .join(WebhookDelivery, WebhookDelivery.subscription_id == WebhookSubscription.id)
                .group_by(WebhookSubscription.url)
            ).all()
        )
    assert got == {"http://127.0.0.1:9/acme": 1, "http://127.0.0.1:9/agency": 2}


def test_a_brand_session_refuses_a_statement_it_cannot_limit(app: Scrm) -> None:
    from scrm.core.models import Case

    acme = app.for_brand("acme")
    # A sum of a CASE over cases names no model: the ORM could not add the brand to it.
    new = sa.and_(Case.status == "new", Case.reopen_count == 0)
    unlimited = sa.select(sa.func.sum(sa.case((new, 1), else_=0)))
    with acme.session() as s, pytest.raises(BrandScopeError, match=r"\['cases'\]"):
        s.execute(unlimited)
    with acme.session() as s:
        assert s.scalar(unlimited.select_from(Case)) is None  # no case of acme yet
    with app.session() as s:  # across brands, nothing to limit
        assert s.scalar(unlimited) is None
