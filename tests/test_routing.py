"""Routing: each kind to its department, configurable rules, fair assignment, and `scrm route explain`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from helpers import message

from scrm import hookimpl
from scrm.core.channel import Channel
from scrm.core.config import Config
from scrm.core.models import Customer
from scrm.core.schemas import Classification, Kind

T = datetime(2024, 10, 21, 9, 0, tzinfo=UTC)


class MarkerClassifier:
    """kind:<kind> lang:<xx> cat:<category> markers in the text decide, so routing is what is tested."""

    @hookimpl
    def classify_interaction(self, interaction):
        words = dict(
            w.split(":", 1) for w in interaction.text.split() if ":" in w and not w.startswith("@")
        )
        return Classification(
            kind=Kind(words.get("kind", "complaint")),
            language=words.get("lang", "tr"),
            category=words.get("cat", "other"),
            sentiment="negative",
            source="test",
        )


class FakeBot(Channel):
    """A channel of automated posts, for the rule that keeps them off cases."""

    name = "fakebot"


class BotChannel:
    @hookimpl
    def register_channels(self, register):
        register(FakeBot)


@pytest.fixture
def scrm_plugins():
    return [MarkerClassifier(), BotChannel()]


@pytest.fixture
def scrm_config(scrm_database_url):
    return Config(
        database_url=scrm_database_url,
        plugins={
            "router": {
                "rules": [
                    {
                        "name": "kvkk",
                        "match": {"keywords": ["kvkk", "kişisel veri"]},
                        "priority": "urgent",
                        "pool": "privacy",
                    },
                    {
                        "name": "gold",
                        "match": {"kind": ["complaint"], "customer": {"tier": "gold"}},
                        "priority": "high",
                    },
                    {"name": "ignore bots", "match": {"channel": ["fakebot"]}, "no_case": True},
                ]
            }
        },
    )


def msg(n, text, minutes=0, **kw):
    return message(n, text, author=kw.pop("author", f"u{n}"), **kw) | {
        "created_at": (T + timedelta(minutes=minutes)).isoformat()
    }


def test_each_kind_goes_to_its_department(app):
    app.ingest(
        [
            msg(1, "kind:complaint faturam yanlış"),
            msg(2, "kind:question fatura ne zaman kesilir?"),
            msg(3, "kind:lead fiber fiyatı ne kadar"),
            msg(4, "kind:idea keşke karanlık mod olsa"),
            msg(5, "kind:praise harikasınız"),
            msg(6, "kind:spam kazandınız tıkla"),
        ]
    )
    by_text = {i.text.split()[0]: i for i in app.interactions()}
    depts = {k: (app.case(i.case_id).department if i.case_id else None) for k, i in by_text.items()}
    assert depts == {
        "kind:complaint": "support",
        "kind:question": "support",
        "kind:lead": "sales",
        "kind:idea": "rnd",
        "kind:praise": "marketing",
        "kind:spam": None,
    }
    assert by_text["kind:spam"].kind == "spam"  # kept and auditable, never deleted


def test_rules_match_keywords_customer_attributes_and_channels(app):
    app.ingest([msg(1, "kind:complaint KVKK kapsamında verilerimi silin", author="a")])
    assert app.cases()[0].priority == "urgent"
    with app.session() as s:
        s.execute(sa.update(Customer).values(attributes={"tier": "gold"}))
    app.ingest([msg(2, "kind:complaint cat:billing faturam yanlış", author="a", minutes=5)])
    gold = [c for c in app.cases() if c.category == "billing"]
    assert gold[0].priority == "high"
    app.ingest([msg(3, "kind:complaint otomatik mesaj", channel="fakebot", author="bot")])
    assert app.interactions(channel="fakebot")[0].case_id is None


def test_bad_rules_are_refused_with_the_field(scrm_database_url):
    from scrm.core.config import ConfigError
    from scrm.core.plugins import check_plugin_config, get_plugin_manager

    bad = Config(
        database_url=scrm_database_url,
        plugins={"router": {"rules": [{"name": "x", "match": {"kinds": ["complaint"]}}]}},
    )
    with pytest.raises(
        ConfigError,
        match=r"plugins\.router\.rules\.0\.match\.kinds: not a setting \(fix its spelling",
    ):
        check_plugin_config(bad, get_plugin_manager(load_entrypoints=False))


def test_least_open_assignment_with_capacity_skills_availability_and_queue(app, cli):
    cli("agents", "add", "ece", "--department", "support", "--capacity", "1", "--languages", "tr")
    cli("agents", "add", "john", "--department", "support", "--capacity", "1", "--languages", "en")
    cli("agents", "add", "zeynep", "--department", "support", "--capacity", "5", "--status", "away")
    app.ingest(
        [
            msg(1, "kind:complaint lang:en my bill is wrong", author="a"),
            msg(2, "kind:complaint lang:tr faturam yanlış", author="b", minutes=1),
            msg(3, "kind:question lang:tr internet ne zaman gelir", author="c", minutes=2),
            msg(
                4, "kind:complaint lang:tr KVKK verilerim", author="d", minutes=3
            ),  # urgent, but pool privacy
        ]
    )
    cases = {c.subject.split()[-1]: c for c in app.cases()}
    assert cases["wrong"].assignee == "john"  # English skill
    assert cases["yanlış"].assignee == "ece"
    assert cases["gelir"].assignee is None  # everyone able is at capacity: it waits
    assert cases["verilerim"].assignee is None  # nobody has the privacy pool
    # ece resolves her case: the queue moves, most urgent and longest waiting first.
    cli("case", "resolve", str(cases["yanlış"].id))
    assert app.case(cases["gelir"].id).assignee == "ece"
    # zeynep comes back and works the privacy pool: the urgent case goes to her.
    cli(
        "agents",
        "add",
        "zeynep",
        "--department",
        "support",
        "--capacity",
        "5",
        "--status",
        "active",
    )
    assert app.case(cases["verilerim"].id).assignee is None
    out = cli(
        "agents",
        "add",
        "zeynep",
        "--department",
        "support",
        "--capacity",
        "5",
        "--status",
        "active",
        "--pools",
        "privacy",
    )
    assert (
        app.case(cases["verilerim"].id).assignee == "zeynep"
        and "1 waiting cases assigned" in out.stdout
    )


def test_round_robin(app, cli, scrm_database_url):
    app.config.departments[0].assignment = "round_robin"
    for name in ("a1", "a2", "a3"):
        cli("agents", "add", name, "--department", "support")
    app.ingest([msg(n, "kind:complaint sorun var", author=f"c{n}", minutes=n) for n in range(1, 7)])
    assert [c.assignee for c in app.cases()] == ["a1", "a2", "a3", "a1", "a2", "a3"]


def test_route_explain_shows_rules_and_the_decision(app, cli):
    app.ingest([msg(1, "kind:complaint KVKK kapsamında verilerim", author="a")])
    out = cli("route", "explain", "1").stdout
    assert "rule 'kvkk': yes: keywords ['kvkk'] of ['kvkk', 'kişisel veri']" in out
    assert "decided by plugin 'router', rule 'kvkk'" in out and "priority urgent" in out
    data = json.loads(cli("route", "explain", "1", "--json").stdout)
    assert data["decision"]["pool"] == "privacy" and data["rules"][0]["matched"] is True
    r = cli("route", "explain", "99", expect=1)
    assert "no interaction 99" in r.stderr
