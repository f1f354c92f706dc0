"""The plugin system through its public interfaces: discovery, errors, every registration and decision hook."""

from __future__ import annotations

import json
from importlib.metadata import EntryPoint

import click
import pytest
import sqlalchemy as sa
from helpers import message
from pydantic import BaseModel, ConfigDict

from scrm import hookimpl
from scrm.core import db
from scrm.core import plugins as plugins_mod
from scrm.core.app import open_app
from scrm.core.channel import Channel
from scrm.core.config import Config
from scrm.core.plugins import PluginError, get_plugin_manager, plugin_context
from scrm.core.schemas import Priority, RouteDecision
from scrm.plugin import hookspec


def test_plugins_lists_builtins_and_installed_channels(cli):
    info = {p["name"]: p for p in json.loads(cli("plugins", "--json").stdout)}
    assert info["classifier"]["hooks"] == ["classify_interaction", "register_categories"]
    assert info["manual"]["distribution"] == "scrm (built-in)"
    assert {"twitter", "facebook", "email"} <= set(info)


def test_a_broken_plugin_is_named_and_does_not_take_the_others_down(monkeypatch):
    broken = EntryPoint(name="broken", value="scrm_no_such_module_xyz", group="scrm")
    monkeypatch.setattr(plugins_mod, "entry_points", lambda group: [broken])
    with pytest.raises(
        PluginError,
        match=r"plugin 'broken' .*failed to load: ModuleNotFoundError.*SCRM_DISABLE_PLUGINS=broken",
    ):
        get_plugin_manager()
    pm = get_plugin_manager(strict=False)
    assert len(pm.load_errors) == 1 and "broken" in pm.load_errors[0]
    assert pm.has_plugin("classifier") and pm.has_plugin("manual")
    monkeypatch.setenv("SCRM_DISABLE_PLUGINS", "broken")
    assert get_plugin_manager().load_errors == []


def test_a_channel_name_registered_twice_names_both_plugins():
    class Dup(Channel):
        name = "phone"

    class Other:
        @hookimpl
        def register_channels(self, register):
            register(Dup)

    pm = get_plugin_manager(load_entrypoints=False, extra=[Other()])
    with pytest.raises(PluginError, match="channel 'phone' is registered by both"):
        plugin_context(Config(), pm)


def test_register_commands_adds_a_subcommand(app, register_plugin, cli):
    class Hello:
        @hookimpl
        def register_commands(self, cli):
            @cli.command()
            @click.argument("name")
            def hello(name):
                """Say hello."""
                click.echo(f"merhaba {name}")

    register_plugin(Hello())
    assert cli("hello", "Ayşe").stdout == "merhaba Ayşe\n"


def test_resolve_identity_links_a_new_identity_to_the_named_person(app, register_plugin):
    app.ingest(
        [
            message(
                "e1",
                "Faturam yanlış",
                channel="email",
                author_obj={"external_id": "cem@example.com"},
            )
        ]
    )

    class CrmLookup:
        @hookimpl
        def resolve_identity(self, interaction):
            if interaction.author.handle == "cemaydin":
                return [("email", "cem@example.com")]
            return None

    register_plugin(CrmLookup())
    app.ingest(
        [message("t1", "hala cevap yok", author_obj={"external_id": "tw-77", "handle": "cemaydin"})]
    )
    [customer] = app.customers()
    assert {i.channel for i in app.customer(customer.id).identities} == {"email", "twitter"}
    assert {i.linked_by for i in app.customer(customer.id).identities} == {"new", "plugin"}


def test_a_company_router_replaces_the_builtin_one(app, register_plugin):
    class VipRouter:
        @hookimpl
        def route_interaction(self, interaction, classification):
            if (interaction.author.followers or 0) >= 10_000:
                return RouteDecision(
                    department="vip", priority=Priority.URGENT, rule="vip", reason="big audience"
                )
            return None  # defer to the built-in router

    register_plugin(VipRouter())
    app.ingest(
        [
            message(
                1, "faturam yanlış geldi", author_obj={"external_id": "star", "followers": 48_000}
            ),
            message(
                2, "faturam yanlış geldi", author_obj={"external_id": "someone", "followers": 12}
            ),
        ]
    )
    by_author = {c.customer_id: c for c in app.cases()}
    star, someone = (app.interactions()[0].customer_id, app.interactions()[1].customer_id)
    assert (by_author[star].department, by_author[star].priority) == ("vip", "urgent")
    assert by_author[someone].department == "support"


