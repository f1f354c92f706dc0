"""A channel with several brand accounts: its settings tables, and which account answers a case."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, ClassVar

import pytest
from pydantic import Field

from scrm.core.app import Scrm, open_app
from scrm.core.channel import account_sections
from scrm.core.config import Config, ConfigError
from scrm.core.plugins import get_plugin_manager
from scrm.plugin import Channel, OutboundMessage, SendResult, hookimpl
from scrm.plugin.polling import AuthError, PollReport, StreamResult, poll_accounts, stream_name
from scrm.testing import CliInvoker


class LineChannel(Channel):
    """A messaging line per brand: its number is the account, its token sends."""

    name = "line"
    sent: ClassVar[list[tuple[str | None, str | None, str]]] = []

    class Settings(Channel.Settings):
        number: str | None = Field(default=None, pattern=r"^\d+$")
        token: str | None = None
        region: str = "tr"

    settings: Settings

    def account_ids(self) -> tuple[str, ...]:
        return (self.settings.number,) if self.settings.number else ()

    def send(self, message: OutboundMessage) -> SendResult:
        LineChannel.sent.append((self.settings.token, message.account, message.text))
        return SendResult(external_id=f"out-{len(LineChannel.sent)}")


class LinePlugin:
    @hookimpl
    def register_channels(self, register: Callable[[type[Channel]], None]) -> None:
        register(LineChannel)


BRANDS = {
    "acme": {"name": "Acme", "accounts": {"line": ["111"]}},
    "globex": {"name": "Globex", "accounts": {"line": ["222"]}},
    "initech": {"name": "Initech"},
}
LINES = {
    "region": "de",
    "accounts": {
        "acme": {"number": "111", "token": "acme-token"},
        "globex": {"number": "222", "token": "globex-token", "region": "uk"},
        "spare": {"number": "333", "token": "spare-token"},
    },
}


@pytest.fixture
def scrm_plugins() -> list[object]:
    return [LinePlugin()]


@pytest.fixture
def scrm_config(scrm_database_url: str) -> Config:
    return Config(database_url=scrm_database_url, channels={"line": LINES}, brands=BRANDS)


@pytest.fixture(autouse=True)
def _no_sends() -> None:
    LineChannel.sent.clear()


def message(n: int, account: str | None) -> dict[str, Any]:
    return {"channel": "line", "external_id": f"m{n}", "account": account,
            "text": f"kargom gelmedi {n}", "created_at": "2024-10-21T10:00:00+03:00",
            "author": {"external_id": f"u{n}"}}  # fmt: skip


def test_each_accounts_table_is_the_shared_keys_with_its_own_over_them() -> None:
    assert account_sections({"region": "de"}) == {"default": {"region": "de"}}
    merged = account_sections(LINES)
    assert merged["globex"] == {"region": "uk", "number": "222", "token": "globex-token"}
    assert merged["acme"]["region"] == "de" and list(merged) == ["acme", "globex", "spare"]
    for bad in ({}, [], {"Acme Brand": {}}, {"acme": "111"}):
        with pytest.raises(ValueError, match="accounts"):
            account_sections({"accounts": bad})


def test_the_configured_channel_is_the_first_account_and_finds_the_others(app: Scrm) -> None:
    line = app.channel("line")
    assert (line.account_label, line.account_ids()) == ("acme", ("111",))
    labels = [(a.account_label, a.settings.region) for a in line.accounts()]  # type: ignore[attr-defined]
    assert labels == [("acme", "de"), ("globex", "uk"), ("spare", "de")]
    assert line.for_account("222") is line.accounts()[1] and line.for_account("9") is None
    assert line.accounts()[1].state_key("cursor") == "globex/cursor"
    assert line.by_label("globex") is line.accounts()[1]
    with pytest.raises(LookupError, match="no line account 'nope'; accounts: acme, globex, spare"):
        line.by_label("nope")
    assert LineChannel({"number": "5"}).state_key("cursor") == "cursor"  # a single account


def test_a_bad_account_setting_is_named_with_its_table(scrm_database_url: str) -> None:
    pm = get_plugin_manager(extra=[LinePlugin()])
    bad = {"accounts": {"acme": {"number": "111"}, "globex": {"number": "two"}}}
    with pytest.raises(ConfigError, match=r"channels\.line\.accounts\.globex\.number"):
        Scrm(Config(database_url=scrm_database_url, channels={"line": bad}), pm)
    with pytest.raises(ConfigError, match=r"channels\.line\.accounts: account label"):
        Scrm(Config(database_url=scrm_database_url,
                    channels={"line": {"accounts": {"Acme!": {}}}}), pm)  # fmt: skip


def test_replies_go_out_from_the_account_the_case_brand_owns(app: Scrm, cli: Any) -> None:
    report = app.ingest([message(1, "111"), message(2, "222"), message(3, None)])
    assert report.stored == 3
    cases = {b: app.for_brand(b).cases()[0].id for b in ("acme", "globex", "default")}
    for brand, case_id in cases.items():
        cli("reply", str(case_id), "--text", f"{brand} yanıtı")
    assert cli("outbox", "deliver").stdout.startswith("sent 3,")
    assert sorted(LineChannel.sent) == [
        ("acme-token", "111", "acme yanıtı"),
        ("globex-token", "222", "globex yanıtı"),
        ("spare-token", "333", "default yanıtı"),  # no brand lists it: the default brand's
    ]


def test_a_brand_without_its_own_account_is_never_answered_from_another(
    app: Scrm, cli: Any
) -> None:
    app.for_brand("initech").ingest([message(4, None)])
    (case,) = app.for_brand("initech").cases()
    cli("reply", str(case.id), "--text", "Merhaba")
    out = cli("outbox", "deliver", expect=None)
    assert "brand 'initech' has no line account to reply from" in out.stderr
    assert LineChannel.sent == []


def test_an_account_two_brands_list_answers_neither(scrm_database_url: str) -> None:
    config = Config(
        database_url=scrm_database_url,
        channels={"line": {"number": "111", "token": "t"}},
        brands={"acme": {"name": "Acme", "accounts": {"line": ["111"]}},
                "globex": {"name": "Globex", "accounts": {"line": ["999"]}}},
    )  # fmt: skip
    app = Scrm(config, get_plugin_manager(extra=[LinePlugin()]))
    acme, globex = app.brands.id_of("acme"), app.brands.id_of("globex")
    line = app.channel("line")
    assert app.brands.sender(line, acme) == (line, "111")
    with pytest.raises(Exception, match="brand 'globex' has no line account"):
        app.brands.sender(line, globex)
    shared = Config(
        database_url=scrm_database_url,
        channels={"line": {"number": "111", "token": "t"}},
        brands={"acme": {"name": "Acme", "accounts": {"line": ["111"]}},
                "globex": {"name": "Globex", "accounts": {"line": ["112"]}}},
    )  # fmt: skip
    both = Scrm(shared, get_plugin_manager(extra=[LinePlugin()]))
    two = LineChannel({"number": "111", "token": "t"})
    two.account_ids = lambda: ("111", "112")  # type: ignore[method-assign]
    with pytest.raises(Exception, match="speaks for brands acme, globex"):
        both.brands.sender(two, both.brands.id_of("acme"))


def test_one_failing_account_is_reported_and_the_others_are_polled() -> None:
    class Poller:
        def __init__(self, label: str, fails: bool) -> None:
            self.channel = LineChannel({"number": "1"})
            self.channel.account_label = label
            self.fails = fails
            self.sleep: Callable[[float], None] = lambda _: None

        def poll_once(self) -> PollReport:
            if self.fails:
                raise AuthError("the line refused channels.line.token (401)", 401)
            return PollReport([StreamResult(stream_name(self.channel, "inbox"), stored=2)])

        def next_interval(self) -> float:
            return 60.0

    report = poll_accounts([Poller("acme", True), Poller("globex", False)])
    assert [(s.name, s.stored, s.error) for s in report.streams] == [
        ("acme: account", 0, "the line refused channels.line.token (401)"),
        ("globex: inbox", 2, None),
    ]
    with pytest.raises(AuthError):
        poll_accounts([Poller("default", True)])
    assert poll_accounts([Poller("default", False)]).streams[0].name == "inbox"


# -- one brand with two accounts on a channel: the one the customer wrote to answers ---------

TWO_LINES = {
    "accounts": {
        "acme": {"number": "111", "token": "acme-token"},
        "acme_help": {"number": "112", "token": "help-token"},
        "globex": {"number": "222", "token": "globex-token"},
    }
}
TWO_BRANDS = {
    "acme": {"name": "Acme", "accounts": {"line": ["111", "112"]}},
    "globex": {"name": "Globex", "accounts": {"line": ["222"]}},
}


def two_accounts(url: str, brands: dict[str, Any] = TWO_BRANDS, **settings: Any) -> Scrm:
    """An application whose line channel holds two accounts of Acme and one of Globex."""
    config = Config(database_url=url, channels={"line": TWO_LINES}, brands=brands, **settings)
    return open_app(config=config, plugins=[LinePlugin()], migrate=True)


def case_of(app: Scrm, external_id: str) -> int:
    (it,) = [i for i in app.interactions(limit=100) if i.external_id == external_id]
    assert it.case_id is not None
    return it.case_id


def test_a_reply_leaves_from_the_account_the_customer_wrote_to(scrm_database_url: str) -> None:
    with two_accounts(scrm_database_url) as app:
        cli = CliInvoker(app)
        app.ingest([message(1, "111"), message(2, "112")])
        stored = json.loads(cli("interactions", "list", "--json").stdout)
        assert {i["external_id"]: i["account"] for i in stored} == {"m1": "111", "m2": "112"}
        assert json.loads(cli("interactions", "show", str(stored[1]["id"]), "--json").stdout)[
            "account"
        ] == "112"
        for ext in ("m1", "m2"):
            cli("reply", str(case_of(app, ext)), "--text", f"{ext} yanıtı")
        queued = json.loads(cli("outbox", "list", "--json").stdout)
        assert sorted(r["account"] for r in queued) == ["111", "112"]
        assert cli("outbox", "deliver").stdout.startswith("sent 2,")
        assert sorted(LineChannel.sent) == [
            ("acme-token", "111", "m1 yanıtı"),
            ("help-token", "112", "m2 yanıtı"),
        ]
        # recorded on the cases as sent from those accounts
        ours = {i.case_id: i.account for i in app.interactions() if i.direction == "outbound"}
        assert ours == {case_of(app, "m1"): "111", case_of(app, "m2"): "112"}


def test_the_automatic_acknowledgment_leaves_from_the_account_written_to(
    scrm_database_url: str,
) -> None:
    with two_accounts(scrm_database_url, cases={"auto_acknowledge": True}) as app:
        app.ingest([message(3, "112")])
        (ack,) = app.case(case_of(app, "m3")).replies
        assert (ack.actor, ack.account) == ("auto-ack", "112")
        CliInvoker(app)("outbox", "deliver")
        assert [(token, account) for token, account, _ in LineChannel.sent] == [
            ("help-token", "112")
        ]


def test_an_account_now_another_brands_is_never_answered_from(scrm_database_url: str) -> None:
    with two_accounts(scrm_database_url) as app:
        app.ingest([message(4, "112")])
        case_id = case_of(app, "m4")
    moved = {"acme": {"name": "Acme", "accounts": {"line": ["111"]}},
             "globex": {"name": "Globex", "accounts": {"line": ["222", "112"]}}}  # fmt: skip
    with two_accounts(scrm_database_url, brands=moved) as app:
        cli = CliInvoker(app)
        cli("reply", str(case_id), "--text", "Merhaba")
        out = cli("outbox", "deliver", expect=None)
        assert out.stdout.startswith("sent 0, retrying 0, failed 1")
        reason = (
            "the customer wrote to line account '112' of brand 'globex', not of the case's "
            "brand 'acme': a reply never leaves from another brand's account"
        )
        assert reason in out.stderr
        assert app.case(case_id).reply_error == reason
        assert LineChannel.sent == []


def test_an_account_no_channel_speaks_for_falls_back_on_the_brands(
    scrm_database_url: str,
) -> None:
    """A message to an account the brand lists but no longer configures, and one that knows
    no account (stored before accounts were kept): the brand's first account answers."""
    brands = {**TWO_BRANDS, "acme": {"name": "Acme", "accounts": {"line": ["111", "112", "113"]}}}
    with two_accounts(scrm_database_url, brands=brands) as app:
        app.ingest([message(5, "113")])
        app.for_brand("acme").ingest([message(6, None) | {"author": {"external_id": "u9"}}])
        cli = CliInvoker(app)
        for ext in ("m5", "m6"):
            cli("reply", str(case_of(app, ext)), "--text", f"{ext} yanıtı")
        assert cli("outbox", "deliver").stdout.startswith("sent 2,")
        assert sorted(LineChannel.sent) == [
            ("acme-token", "111", "m5 yanıtı"),
            ("acme-token", "111", "m6 yanıtı"),
        ]


