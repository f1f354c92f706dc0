"""One standard for every channel: the same complaint gets the same priority and deadlines on
Twitter, Facebook, e-mail and phone; reach and customer raise priority, never the channel;
replies are worded for the channel; phone waits are reported beside social response times."""

from __future__ import annotations

import itertools
import json
import math
import statistics
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from helpers import message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scrm.core.app import Scrm
from scrm.core.config import Config
from scrm.core.metrics import generate_report
from scrm.core.metrics.html import render_html
from scrm.core.models import Customer
from scrm.core.playbooks import (
    STYLES,
    PlaybookError,
    asks_for_dm,
    load_playbook,
    load_playbooks,
    style_for,
)
from scrm.core.plugins import check_plugin_config, get_plugin_manager
from scrm.core.schemas import CaseInfo, CaseStatus, Kind, Priority
from scrm.core.services import outbox
from scrm.plugins.manual import MANUAL_CHANNELS

T = datetime(2024, 10, 21, 9, 0, tzinfo=UTC)
COMPLAINTS = [
    "Faturamda aynı ücret iki kez kesilmiş, rezalet! Param ne zaman iade edilecek?",
    "My order never arrived and nobody answers, this is terrible service.",
]


def complaint_everywhere(app: Scrm, text: str, *, followers: int | None = 150) -> dict[str, Any]:
    """Send ``text`` from four different people on Twitter, Facebook, e-mail and phone."""
    at = T.isoformat()

    def person(n: str) -> dict[str, Any]:
        return {"external_id": n, "handle": n, "display_name": f"User {n}", "followers": followers}

    app.ingest(
        [
            message("tw1", text, channel="twitter", public=True, author_obj=person("tw"))
            | {"created_at": at},
            message("fb1", text, channel="facebook", public=True, author_obj=person("fb"))
            | {"created_at": at},
            message(
                "<m1@example.com>",
                text,
                channel="email",
                subject="Şikayet",
                author_obj={"external_id": "cem@example.com", "email": "cem@example.com"},
            )
            | {"created_at": at},
        ]
    )
    app.ingest_native(
        "phone",
        [
            {
                "record_id": "CALL-1",
                "channel": "phone",
                "received_at": at,
                "caller": {"name": "Ayşe Yılmaz", "phone": "0532 111 22 33"},
                "text": text,
                "wait_seconds": 240,
            }
        ],
    )
    return {c.channel: c for c in app.cases()}


@pytest.mark.parametrize("text", COMPLAINTS)
def test_the_same_complaint_gets_the_same_priority_and_deadlines_on_every_channel(
    app: Scrm, text: str
) -> None:
    cases = complaint_everywhere(app, text)
    assert set(cases) == {"twitter", "facebook", "email", "phone"}
    twitter = app.interactions(channel="twitter")[0]
    assert "public" in twitter.urgency  # a negative public post: the flag is set, and ignored
    seen = {
        (
            c.kind,
            c.category,
            c.priority,
            c.sla_policy,
            c.first_response_due - c.opened_at if c.first_response_due else None,
            c.resolution_due - c.opened_at if c.resolution_due else None,
        )
        for c in cases.values()
    }
    assert len(seen) == 1, seen
    [(kind, _, priority, _, first_response, _)] = seen
    assert kind == "complaint" and priority == "normal" and first_response is not None
    assert first_response <= timedelta(hours=4)


@pytest.fixture
def scrm_config(scrm_database_url: str, request: pytest.FixtureRequest) -> Config:
    plugins = getattr(request, "param", {})
    return Config(database_url=scrm_database_url, plugins=plugins)


@pytest.mark.parametrize(
    ("scrm_config", "followers", "priority"),
    [
        ({}, 9_999, "normal"),
        ({}, 10_000, "high"),
        ({"router": {"priority": {"reach_followers": 500}}}, 499, "normal"),
        ({"router": {"priority": {"reach_followers": 500}}}, 500, "high"),
        ({"router": {"priority": {"reach_followers": 0}}}, 5_000_000, "normal"),
    ],
    indirect=["scrm_config"],
)
def test_the_reach_threshold_raises_priority_and_is_configurable(
    app: Scrm, followers: int, priority: str
) -> None:
    cases = complaint_everywhere(app, COMPLAINTS[0], followers=followers)
    assert cases["twitter"].priority == cases["facebook"].priority == priority
    # Nobody's audience is known on e-mail or phone: those stay at the content's priority.
    assert cases["email"].priority == cases["phone"].priority == "normal"


def test_a_vip_customer_is_high_on_any_channel(app: Scrm, cli: Any) -> None:
    # A customer known from a letter a month ago, marked VIP, calls with a complaint.
    letter = {
        "record_id": "LTR-0",
        "channel": "letter",
        "received_at": (T - timedelta(days=30)).isoformat(),
        "caller": {"name": "Ayşe Yılmaz", "phone": "0532 111 22 33"},
        "text": "Teşekkürler, iyi günler.",
    }
    app.ingest_native("letter", [letter])
    with app.session() as s:
        s.execute(sa.update(Customer).values(attributes={"vip": True}))
    call = letter | {"record_id": "CALL-1", "channel": "phone", "received_at": T.isoformat()}
    app.ingest_native("phone", [call | {"text": COMPLAINTS[0]}])
    [case] = [c for c in app.cases() if c.channel == "phone"]
    assert (case.kind, case.priority) == ("complaint", "high")
    [it] = [i for i in app.interactions() if i.external_id == "CALL-1"]
    explained = json.loads(cli("route", "explain", str(it.id), "--json").stdout)
    assert "customer {'vip': True}" in explained["decision"]["reason"]