def test_register_migrations_adds_a_plugin_branch(app, register_plugin, tmp_path):
    versions = tmp_path / "notes_migrations"
    versions.mkdir()
    (versions / "n001_notes.py").write_text(
        '"""notes table of a third-party plugin"""\n'
        "import sqlalchemy as sa\nfrom alembic import op\n\n"
        'revision = "n001"\ndown_revision = None\nbranch_labels = ("notes",)\ndepends_on = "0001"\n\n'
        "def upgrade():\n"
        '    op.create_table("notes_notes", sa.Column("id", sa.Integer, primary_key=True), sa.Column("body", sa.Text))\n\n'
        "def downgrade():\n"
        '    op.drop_table("notes_notes")\n',
        encoding="utf-8",
    )

    class Notes:
        @hookimpl
        def register_migrations(self, register):
            register(str(versions))

    register_plugin(Notes())
    from scrm.core.app import SchemaError

    with pytest.raises(SchemaError, match="run `scrm db upgrade`"):
        app.check_schema()
    app.upgrade()
    try:
        app.check_schema()
        assert "notes_notes" in sa.inspect(app.engine).get_table_names()
    finally:  # the PostgreSQL test database is shared by the whole run: take the branch out again
        db.downgrade(app.engine, "notes@base", app.migration_locations())
    assert "notes_notes" not in sa.inspect(app.engine).get_table_names()


def test_after_commit_hook_failure_is_isolated(app, register_plugin, caplog):
    seen = []

    class Broken:
        @hookimpl
        def interaction_stored(self, interaction):
            raise RuntimeError("notifier down")

    class Working:
        @hookimpl
        def interaction_stored(self, interaction):
            seen.append(interaction.external_id)

    register_plugin(Broken())
    register_plugin(Working())
    report = app.ingest([message(1, "kargom gelmedi")])
    assert report.stored == 1 and seen == ["1"]
    assert len(app.interactions()) == 1
    assert "notifier down" in caplog.text


def test_interaction_rejected_is_called_for_every_reject(app, register_plugin):
    rejects = []

    class Alarm:
        @hookimpl
        def interaction_rejected(self, reject):
            rejects.append((reject.position, reject.field))

    register_plugin(Alarm())
    app.ingest([message(1), {"channel": "twitter"}, message(3)])
    assert rejects == [(2, "external_id")]


def test_batch_committed_is_called_once_per_batch_after_the_per_message_hooks(app, register_plugin):
    calls = []

    class Batched:
        @hookimpl
        def interaction_stored(self, interaction):
            calls.append(("one", interaction.external_id))

        @hookimpl
        def batch_committed(self, interactions):
            calls.append(("batch", [i.external_id for i in interactions]))

    register_plugin(Batched())
    app.config = app.config.model_copy(update={"batch_size": 2})
    app.ingest([message(n, "kargom gelmedi", author=f"u{n}") for n in range(3)])
    assert calls == [
        ("one", "0"),
        ("one", "1"),
        ("batch", ["0", "1"]),
        ("one", "2"),
        ("batch", ["2"]),
    ]


def test_an_installed_plugin_also_passed_as_extra_is_registered_once(monkeypatch):
    # docs/plugins.md's scrm_plugins fixture lists the plugin under test, which is installed too.
    installed = EntryPoint(name="vipdouble", value="helpers", group="scrm")
    monkeypatch.setattr(plugins_mod, "entry_points", lambda group: [installed])
    pm = get_plugin_manager(extra=[installed.load()])
    assert pm.get_name(installed.load()) == "vipdouble"
    assert [n for n, _ in pm.list_name_plugin() if n == "vipdouble"] == ["vipdouble"]



class VipSpecs:
    """Hooks a plugin declares for others: called when a VIP customer writes."""

    @hookspec
    def vip_wrote(self, customer_id: int, case_id: int | None) -> None:
        """A VIP customer's message was stored on ``case_id``."""


class VipPlugin:
    """Declares ``vip_wrote`` and calls it after commit for the customers it knows."""

    def __init__(self, names: frozenset[str] = frozenset()) -> None:
        self.names = names

    @hookimpl
    def register_hookspecs(self, register):
        register(VipSpecs)

    @hookimpl
    def interaction_stored(self, interaction, ctx):
        customer = ctx.app.customer(interaction.customer_id)
        if customer.display_name in self.names:
            ctx.app.pm.hook.vip_wrote(customer_id=customer.id, case_id=interaction.case_id)


class VipNotifier:
    def __init__(self) -> None:
        self.heard: list[tuple[int, int | None]] = []

    @hookimpl
    def vip_wrote(self, customer_id, case_id):
        self.heard.append((customer_id, case_id))


def test_a_plugin_declares_hooks_that_another_implements(app, register_plugin):
    notifier = VipNotifier()
    register_plugin(notifier)  # before the declaring plugin: its hook waits to be declared
    register_plugin(VipPlugin(frozenset({"User u1"})))
    app.ingest([message(1, "kargom gelmedi"), message(2, "kargom gelmedi", author="u2")])
    (stored,) = [i for i in app.interactions() if i.external_id == "1"]
    assert notifier.heard == [(stored.customer_id, stored.case_id)]


