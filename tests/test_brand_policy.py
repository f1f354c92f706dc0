"""What each brand decides differently: its taxonomy, playbooks, SLA policies and departments.

``[brands.<key>.plugins.<name>]`` merges over ``[plugins.<name>]``, ``[brands.<key>]
playbooks`` and ``departments`` replace the deployment's; the decision hooks get the brand's
context (``ctx.brand``, ``ctx.plugin_config``) wherever a case's brand is known.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers import T0, message

from scrm import hookimpl
from scrm.core.app import Scrm, open_app
from scrm.core.config import Config, ConfigError
from scrm.core.plugins import get_plugin_manager
from scrm.core.services import outbox
from scrm.core.services import sla as sla_service
from scrm.plugin import CaseInfo, PluginContext, SlaPolicy

TEXT = "Kartımdan iki kez ücret çekildi, paramı geri istiyorum!"

SHOP_PAYMENT = """\
category = "payment"
version = "1"
department = "sales"
[templates.acknowledge]
tr = "Merhaba {customer_name}, ödemenizi Shop kasa ekibi inceliyor. Kayıt no: {case_number}"
en = "Hi {customer_name}, the Shop checkout team is checking your payment. Ref: {case_number}"
"""
SHOP_OTHER = """\
category = "other"
version = "1"
[templates.acknowledge]
tr = "Merhaba {customer_name}, mesajınızı Shop olarak aldık."
en = "Hi {customer_name}, Shop has your message."
"""


def brands(playbooks: Path) -> dict[str, Any]:
    """Brand A: a bank, on the banking pack and a one-hour first response; brand B: a shop, on
    the retail pack, four hours, its own playbooks, and neither sales nor R&D."""
    return {
        "bank": {
            "name": "Bank",
            "accounts": {"twitter": ["bank_tr"]},
            "plugins": {
                "classifier": {"sectors": ["banking"]},
                "sla": {"warn_before": "PT45M", "policies": {"normal": {"first_response": "PT1H"}}},
            },
        },
        "shop": {
            "name": "Shop",
            "accounts": {"twitter": ["shop_tr"]},
            "playbooks": str(playbooks),
            "departments": ["support", "marketing"],
            "plugins": {
                "classifier": {"sectors": ["retail"]},
                "sla": {"policies": {"normal": {"first_response": "PT4H"}}},
            },
        },
    }


@pytest.fixture
def shop_playbooks(tmp_path: Path) -> Path:
    folder = tmp_path / "shop-playbooks"
    folder.mkdir()
    (folder / "payment.toml").write_text(SHOP_PAYMENT, encoding="utf-8")
    (folder / "other.toml").write_text(SHOP_OTHER, encoding="utf-8")
    return folder


@pytest.fixture
def scrm_config(scrm_database_url: str, shop_playbooks: Path) -> Config:
    return Config(database_url=scrm_database_url, brands=brands(shop_playbooks))


def _cases(app: Scrm, *keys: str) -> dict[str, Any]:
    """Each brand's only case."""
    return {key: app.for_brand(key).cases()[0] for key in keys}


def test_the_same_message_gets_each_brands_category_deadline_and_playbook(
    app: Scrm, cli: Any
) -> None:
    report = app.ingest(
        [
            message(1, TEXT, account="bank_tr"),
            message(2, TEXT, account="shop_tr"),
            message(3, TEXT),  # no account: the default brand, the deployment's settings
        ]
    )
    assert report.cases_opened == 3
    cases = _cases(app, "bank", "shop", "default")
    got = {
        key: (c.category, c.department, c.first_response_due - c.opened_at)
        for key, c in cases.items()
    }
    assert got == {
        # The banking pack's card category has no playbook: the bank's one-hour policy.
        "bank": ("card", "support", timedelta(hours=1)),
        # The retail pack's payment category: the shop's own playbook (sales, which the shop
        # does not use: triage) and its four hours.
        "shop": ("payment", "triage", timedelta(hours=4)),
        # The generic taxonomy, and the shipped billing playbook's two hours.
        "default": ("billing", "support", timedelta(hours=2)),
    }
    previews = {
        key: outbox.previews(app, c.id, actor="ece").texts["acknowledge"]
        for key, c in cases.items()
    }
    assert "Shop kasa ekibi" in previews["shop"]
    assert "Shop" not in previews["bank"] and "Shop" not in previews["default"]
    assert previews["bank"] != previews["default"]  # the bank's card: the "other" playbook
    # Routing says why the shop's case went to triage, for the agency as for the brand.
    [shop_message] = app.interactions(case=cases["shop"].id)
    for brand in ((), ("--brand", "shop")):
        explain = cli(*brand, "route", "explain", str(shop_message.id), "--json").stdout
        decision = json.loads(explain)["decision"]
        assert decision["department"] == "triage"
        assert "brand shop has no department sales" in decision["reason"]