def sla_policies(config: Config) -> Any:
    """The built-in SLA plugin's policy table for ``config``, as an application validates it."""
    pm = get_plugin_manager(load_entrypoints=False)
    return check_plugin_config(config, pm)["sla"].policy_table


def test_default_sla_policies_do_not_depend_on_the_channel() -> None:
    sla = sla_policies(Config())
    channels = ["twitter", "facebook", "email", *MANUAL_CHANNELS]
    for priority in Priority:
        for category in [*(b.category for b in load_playbooks()), "no_playbook"]:
            policies = {
                sla.choose_sla(case=case_info(channel, priority, category)) for channel in channels
            }
            assert len(policies) == 1, (priority, category, policies)


def test_a_per_channel_policy_is_an_explicit_rule() -> None:
    rule = {"name": "letters by post", "match": {"channel": ["letter", "fax"]}}
    sla = sla_policies(Config(plugins={"sla": {"rules": [rule | {"first_response": "P2D"}]}}))
    letter = sla.choose_sla(case=case_info("letter", Priority.NORMAL, "other"))
    email = sla.choose_sla(case=case_info("email", Priority.NORMAL, "other"))
    assert letter.first_response == timedelta(days=2) and letter.name == "normal/letters by post"
    assert email.first_response == timedelta(hours=4) and email.name == "normal"


def case_info(channel: str, priority: Priority, category: str) -> CaseInfo:
    return CaseInfo(
        id=None,
        customer_id=1,
        channel=channel,
        department="support",
        kind=Kind.COMPLAINT,
        category=category,
        priority=priority,
        status=CaseStatus.NEW,
        language="tr",
        opened_at=T,
    )


# -- replies worded for the channel ----------------------------------------------------------

CHANNELS = [
    ("twitter", True),
    ("twitter", False),
    ("facebook", True),
    ("facebook", False),
    ("email", False),
    *((c, False) for c in MANUAL_CHANNELS),
]


def test_every_template_for_every_channel_and_language_fits_the_channel() -> None:
    books = load_playbooks()
    assert len(books) == 8
    rendered = 0
    for book in books:
        languages = {lang for by_lang in book.templates.values() for lang in by_lang}
        assert languages == {"tr", "en"}, book.category
        for template in book.templates:
            for channel, public in CHANNELS:
                for lang in sorted(languages):
                    text, used = book.render(
                        template,
                        lang,
                        channel=channel,
                        public=public,
                        customer_name="Ayşe",
                        case_number=12345,
                        agent="EK",
                    )
                    assert used == lang and "{" not in text
                    where = f"{book.category}/{template}/{channel}/{lang}"
                    if channel not in ("twitter", "facebook"):
                        assert not asks_for_dm(text), where
                        assert "DM üzerinden" not in text and "özel mesaj" not in text, where
                    rendered += 1
        # The public contact request is the one place a DM is asked for.
        for lang in ("tr", "en"):
            public_contact = book.render("contact", lang, channel="twitter", public=True)[0]
            assert asks_for_dm(public_contact), book.category
            phone_contact = book.render("contact", lang, channel="phone")[0]
            assert phone_contact != book.render("contact", lang, channel="email")[0]
            letter = book.render("acknowledge", lang, channel="fax", customer_name="Ayşe")[0]
            assert letter.startswith(("Sayın Ayşe", "Dear Ayşe")), book.category
    assert rendered == 8 * 5 * len(CHANNELS) * 2


def test_styles_follow_the_channel() -> None:
    assert [style_for(c, p) for c, p in CHANNELS] == [
        "public",
        "private",
        "public",
        "private",
        "email",
        *("phone" if c in ("phone", "walk_in") else "letter" for c in MANUAL_CHANNELS),
    ]
    assert set(STYLES) == {"public", "private", "email", "phone", "letter"}
    assert asks_for_dm("DM'den yazar mısınız?") and asks_for_dm("send us a direct message")
    assert asks_for_dm("Özel mesajla ulaşacağız") and not asks_for_dm("admin panelinden")


def test_a_playbook_asking_phone_customers_for_a_dm_is_refused(tmp_path: Path) -> None:
    src = Path(load_playbooks().source) / "other.toml"
    text = src.read_text(encoding="utf-8")
    bad = tmp_path / "other.toml"
    bad.write_text(
        text.replace("[variants.phone.contact]", "[variants.phone.unused]").replace(
            "could I take", "could you DM us"
        ),
        encoding="utf-8",
    )
    with pytest.raises(PlaybookError, match=r"variants\.phone\.unused: no template 'unused'"):
        load_playbook(bad)
    bad.write_text(
        text.replace("so we can help you properly, could you reply", "could you DM us"),
        encoding="utf-8",
    )
    with pytest.raises(
        PlaybookError,
        match=r"other\.toml: .*templates\.contact\.en asks email customers for a DM or private "
        r"message; write a \[variants\.email\.contact\] for them",
    ):
        load_playbook(bad)