@pytest.mark.parametrize("order", ["declaring first", "implementing first"])
def test_declared_hooks_are_checked_in_any_order(order):
    plugins = [VipPlugin(), VipNotifier()]
    if order == "implementing first":
        plugins.reverse()
    pm = get_plugin_manager(load_entrypoints=False, extra=plugins)
    pm.hook.vip_wrote(customer_id=7, case_id=None)
    assert next(p for p in plugins if isinstance(p, VipNotifier)).heard == [(7, None)]

    class Misspelt:
        @hookimpl
        def vip_wrot(self, customer_id):
            pass

    with pytest.raises(PluginError, match=r"^plugin '[\w.]+:[\w.<>]*Misspelt': unknown hook 'vip_wrot'"):
        get_plugin_manager(load_entrypoints=False, extra=[*plugins, Misspelt()])

    class WrongArgument:
        @hookimpl
        def vip_wrote(self, customer):
            pass

    for extra in ([VipPlugin(), WrongArgument()], [WrongArgument(), VipPlugin()]):
        with pytest.raises(PluginError, match=r"^plugin '[\w.]+:[\w.<>]*WrongArgument': .*vip_wrote.*'customer'"):
            get_plugin_manager(load_entrypoints=False, extra=extra)


class Tiering:
    """A third-party plugin with settings: it reads them from ``ctx`` in every hook."""

    class Settings(BaseModel):
        model_config = ConfigDict(extra="forbid")
        label: str = "standard"

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    @hookimpl
    def classify_interaction(self, interaction, ctx):
        self.seen.append(("classify", ctx.plugin_config("tiering").label))

    @hookimpl
    def interaction_stored(self, interaction, ctx):
        self.seen.append(("stored", ctx.plugin_config("tiering").label))


@pytest.mark.integration  # two databases of its own
def test_two_applications_on_one_plugin_manager_each_see_their_own_settings(
    _sqlite_template, tmp_path
):
    """Built-in and third-party plugins alike take each application's settings from the
    context they are called with, never from the application built last."""
    import shutil

    tiering = Tiering()
    pm = get_plugin_manager(extra=[])
    pm.register(tiering, name="tiering")
    apps = {}
    settings = {
        "a": {
            "router": {"rules": [{"name": "orders", "match": {"keywords": ["sipariş"]}, "department": "sales"}]},
            "sla": {"rules": [{"name": "gold", "match": {"channel": ["twitter"]}}]},
            "tiering": {"label": "gold"},
        },
        "b": {},
    }
    for name in ("a", "b"):
        shutil.copyfile(_sqlite_template, tmp_path / f"{name}.db")
        config = Config(database_url=f"sqlite:///{tmp_path / name}.db", plugins=settings[name])
        apps[name] = open_app(config=config, pm=pm, migrate=True)
    try:
        assert apps["a"].plugin_config("tiering").label == "gold"
        assert apps["b"].plugin_config("tiering").label == "standard"
        assert [r.name for r in apps["a"].plugin_config("router").rules] == ["orders"]
        assert apps["b"].plugin_config("router").rules == []
        for n, name in enumerate(("a", "b", "a")):  # A again, after B was used
            tiering.seen.clear()
            apps[name].ingest([message(f"{name}{n}", "Siparişim gelmedi, berbat!", author=f"u{n}")])
            label = "gold" if name == "a" else "standard"
            assert tiering.seen == [("classify", label), ("stored", label)]
        a_cases, b_cases = apps["a"].cases(), apps["b"].cases()
        assert {c.department for c in a_cases} == {"sales"}
        assert {c.department for c in b_cases} == {"support"}
        policies = {name: {c.sla_policy.split("+")[0] for c in apps[name].cases()} for name in apps}
        assert policies == {"a": {"normal/gold"}, "b": {"normal"}}
    finally:
        for app in apps.values():
            app.close()


def test_a_plugin_adds_a_report_slice(app, register_plugin, cli):
    from datetime import UTC, datetime

    from scrm.core.metrics import generate_report, report_dimensions
    from scrm.plugin.db import Case, Dimension

    class Shouting:
        @hookimpl
        def register_report_dimensions(self, register):
            register(Dimension("loud", lambda: sa.func.upper(Case.channel)))

    assert "campaign" in report_dimensions(app.pm)  # the marketing module's
    register_plugin(Shouting())
    app.ingest([message(1), message(2, "Kargom üç haftadır gelmedi, kimse de cevap vermiyor", author="u2")])
    report = generate_report(
        app, start=datetime(2000, 1, 1, tzinfo=UTC), end=datetime(2100, 1, 1, tzinfo=UTC), by="loud"
    )
    assert report.by == "loud" and [(g.key, g.cases_opened) for g in report.groups] == [("TWITTER", 2)]
    with pytest.raises(ValueError, match=r"unknown slice 'tall'; choose one of channel, .*loud"):
        generate_report(app, start=report.start, end=report.end, by="tall")

    class Again:
        @hookimpl
        def register_report_dimensions(self, register):
            register(Dimension("channel", lambda: Case.channel))

    register_plugin(Again())
    with pytest.raises(ValueError, match="report slice 'channel' is registered twice"):
        report_dimensions(app.pm)