def test_the_sla_sweep_and_the_report_follow_each_cases_brand(app: Scrm, cli: Any) -> None:
    app.ingest([message(1, TEXT, account="bank_tr"), message(2, TEXT, account="shop_tr")])
    cases = _cases(app, "bank", "shop")
    # 20 minutes in: the bank warns 45 minutes before its deadline, the shop 30 (the default).
    fired = list(sla_service.check(app, now=T0 + timedelta(minutes=20)))
    assert {(a.case_id, a.kind) for a in fired} == {(cases["bank"].id, "warning")}
    # Both answered after two hours: late for the bank, in time for the shop.
    app.ingest(
        [
            message(
                f"r{n}",
                "Merhaba, hemen bakıyoruz.",
                account=account,
                author=account,
                direction="outbound",
                in_reply_to=str(n),
                minutes=120,
            )
            for n, account in ((1, "bank_tr"), (2, "shop_tr"))
        ]
    )
    rep = json.loads(
        cli("report", "--by", "brand", "--from", "2024-10-21", "--to", "2024-10-21", "--json").stdout
    )
    met = {
        g["key"]: (g["sla"]["first_response"]["met"], g["sla"]["first_response"]["breached"])
        for g in rep["groups"]
    }
    assert met == {"bank": (0, 1), "shop": (1, 0)}


def test_the_decision_hooks_get_the_brands_context(scrm_config: Config) -> None:
    seen: list[tuple[str | None, str, Any]] = []

    class Spy:
        @hookimpl(tryfirst=True)
        def choose_sla(self, case: CaseInfo, ctx: PluginContext) -> SlaPolicy | None:
            settings = ctx.plugin_config("classifier")
            seen.append((ctx.brand, case.brand, tuple(settings.sectors)))
            return None

    pm = get_plugin_manager(extra=[Spy()])
    with open_app(config=scrm_config, pm=pm, migrate=True) as app:
        app.ingest([message(1, TEXT, account="bank_tr"), message(2, TEXT, account="shop_tr")])
        app.ingest([message(3, TEXT)])
    assert set(seen) == {
        ("bank", "bank", ("banking",)),
        ("shop", "shop", ("retail",)),
        ("default", "default", ()),
    }


def test_a_brand_view_lists_its_own_playbooks_and_categories(app: Scrm, cli: Any) -> None:
    shop = app.for_brand("shop")
    assert [b.category for b in shop.playbooks] == ["other", "payment"]
    assert "payment" in shop.playbooks.categories and "card" not in shop.playbooks.categories
    assert "card" in app.for_brand("bank").playbooks.categories
    assert shop.plugin_config("classifier").sectors == ["retail"]
    assert app.plugin_config("classifier").sectors == []
    listed = cli("--brand", "shop", "playbook", "list").stdout
    assert "payment" in listed and "billing" not in listed
    # The agency's console offers every brand's categories; a brand's, its own.
    assert {"card", "payment", "billing"} <= set(app.categories)
    assert "card" not in shop.categories


def test_the_automatic_acknowledgment_is_the_brands(
    scrm_database_url: str, shop_playbooks: Path
) -> None:
    config = Config(
        database_url=scrm_database_url,
        brands=brands(shop_playbooks),
        cases={"auto_acknowledge": True},
    )
    with open_app(config=config, migrate=True) as app:
        app.ingest([message(1, TEXT, account="shop_tr"), message(2, TEXT, account="bank_tr")])
        shop, bank = (app.for_brand(k).cases()[0] for k in ("shop", "bank"))
        [shop_ack] = app.case(shop.id).replies
        [bank_ack] = app.case(bank.id).replies
    assert "Shop kasa ekibi" in shop_ack.text
    assert "Shop" not in bank_ack.text


def test_scrm_classify_reads_a_brands_taxonomy(cli: Any) -> None:
    line = json.dumps({"id": "x", "text": TEXT}, ensure_ascii=False) + "\n"

    def category(*brand: str) -> str:
        out = cli(*brand, "classify", "-", input=line).stdout
        return str(json.loads(out)["category"])

    assert (category(), category("--brand", "bank"), category("--brand", "shop")) == (
        "billing",
        "card",
        "payment",
    )
    assert "no brand 'nosuch'" in cli("--brand", "nosuch", "classify", "-", input=line, expect=2).stderr


def test_a_single_brand_configuration_decides_as_before(scrm_database_url: str) -> None:
    with open_app(scrm_database_url, migrate=True) as app:
        app.ingest([message(1, TEXT)])
        [case] = app.cases()
        assert (case.category, case.first_response_due - case.opened_at) == (
            "billing",
            timedelta(hours=2),
        )
        assert app.hooks.for_brand("default").ctx.plugin_config("sla") is app.plugin_config("sla")


