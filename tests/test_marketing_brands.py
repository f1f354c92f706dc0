"""Marketing per brand: each brand's spike rule, campaigns and figures (docs/departments.md).

Two brands share the deployment: ``acme`` is busy (six messages an hour), ``globex`` quiet
(one every two hours).  A burst at the quiet brand is a spike of its own mentions, though
the deployment's hourly total barely moves; a campaign of ``globex`` counts only its
messages, while the deployment's campaign counts both brands'.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from helpers import T0, message

from scrm import hookimpl
from scrm.core.alerts import list_alerts
from scrm.core.app import Scrm
from scrm.core.config import Config, ConfigError
from scrm.plugins import marketing_stats as stats
from scrm.plugins.marketing import SpikeSettings
from scrm.testing import CliInvoker

QUESTION = "Merhaba, faturamı nereden görebilirim?"
HOURS = 26  # of history before the burst: more than the 24-hour window
BURST = T0 + timedelta(hours=HOURS)


class Spikes:
    """Records ``spike_detected`` with its brand."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    @hookimpl
    def spike_detected(
        self, scope: str, metric: str, hour: datetime, count: int, brand: str | None
    ) -> None:
        self.seen.append(
            {"brand": brand, "scope": scope, "metric": metric, "hour": hour, "count": count}
        )

    def of(self, metric: str = "mentions") -> list[tuple[str | None, str, datetime, int]]:
        return sorted(
            (s["brand"], s["scope"], s["hour"], s["count"])
            for s in self.seen
            if s["metric"] == metric
        )


@pytest.fixture
def recorder() -> Spikes:
    return Spikes()


@pytest.fixture
def scrm_plugins(recorder: Spikes) -> list[object]:
    return [recorder]


def _brands() -> dict[str, Any]:
    return {
        "acme": {
            "name": "Acme",
            "accounts": {"twitter": ["acme_tr"]},
            "plugins": {"marketing": {"spikes": {"min_count": 30}}},
        },
        "globex": {
            "name": "Globex",
            "accounts": {"twitter": ["globex_tr"]},
            "plugins": {
                "marketing": {
                    "competitors": {"Initech": ["initech"]},
                    "campaigns": [{"name": "kis", "terms": {"tr": ["#KisFirsati"]}}],
                }
            },
        },
    }


@pytest.fixture
def scrm_config(scrm_database_url: str) -> Config:
    marketing = {
        "competitors": {"Rakip": ["rakip"]},
        "campaigns": [{"name": "fiber", "terms": {"tr": ["#FiberHaftasi"]}}],
    }
    return Config(
        database_url=scrm_database_url, plugins={"marketing": marketing}, brands=_brands()
    )


def _history() -> list[dict[str, Any]]:
    """26 hours: six messages an hour at acme, one every two hours at globex."""
    acme = [
        message(f"a{h}-{k}", QUESTION, account="acme_tr", author=f"a{h % 5}",
                minutes=h * 60 + 3 + 9 * k)
        for h in range(HOURS) for k in range(6)
    ]  # fmt: skip
    globex = [
        message(f"g{h}", QUESTION, account="globex_tr", author=f"g{h % 3}", minutes=h * 60 + 30)
        for h in range(0, HOURS, 2)
    ]
    return sorted(acme + globex, key=lambda m: m["created_at"])


def _json(cli: CliInvoker, *args: str) -> Any:
    return json.loads(cli(*args, "--json").stdout)