def test_a_phone_customer_gets_the_phone_script_and_a_tweet_the_dm_request(app: Scrm) -> None:
    cases = complaint_everywhere(app, COMPLAINTS[1])
    sent = {
        channel: outbox.reply(app, cases[channel].id, actor="ece", template="contact").text
        for channel in ("phone", "email", "twitter")
    }
    assert "this is ece from customer service" in sent["phone"] and not asks_for_dm(sent["phone"])
    assert "could you reply with" in sent["email"] and not asks_for_dm(sent["email"])
    assert "DM us" in sent["twitter"]
    # The phone script reaches the case as the agent's outbound message.
    assert outbox.deliver(app).sent >= 1
    [out] = [i for i in app.interactions(case=cases["phone"].id) if i.direction == "outbound"]
    assert out.text == sent["phone"]


# -- the phone queue in the report -----------------------------------------------------------


def test_phone_waits_are_reported_beside_the_social_first_response(app: Scrm, cli: Any) -> None:
    calls = [
        {
            "record_id": f"CALL-{n}",
            "channel": "phone",
            "received_at": (T + timedelta(minutes=n)).isoformat(),
            "caller": {"name": f"Caller {n}", "phone": f"0532 000 00 {n:02d}"},
            "text": COMPLAINTS[n % 2],
            "wait_seconds": wait,
        }
        for n, wait in enumerate([60, 240, 300, 600])
    ]
    calls.append(calls[0] | {"record_id": "CALL-9", "wait_seconds": None})
    app.ingest_native("phone", calls)
    # A call system writing the interchange format puts the wait in raw; a bad one is left out.
    app.ingest(
        [
            message(
                f"IVR-{n}",
                COMPLAINTS[0],
                channel="phone",
                author=f"+9053200011{n}",
                raw={"wait_seconds": wait},
            )
            for n, wait in enumerate([120, "soon", -5, 10**30, 7 * 86400, {"s": 1}])
        ]
    )
    app.ingest([message("tw1", COMPLAINTS[0], channel="twitter", public=True)])
    r = generate_report(app, start=T - timedelta(days=1), end=T + timedelta(days=1), now=T)
    by = {g.key: g for g in r.channels}
    assert (by["phone"].contact_wait.count, by["phone"].contact_wait.median) == (5, 240)
    assert by["phone"].contact_wait.p90 == pytest.approx(480)
    assert by["twitter"].contact_wait.count == 0 and by["twitter"].contact_wait.median is None
    [side] = [s for s in r.sides if s.key == "traditional"]
    assert side.contact_wait.median == 240
    row = next(p for p in r.parity if p.metric == "contact_wait_median")
    assert row.channels["phone"] == 240 and row.channels["twitter"] is None and row.gap is None

    out = json.loads(cli("report", "--from", "2024-10-20", "--to", "2024-10-22", "--json").stdout)
    assert {g["key"]: g["contact_wait"]["median"] for g in out["channels"]} == {
        "phone": 240,
        "twitter": None,
    }
    text = cli("report", "--from", "2024-10-20", "--to", "2024-10-22").stdout
    assert "wait for an agent, median" in text and "4m 00s" in text
    by_department = json.loads(
        cli(
            "report", "--from", "2024-10-20", "--to", "2024-10-22", "--by", "department", "--json"
        ).stdout
    )
    assert by_department["total"]["contact_wait"]["count"] == 5
    page = render_html(r)
    assert "wait for an agent, median" in page and "<td>4m 00s</td>" in page


EXAMPLE_DAYS = itertools.count(1000)
# NUL is left out: PostgreSQL's JSONB cannot store it (a problem of ingest, not of the report).
TEXT = st.text(st.characters(blacklist_characters="\x00"), max_size=8)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=5,
)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(waits=st.lists(JSON_VALUES, min_size=1, max_size=6))
def test_any_recorded_wait_is_counted_only_when_it_is_a_wait(app: Scrm, waits: list[Any]) -> None:
    # Each example writes its own day and reports on that day only.
    day = T + timedelta(days=next(EXAMPLE_DAYS))
    tag = day.strftime("%Y%m%d")
    app.ingest(
        [
            message(f"w{tag}-{n}", "Hattım çekmiyor", channel="phone", author=f"+90532{n:07d}")
            | {"created_at": day.isoformat(), "raw": {"wait_seconds": wait}}
            for n, wait in enumerate(waits)
        ]
    )
    good = sorted(
        math.floor(w)
        for w in waits
        if isinstance(w, int | float) and not isinstance(w, bool) and 0 <= w <= 86_400
    )
    r = generate_report(app, start=day, end=day + timedelta(hours=1), now=day, notify=False)
    assert r.total.contact_wait.count == len(good)
    assert r.total.contact_wait.median == (statistics.median(good) if good else None)
