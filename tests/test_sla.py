"""SLA clocks with a frozen clock: breaches fire exactly once, in business time, for social and phone alike."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from helpers import message
from loopkit import FakeSocial, Recorder

from scrm import hookimpl
from scrm.core.schemas import BusinessCalendar, SlaPolicy
from scrm.core.services import sla as sla_service

OFFICE = BusinessCalendar(
    timezone="Europe/Istanbul",
    hours={d: "09:00-18:00" for d in ("mon", "tue", "wed", "thu", "fri")},
    holidays=(date(2024, 10, 29),),
)
FRIDAY_5PM = datetime(2024, 10, 25, 14, 0, tzinfo=UTC)  # 17:00 in Istanbul
MONDAY = datetime(2024, 10, 28, 6, 0, tzinfo=UTC)  # 09:00 in Istanbul


class OfficeHours:
    """One policy for every channel: answer within 2 business hours, solve within 2 business days."""

    @hookimpl
    def choose_sla(self, case):
        return SlaPolicy(
            name="office",
            first_response=timedelta(hours=2),
            resolution=timedelta(hours=18),
            calendar=OFFICE,
            warn_before=timedelta(minutes=30),
        )


@pytest.fixture
def recorder():
    FakeSocial.reset()
    return Recorder()


@pytest.fixture
def scrm_plugins(recorder):
    return [recorder, OfficeHours()]


def test_breaches_fire_once_in_business_time_for_social_and_phone(app, cli, recorder):
    cli("agents", "add", "ece", "--department", "support")
    cli("agents", "add", "selin", "--department", "support", "--role", "lead")
    app.ingest(
        [
            message(
                "tw1",
                "@Acme faturam iki kez kesildi, rezalet!",
                channel="fakesocial",
                author="a",
                public=True,
            )
            | {"created_at": FRIDAY_5PM.isoformat()},
        ]
    )
    app.ingest_native(
        "phone",
        [
            {
                "record_id": "CALL-1",
                "channel": "phone",
                "received_at": FRIDAY_5PM.isoformat(),
                "caller": {"name": "Cem Aydın", "phone": "0532 000 11 22"},
                "text": "Faturamda fazladan ücret var, iade istiyorum.",
            }
        ],
    )
    social, phone = app.cases()
    assert social.channel == "fakesocial" and phone.channel == "phone"
    # 1h of Friday + 1h of Monday: the first response is due Monday 10:00, not Friday 19:00.
    for c in (social, phone):
        assert c.first_response_due == MONDAY + timedelta(hours=1)
    cli("case", "assign", str(phone.id), "ece")
    priority_before = phone.priority

    def check(at):
        return sla_service.check(app, now=at)

    assert (
        check(FRIDAY_5PM + timedelta(hours=3)) == []
    )  # Friday 20:00: after hours, nothing is late
    assert check(MONDAY + timedelta(minutes=29)) == []
    warnings = check(MONDAY + timedelta(minutes=30))
    assert sorted((a.case_id, a.kind) for a in warnings) == [
        (social.id, "warning"),
        (phone.id, "warning"),
    ]
    assert check(MONDAY + timedelta(minutes=59)) == []
    breached = check(MONDAY + timedelta(hours=1))
    assert {(a.case_id, a.clock) for a in breached if a.kind == "breach"} == {
        (social.id, "first_response"),
        (phone.id, "first_response"),
    }
    for _ in range(3):  # checked again and again: nothing fires twice
        assert check(MONDAY + timedelta(hours=1, minutes=5)) == []
    assert len(recorder.calls["sla_breached"]) == 2
    assert len(recorder.calls["sla_warning"]) == 2

    # The ladder climbs after its own delays, once per step, and acts.
    steps = check(MONDAY + timedelta(hours=2))
    assert {a.level for a in steps} == {2} and len(steps) == 2
    assert app.case(phone.id).assignee == "selin"
    order = ["low", "normal", "high", "urgent"]
    assert order.index(app.case(phone.id).priority) == order.index(priority_before) + 1
    assert check(MONDAY + timedelta(hours=2, minutes=1)) == []
    assert sorted(c["level"] for c in recorder.calls["case_escalated"]) == [1, 1, 2, 2]
    events = [e.action for e in app.case(phone.id).events]
    assert events.count("sla_breach") == 1 and events.count("escalated") == 2

    # A status is not an answer: acknowledging without a message leaves the clock running...
    cli("case", "ack", str(social.id))
    assert app.case(social.id).first_response_at is None
    # ...a delivered reply stops it; the resolution clock (business time) goes on.
    cli("reply", str(social.id), "--text", "Bakıyoruz")
    cli("outbox", "deliver")
    after = app.case(social.id)
    assert after.first_response_at is not None and after.resolution_due is not None


def test_cli_sla_check_lists_breached_cases(app, cli):
    app.ingest(
        [
            message("tw1", "kargom gelmedi", channel="fakesocial", author="a")
            | {"created_at": "2024-10-21T09:00:00+03:00"}
        ]
    )
    out = cli("sla", "check", "--verbose").stdout
    assert "breach: case 1 first_response" in out
    assert "breach" not in cli("sla", "check", "--verbose").stdout.split("breached")[0]


def test_policies_come_from_configuration_rules_and_playbooks():
    from scrm.core.config import Config
    from scrm.core.schemas import CaseInfo, CaseStatus, Kind, Priority

    config = Config(
        plugins={
            "sla": {
                "warn_before": "PT15M",
                "calendars": {
                    "office": {
                        "timezone": "Europe/Istanbul",
                        "hours": {d: "09:00-18:00" for d in ("mon", "tue", "wed", "thu", "fri")},
                    }
                },
                "policies": {"normal": {"first_response": "PT3H", "calendar": "office"}},
                "rules": [
                    {
                        "name": "phone leads",
                        "match": {"kind": ["lead"], "channel": ["phone"]},
                        "first_response": "PT30M",
                    }
                ],
            }
        }
    )
    sla = sla_policies(config)

    def case(**kw):
        base = {
            "id": 1,
            "customer_id": 1,
            "channel": "twitter",
            "department": "support",
            "kind": Kind.COMPLAINT,
            "category": "other",
            "priority": Priority.NORMAL,
            "status": CaseStatus.NEW,
            "opened_at": FRIDAY_5PM,
        }
        return CaseInfo(**(base | kw))

    normal = sla.choose_sla(case())
    assert (normal.first_response, normal.calendar.hours["mon"], normal.warn_before) == (
        timedelta(hours=3),
        "09:00-18:00",
        timedelta(minutes=15),
    )
    lead = sla.choose_sla(case(kind=Kind.LEAD, channel="phone"))
    assert lead.first_response == timedelta(minutes=30) and lead.name == "normal/phone leads"
    # The delivery playbook answers faster than the priority's policy: its [sla] wins.
    delivery = sla.choose_sla(case(category="delivery"))
    assert delivery.first_response == timedelta(hours=2) and "playbook:delivery" in delivery.name
    # The same policy for every channel unless a rule says otherwise: phone equals twitter.
    assert sla.choose_sla(case(channel="phone")) == normal


def sla_policies(config):
    """The built-in SLA plugin's policy table for ``config``, as an application validates it."""
    from scrm.core.plugins import check_plugin_config, get_plugin_manager

    return check_plugin_config(config, get_plugin_manager(load_entrypoints=False))["sla"].policy_table


def test_bad_sla_configuration_names_the_key():
    from scrm.core.config import Config, ConfigError

    with pytest.raises(ConfigError, match=r"policies\.normal: unknown calendar 'office'"):
        sla_policies(Config(plugins={"sla": {"policies": {"normal": {"calendar": "office"}}}}))
    with pytest.raises(ConfigError, match=r"plugins\.sla\.policies\.normal\.first_response"):
        sla_policies(Config(plugins={"sla": {"policies": {"normal": {"first_response": "soon"}}}}))