def test_a_burst_at_one_brand_alerts_that_brand_alone(
    app: Scrm, cli: CliInvoker, recorder: Spikes
) -> None:
    app.ingest(_history())
    assert recorder.seen == []
    # The burst hour: acme as usual, seven messages at globex.  The deployment's total (13
    # against 6.5 an hour) is no spike; globex's (7 against its floor of 0.5) is.
    app.ingest(
        [message(f"a-burst-{k}", QUESTION, account="acme_tr", author=f"a{k}",
                 minutes=HOURS * 60 + 3 + 9 * k) for k in range(6)]
        + [message(f"g-burst-{k}", QUESTION, account="globex_tr", author=f"gb{k}",
                   minutes=HOURS * 60 + 5 + 7 * k) for k in range(7)]
    )  # fmt: skip
    assert recorder.of() == [("globex", "brand", BURST, 7)]

    everything = _json(cli, "campaigns", "spikes")
    assert [(s["brand"], s["scope"], s["metric"], s["peak"]) for s in everything] == [
        ("globex", "brand", "mentions", 7)
    ]
    assert _json(cli, "--brand", "globex", "campaigns", "spikes") == everything
    assert _json(cli, "--brand", "acme", "campaigns", "spikes") == []
    table = cli("campaigns", "spikes", env={"COLUMNS": "200"}).stdout
    header = next(line for line in table.splitlines() if "scope" in line)
    assert header.split()[:3] == ["┃", "brand", "┃"] and "globex" in table
    # The alerts feed: the spike is globex's, and the agency's to see.
    for key, expected in ((None, ["globex"]), ("globex", ["globex"]), ("acme", [])):
        with app.for_brand(key).session() as s:
            assert [a.details["brand"] for a in list_alerts(s) if a.kind == "spike"] == expected


def test_each_brand_is_judged_by_its_own_spike_rule(app: Scrm, recorder: Spikes) -> None:
    """Acme asks for at least 30 messages an hour (``[brands.acme.plugins.marketing.spikes]``):
    its burst of 20 is no spike for it, though it is by the deployment's rule; globex's 7,
    by the deployment's rule, are."""
    app.ingest(_history())
    app.ingest(
        [message(f"a-burst-{k}", QUESTION, account="acme_tr", author=f"ab{k}",
                 minutes=HOURS * 60 + 1 + 2 * k) for k in range(20)]
        + [message(f"g-burst-{k}", QUESTION, account="globex_tr", author=f"gb{k}",
                   minutes=HOURS * 60 + 5 + 7 * k) for k in range(7)]
    )  # fmt: skip
    deployment = SpikeSettings()
    assert deployment.min_count <= 20 and stats.poisson_tail(20, 6.0) <= deployment.alpha
    assert recorder.of() == [("globex", "brand", BURST, 7)]


def test_a_brands_campaign_counts_its_messages_and_the_deployments_every_brands(
    app: Scrm, cli: CliInvoker
) -> None:
    app.ingest(
        [
            message(1, "#KisFirsati harika, teşekkürler!", account="globex_tr", author="g1"),
            message(2, "#KisFirsati bu ne, initech daha iyi", account="globex_tr", author="g2",
                    minutes=5),
            # acme's message names globex's hashtag: not globex's campaign
            message(3, "#KisFirsati acme'de de olsa", account="acme_tr", author="a1", minutes=2),
            message(4, "#FiberHaftasi hız süper", account="acme_tr", author="a2", minutes=7),
            message(5, "#FiberHaftasi rakip daha ucuz", account="globex_tr", author="g3",
                    minutes=8),
        ]
    )  # fmt: skip
    listed = {(c["brand"], c["name"]): c["mentions"] for c in _json(cli, "campaigns", "list")}
    assert listed == {(None, "fiber"): 2, ("globex", "kis"): 2}
    assert {
        (c["brand"], c["name"]): c["mentions"]
        for c in _json(cli, "--brand", "globex", "campaigns", "list")
    } == {(None, "fiber"): 1, ("globex", "kis"): 2}
    assert {
        (c["brand"], c["name"]): c["mentions"]
        for c in _json(cli, "--brand", "acme", "campaigns", "list")
    } == {(None, "fiber"): 1}

    kis = _json(cli, "campaigns", "report", "kis")
    assert (kis["brand"], kis["mentions"]) == ("globex", 2)
    # Globex's competitors (its own merged over the deployment's), and globex's messages in
    # the campaign's window (its first to its last message) only: acme's message 3 is not
    # the brand's voice.
    assert {v["name"]: v["mentions"] for v in kis["share_of_voice"]} == {
        "brand": 2,
        "Rakip": 0,
        "Initech": 1,
    }
    assert _json(cli, "--brand", "globex", "campaigns", "report", "kis") == kis
    missing = cli("--brand", "acme", "campaigns", "report", "kis", expect=1)
    assert "no campaign 'kis'; campaigns: fiber" in missing.stderr

    fiber = _json(cli, "campaigns", "report", "fiber")
    assert (fiber["brand"], fiber["mentions"]) == (None, 2)
    acme_fiber = _json(cli, "--brand", "acme", "campaigns", "report", "fiber")
    assert acme_fiber["mentions"] == 1
    assert {v["name"]: v["mentions"] for v in acme_fiber["share_of_voice"]} == {
        "brand": 1,
        "Rakip": 0,
    }