def test_the_api_and_the_console_show_the_account(scrm_database_url: str) -> None:
    from consolekit import client, sign_in
    from serverkit import SyncClient, auth, make_key

    from scrm.server import create_app

    with two_accounts(scrm_database_url) as app:
        app.ingest([message(7, "112")])
        case_id = case_of(app, "m7")
        key = make_key(app, "admin")
        api = SyncClient(create_app(app))
        (it,) = api.get(f"/api/v1/interactions?case={case_id}", headers=auth(key)).json()["items"]
        assert it["account"] == "112"
        r = api.post(f"/api/v1/cases/{case_id}/replies", json={"text": "Bakıyoruz"},
                     headers=auth(key))  # fmt: skip
        assert r.status_code == 202 and r.json()["account"] == "112"
        assert r.json()["case"]["replies"][0]["account"] == "112"
        console = client(app)
        sign_in(console, key)
        page = console.get(f"/app/cases/{case_id}").text
        assert page.count('<span class="account" title="112">acme_help</span>') == 2


def test_the_stored_message_hooks_get_the_account(scrm_database_url: str) -> None:
    from scrm.plugin import EventContext, StoredInteraction

    seen: list[tuple[str, str | None]] = []

    class Listener:
        @hookimpl
        def interaction_stored(self, interaction: StoredInteraction, ctx: EventContext) -> None:
            seen.append((interaction.external_id, interaction.account))

    config = Config(database_url=scrm_database_url, channels={"line": TWO_LINES}, brands=TWO_BRANDS)
    with open_app(config=config, plugins=[LinePlugin(), Listener()], migrate=True) as app:
        app.ingest([message(8, "112"), message(9, None)])
    assert sorted(seen) == [("m8", "112"), ("m9", None)]


def test_the_console_says_which_account_a_reply_leaves_from_or_why_none_can(
    scrm_database_url: str,
) -> None:
    from consolekit import client, sign_in
    from serverkit import make_key

    with two_accounts(scrm_database_url) as app:
        app.ingest([message(8, "112")])
        case_id = case_of(app, "m8")
        console = client(app)
        sign_in(console, make_key(app, "admin"))
        page = console.get(f"/app/cases/{case_id}").text
        assert "on line from acme_help, private by default" in page
        assert "A reply cannot leave from here" not in page
    moved = {"acme": {"name": "Acme", "accounts": {"line": ["111"]}},
             "globex": {"name": "Globex", "accounts": {"line": ["222", "112"]}}}  # fmt: skip
    with two_accounts(scrm_database_url, brands=moved) as app:
        console = client(app)
        sign_in(console, make_key(app, "admin"))
        page = console.get(f"/app/cases/{case_id}").text
        assert "A reply cannot leave from here: the customer wrote to line account" in page
        assert "on line from" not in page