@pytest.mark.parametrize(
    ("brand", "error"),
    [
        (
            {"plugins": {"sla": {"policies": {"normal": {"first_response": "soon"}}}}},
            "brands.b.plugins.sla.policies.normal.first_response:",
        ),
        ({"plugins": {"classifier": {"sectors": ["bakery"]}}}, "no sector pack 'bakery'"),
        ({"plugins": {"nosuch": {}}}, "unknown section [brands.b.plugins.nosuch]"),
        ({"departments": ["support", "legal"]}, "brands.b.departments.1: no department 'legal'"),
        ({"playbooks": "/nowhere/at/all"}, "brands.b.playbooks: playbook folder /nowhere"),
    ],
)
def test_a_bad_brand_setting_is_one_line_naming_it(
    scrm_database_url: str, brand: dict[str, Any], error: str
) -> None:
    config = Config(database_url=scrm_database_url, brands={"b": {"name": "B", **brand}})
    with pytest.raises(ConfigError) as info:
        open_app(config=config, pm=get_plugin_manager(load_entrypoints=False))
    message_ = str(info.value)
    assert error in message_ and "\n" not in message_
    if "sector" in error:
        assert "brands.b.plugins.classifier" in message_


def test_the_console_case_page_offers_the_cases_brand_templates_and_categories(
    app: Scrm,
) -> None:
    from consolekit import client, sign_in
    from serverkit import make_key

    app.ingest([message(1, TEXT, account="shop_tr"), message(2, TEXT, account="bank_tr")])
    shop, bank = (app.for_brand(k).cases()[0] for k in ("shop", "bank"))
    c = client(app)
    sign_in(c, make_key(app, "admin"))  # the agency's: every brand's cases
    shop_page, bank_page = (c.get(f"/app/cases/{case.id}").text for case in (shop, bank))
    assert "Shop kasa ekibi" in shop_page and "Shop kasa ekibi" not in bank_page
    # The relabel list: the banking pack's categories for the bank, the retail pack's for the shop.
    assert "<option>fees</option>" in bank_page and "<option>fees</option>" not in shop_page
    assert "<option>stock</option>" in shop_page and "<option>stock</option>" not in bank_page


def test_a_brands_plugin_settings_stay_out_of_a_repr() -> None:
    config = Config(brands={"a": {"name": "A", "plugins": {"x": {"api_token": "s3cr3t-v4lue"}}}})
    assert "s3cr3t-v4lue" not in repr(config) and "api_token" in repr(config)


LEAD = "Fiber internet paketi almak istiyorum, fiyat teklifi alabilir miyim?"
BURST = [
    "@destek 3 gündür internet yok, müşteri hizmetleri de açmıyor. Rezalet, herkes Rakip'e geçsin! #Rezalet",
    "@destek 3 gündür internetim yok, müşteri hizmetleri açmıyor. Tam rezalet, herkes Rakip'e geçsin #Rezalet",
    "3 gündür internet yok!! @destek müşteri hizmetleri de açmıyor, rezalet herkes Rakip'e geçsin #Rezalet",
]  # fmt: skip


def test_the_department_modules_handle_each_brands_messages_with_its_settings(
    scrm_database_url: str,
) -> None:
    """After commit too: the sales module names each brand's lead owner, and the coordinated
    check counts a burst by each brand's own threshold (the deployment's five accounts, the
    shop's two)."""
    import sqlalchemy as sa

    from scrm.core.models import Interaction
    from scrm.plugins.tables.coordinated import CaseFlag
    from scrm.plugins.tables.sales import Lead

    config = Config(
        database_url=scrm_database_url,
        plugins={"sales": {"default_owner": "bank.sales"}},
        brands={
            "bank": {"name": "Bank", "accounts": {"twitter": ["bank_tr"]}},
            "shop": {
                "name": "Shop",
                "accounts": {"twitter": ["shop_tr"]},
                "plugins": {
                    "sales": {"default_owner": "shop.sales"},
                    "coordinated": {"min_accounts": 2},
                },
            },
        },
    )

    def burst(prefix: str, account: str) -> list[dict[str, Any]]:
        return [
            message(f"{prefix}{k}", text, account=account, author=f"{prefix}-new{k}",
                    minutes=10 + k, public=True,
                    author_obj={"external_id": f"{prefix}-new{k}", "handle": f"{prefix}new{k}",
                                "followers": 3, "account_created_at": (T0 - timedelta(days=2)).isoformat()})
            for k, text in enumerate(BURST)
        ]  # fmt: skip

    with open_app(config=config, migrate=True) as app:
        app.ingest(
            [
                message("l1", LEAD, account="bank_tr", author="b1"),
                message("l2", LEAD, account="shop_tr", author="s1"),
                *burst("b", "bank_tr"),
                *burst("s", "shop_tr"),
            ]
        )
        with app.session() as s:
            owners = dict(
                s.execute(
                    sa.select(Interaction.external_id, Lead.owner).join(
                        Interaction, Interaction.id == Lead.interaction_id
                    )
                ).all()
            )
            flagged = set(
                s.scalars(
                    sa.select(Interaction.external_id)
                    .join(CaseFlag, CaseFlag.case_id == Interaction.case_id)
                    .where(Interaction.external_id.in_([f"{p}{k}" for p in "bs" for k in range(3)]))
                )
            )
    assert owners == {"l1": "bank.sales", "l2": "shop.sales"}
    assert flagged == {"s0", "s1", "s2"}  # three accounts: a burst for the shop, not the bank