def test_advocates_name_their_brand_and_brand_limits_them(app: Scrm, cli: CliInvoker) -> None:
    app.ingest(
        [
            message(f"{who}{k}", "Harika hizmet, çok teşekkürler!", account=f"{brand}_tr",
                    author=who, minutes=k)
            for who, brand in (("fan_a", "acme"), ("fan_g", "globex"))
            for k in range(3)
        ]
    )  # fmt: skip
    everyone = _json(cli, "advocates")
    assert sorted((a["brand"], a["praise"]) for a in everyone) == [("acme", 3), ("globex", 3)]
    for key in ("acme", "globex"):
        mine = _json(cli, "--brand", key, "advocates")
        assert [(a["brand"], a["name"]) for a in mine] == [(key, f"User fan_{key[0]}")]


def test_brands_with_a_campaign_of_one_name_are_told_apart(scrm_database_url: str) -> None:
    brands = _brands()
    brands["acme"]["plugins"]["marketing"]["campaigns"] = [
        {"name": "kis", "terms": {"tr": ["#AcmeKis"]}}
    ]
    app = Scrm(Config(database_url=scrm_database_url, brands=brands))
    try:
        app.ingest(
            [
                message(1, "#AcmeKis güzel", account="acme_tr", author="a"),
                message(2, "#KisFirsati güzel", account="globex_tr", author="g"),
                message(3, "#AcmeKis? #KisFirsati?", account="globex_tr", author="g", minutes=1),
            ]
        )
        cli = CliInvoker(app)
        listed = {(c["brand"], c["name"]): c["mentions"] for c in _json(cli, "campaigns", "list")}
        assert listed == {("acme", "kis"): 1, ("globex", "kis"): 2}
        both = cli("campaigns", "report", "kis", expect=1).stderr
        assert "brands acme, globex each have a campaign 'kis'" in both
        assert _json(cli, "--brand", "acme", "campaigns", "report", "kis")["mentions"] == 1
    finally:
        app.close()


def test_a_brands_campaign_may_not_take_a_deployment_campaigns_name() -> None:
    brands = _brands()
    brands["acme"]["plugins"]["marketing"]["campaigns"] = [
        {"name": "fiber", "terms": {"tr": ["#AcmeFiber"]}}
    ]
    marketing = {"campaigns": [{"name": "fiber", "terms": {"tr": ["#FiberHaftasi"]}}]}
    config = Config(database_url="sqlite://", plugins={"marketing": marketing}, brands=brands)
    with pytest.raises(ConfigError, match=r"brands\.acme\.plugins\.marketing\.campaigns\.0: "
                       r"campaign 'fiber' is a campaign of \[plugins\.marketing\]"):  # fmt: skip
        Scrm(config)


# -- the grouped counts --------------------------------------------------------------------


def test_hour_counts_give_each_brand_its_own_and_the_deployment_the_sum(app: Scrm) -> None:
    app.ingest(
        [
            message(1, "#FiberHaftasi", account="acme_tr", author="a"),
            message(2, "#FiberHaftasi berbat!", account="globex_tr", author="g", minutes=1),
            message(3, "#FiberHaftasi", account="globex_tr", author="g", minutes=70),
            message(4, "#KisFirsati", account="globex_tr", author="h", minutes=71),
            message(5, "selam", account="acme_tr", author="b", minutes=72),
        ]
    )
    ids = app.brands.ids
    acme, globex = ids["acme"], ids["globex"]
    h0 = int(T0.timestamp()) // 3600
    scopes = {
        (acme, "brand"),
        (globex, "brand"),
        (None, "campaign:fiber"),
        (globex, "campaign:kis"),
    }
    with app.session() as s:
        counts = stats._hour_counts(s, scopes, [(T0, T0 + timedelta(hours=3))])
        negative = {k: v for k, v in counts.items() if k[1] == "negative" and v}
    mentions = {
        (scope, h - h0): n for (scope, metric, h), n in counts.items() if metric == "mentions"
    }
    assert mentions == {
        ((acme, "brand"), 0): 1,
        ((acme, "brand"), 1): 1,
        ((globex, "brand"), 0): 1,
        ((globex, "brand"), 1): 2,
        ((None, "campaign:fiber"), 0): 2,  # both brands' messages
        ((None, "campaign:fiber"), 1): 1,
        ((globex, "campaign:kis"), 1): 1,
    }
    assert negative == {((globex, "brand"), "negative", h0): 1,
                        ((None, "campaign:fiber"), "negative", h0): 1}  # fmt: skip


def test_judging_many_brands_takes_the_queries_of_one(app: Scrm) -> None:
    """The hours of three brands are counted by the grouped queries one brand needs."""
    rule = SpikeSettings(window_hours=2)
    hour = T0 + timedelta(hours=3)
    app.ingest([message(f"{b}-{h}", f"#FiberHaftasi {QUESTION}", author=f"{b}{h}",
                        minutes=h * 60, **({"account": b} if b else {}))
                for b in ("acme_tr", "globex_tr", None) for h in range(4)])  # fmt: skip
    ids = [*app.brands.ids.values()]
    assert len(ids) == 3

    def grouped(brands: list[int]) -> int:
        statements: list[str] = []

        def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            statements.append(statement)

        checks = [((b, name), metric, hour) for b in brands
                  for name in ("brand", "campaign:fiber") for metric in ("mentions", "negative")]  # fmt: skip
        sa.event.listen(app.engine, "before_cursor_execute", seen)
        try:
            with app.session() as s:
                stats.judge_hours(s, checks, dict.fromkeys(brands, rule))
        finally:
            sa.event.remove(app.engine, "before_cursor_execute", seen)
        return sum("GROUP BY" in st for st in statements)

    assert grouped(ids) == grouped(ids[:1]) == 2


def test_a_spike_is_recorded_once_per_brand_and_once_for_every_brand(app: Scrm) -> None:
    """The unique keys behind "another worker recorded it first": a brand's spike and one of
    every brand (no brand: NULL, which a plain unique constraint lets repeat)."""
    from scrm.plugins.tables.marketing import SpikeEpisode

    ids = app.brands.ids
    scopes = [
        (ids["globex"], "campaign:fiber"),
        (ids["acme"], "campaign:fiber"),
        (None, "campaign:fiber"),
    ]
    with app.session() as s:
        for scope in scopes:  # one of each: a spike starts
            assert stats._record(s, scope, "mentions", BURST, 9, 1.0, 1e-6) is not None
        for scope in scopes:  # the next hour continues it
            assert stats._record(s, scope, "mentions", BURST + stats.HOUR, 9, 1.0, 1e-6) is None
        s.commit()
    for brand, _ in scopes:
        with app.session() as s, pytest.raises(sa.exc.IntegrityError):
            s.add(SpikeEpisode(brand_id=brand, scope="campaign:fiber", metric="mentions",
                               started_at=BURST, last_hour=BURST, peak_count=9, baseline=1.0,
                               p_value=1e-6))  # fmt: skip
            s.flush()
