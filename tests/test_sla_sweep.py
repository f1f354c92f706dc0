"""The SLA sweep: each (case, clock, step) fires once, set-based, however often and however many sweep."""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import timedelta

import pytest
import sqlalchemy as sa
from helpers import T0, message
from loopkit import FakeSocial, Recorder

from scrm import hookimpl
from scrm.core import db, loop
from scrm.core.config import Config
from scrm.core.events import CaseEscalated
from scrm.core.models import (
    Case,
    EventBatch,
    FollowUp,
    SlaAlert,
    StoredEvent,
    WebhookDelivery,
)
from scrm.core.schemas import SlaPolicy
from scrm.core.services import cases as case_service
from scrm.core.services import sla
from scrm.plugin.db import swept_alerts

POLICY = SlaPolicy(
    name="test",
    first_response=timedelta(hours=1),
    resolution=timedelta(days=1),
    warn_before=timedelta(minutes=30),
)
LADDER = [
    {"after": "PT0S", "to": "assignee", "actions": ["notify"]},
    {"after": "PT1H", "to": "selin", "actions": ["notify", "reassign", "raise_priority"]},
    {"after": "PT4H", "to": "burak", "actions": ["notify", "raise_priority"]},
]
YEARS_LATE = T0 + timedelta(days=800)


class FixedPolicy:
    """The same clocks for every case; counts how often the sweep asks."""

    def __init__(self) -> None:
        self.asked = 0

    @hookimpl
    def choose_sla(self, case):
        self.asked += 1
        return POLICY


@pytest.fixture
def recorder():
    FakeSocial.reset()
    return Recorder()


@pytest.fixture
def policy():
    return FixedPolicy()


@pytest.fixture
def scrm_plugins(recorder, policy):
    return [recorder, policy]


@pytest.fixture
def scrm_config(scrm_database_url):
    return Config(
        database_url=scrm_database_url,
        cases={"escalation": LADDER},
        server={"secret_key": "server-key-for-tests-0123456789"},  # to sign webhooks
    )


def open_cases(app, n, *, minutes=0.0):
    """Open ``n`` cases (one customer each) at T0 + ``minutes``; return their ids."""
    before = {c.id for c in app.cases(limit=10_000)}
    report = app.ingest(
        [
            message(
                f"m{minutes}-{i}",
                f"siparişim {i} hâlâ gelmedi, kargo firması cevap vermiyor",
                channel="fakesocial",
                author=f"c{minutes}-{i}",
                minutes=minutes,
            )
            for i in range(n)
        ]
    )
    assert report.rejected == 0
    return sorted({c.id for c in app.cases(limit=10_000)} - before)


def keys(alerts):
    return sorted((a.case_id, a.clock, a.kind, a.level) for a in alerts)


def test_a_case_years_late_fires_one_breach_and_each_ladder_step_once(app, cli, recorder):
    ids = open_cases(app, 3)
    cli("agents", "add", "selin", "--department", "support", "--role", "lead")
    cli("agents", "add", "burak", "--department", "support", "--role", "head")
    cli("agents", "add", "ece", "--department", "support")
    cli("case", "assign", str(ids[0]), "ece")
    alerts = sla.check(app, now=YEARS_LATE)
    # Per case and clock: one breach and the three steps, not one alert per missed hour.
    assert keys(alerts) == sorted(
        (i, clock, kind, level)
        for i in ids
        for clock in ("first_response", "resolution")
        for kind, level in (("breach", 0), ("escalation", 1), ("escalation", 2), ("escalation", 3))
    )
    # What each step did, in words (the same for both clocks: the step acted once).
    said = {(a.clock, a.level): a.detail for a in alerts if a.case_id == ids[0] and a.level}
    assert said["first_response", 1] == said["resolution", 1] == "notified ece"
    assert said["first_response", 2].startswith("reassigned to selin; priority ")
    assert said["first_response", 2].endswith(" -> high; notified selin")
    assert said["resolution", 3] == "priority high -> urgent; notified burak"
    for later in (YEARS_LATE, YEARS_LATE + timedelta(days=30)):
        assert sla.check(app, now=later) == []
    assert len(recorder.calls["sla_breached"]) == 6
    assert sorted(c["level"] for c in recorder.calls["case_escalated"]) == sorted([1, 2, 3] * 6)
    case = app.case(ids[0])
    actions = Counter(e.action for e in case.events)
    # Each step acts once on the case, though both of its clocks reached it in this sweep.
    assert actions["sla_breach"] == 2 and actions["escalated"] == 3
    moved = [
        e for e in case.events if e.action == "assign" and (e.note or "").startswith("escalation")
    ]
    assert case.assignee == "selin" and [(e.from_value, e.to_value) for e in moved] == [
        ("ece", "selin")
    ]
    assert case.priority == "urgent"
    # The hooks see the case as the ladder left it.
    last = [c for c in recorder.calls["case_escalated"] if c["case"].id == ids[0]][-1]
    assert last["case"].priority.value == "urgent"
    with app.session() as s:
        assert s.scalar(sa.select(Case.escalation_level).where(Case.id == ids[0])) == 3


def test_warning_then_breach_then_each_step_on_its_delay(app, policy):
    (early,) = open_cases(app, 1)

    def fired(minutes):
        return [
            (a.case_id, a.kind, a.level)
            for a in sla.check(app, now=T0 + timedelta(minutes=minutes))
            if a.clock == "first_response"
        ]

    assert fired(29) == []
    assert fired(30) == [(early, "warning", 0)]
    assert fired(45) == []
    (late,) = open_cases(app, 1, minutes=100)  # due at 2:40, first looked at after it
    assert fired(60) == [(early, "breach", 0), (early, "escalation", 1)]
    assert fired(119) == []
    assert fired(120) == [(early, "escalation", 2)]
    # The late case never had its warning window swept: it gets its breach and steps, no warning.
    assert fired(7 * 60) == [
        (early, "escalation", 3),
        (late, "breach", 0),
        (late, "escalation", 1),
        (late, "escalation", 2),
        (late, "escalation", 3),
    ]
    assert fired(7 * 60 + 1) == []
    # The policy is asked only about deadlines in their warning horizon, not every sweep's
    # overdue backlog.
    asked = policy.asked
    sla.check(app, now=YEARS_LATE)
    sla.check(app, now=YEARS_LATE)
    assert policy.asked == asked


def test_a_moved_deadline_fires_once_and_a_new_promise_fires_again(app):
    (case_id,) = open_cases(app, 1)
    first = sla.check(app, now=T0 + timedelta(days=2))
    assert ("resolution", "breach") in {(a.clock, a.kind) for a in first}
    # The case waits on the customer after its deadline and resumes: the paused clock comes back
    # with no time left, so its due time moves to the resume time.  Same deadline: no new alert.
    with app.session() as s:
        case = s.get(Case, case_id)
        loop.pause(
            case,
            T0 + timedelta(days=2, hours=1),
            POLICY.model_copy(update={"pause_on_customer": True}),
        )
        loop.resume(case, T0 + timedelta(days=3), POLICY)
        moved = case.resolution_due
    assert moved == T0 + timedelta(days=3)
    assert sla.check(app, now=T0 + timedelta(days=30)) == []

    # A promise: broken once, followed by contact, then a new promise is a new deadline.
    fu = case_service.promise(
        app, case_id, timedelta(hours=2), actor="ece", now=T0 + timedelta(days=31)
    )
    due = T0 + timedelta(days=31, hours=2)
    alerts = sla.check(app, now=due + timedelta(hours=5))
    assert [(a.kind, a.level) for a in alerts if a.clock == "follow_up"] == [
        ("breach", 0),
        ("escalation", 1),
        ("escalation", 2),
        ("escalation", 3),
    ]
    with app.session() as s:
        assert s.get(FollowUp, fu.id).status == "broken"
        loop.keep_promises(s, s.get(Case, case_id), due + timedelta(hours=6))
    assert sla.check(app, now=due + timedelta(hours=7)) == []
    again = case_service.promise(
        app, case_id, timedelta(hours=1), actor="ece", now=due + timedelta(hours=8)
    )
    alerts = sla.check(app, now=due + timedelta(hours=10))
    assert next((a.kind, a.due_at) for a in alerts if a.clock == "follow_up") == (
        "breach",
        again.due_at,
    )
    with app.session() as s:
        rounds = set(s.scalars(sa.select(SlaAlert.round).where(SlaAlert.clock == "follow_up")))
    assert rounds == {fu.id, again.id}


def test_the_sweep_runs_a_constant_number_of_statements(app):
    def statements_for(now):
        seen = []

        def count(conn, cursor, statement, parameters, context, executemany):
            seen.append(statement)

        sa.event.listen(app.engine, "before_cursor_execute", count)
        try:
            alerts = sla.check(app, now=now)
        finally:
            sa.event.remove(app.engine, "before_cursor_execute", count)
        return len(alerts), len(seen)

    open_cases(app, 4)
    few = statements_for(YEARS_LATE)
    open_cases(app, 40, minutes=1)
    many = statements_for(YEARS_LATE + timedelta(days=1))
    assert (few[0], many[0]) == (4 * 8, 40 * 8)
    assert many[1] == few[1]
    nothing = statements_for(YEARS_LATE + timedelta(days=2))
    assert nothing[0] == 0 and nothing[1] <= few[1]


def test_concurrent_sweeps_fire_each_alert_once(app, recorder, scrm_database_url):
    if not scrm_database_url.startswith("postgresql"):
        pytest.skip("SQLite serialises writers itself; concurrent sweeps are a PostgreSQL matter")
    ids = open_cases(app, 60)
    start = threading.Barrier(4)
    results: list[list] = []
    errors: list[BaseException] = []

    def sweep():
        try:
            start.wait()
            results.append(sla.check(app, now=YEARS_LATE))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=sweep) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    fired = [k for r in results for k in keys(r)]
    assert len(fired) == len(set(fired)) == len(ids) * 8
    assert sorted(len(r) for r in results)[:-1] == [0, 0, 0]  # one sweep did it all
    with app.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(SlaAlert)) == len(ids) * 8
    assert len(recorder.calls["sla_breached"]) == len(ids) * 2


def test_cli_summarises_by_default_lists_with_verbose_and_keeps_json(app, cli):
    ids = open_cases(app, 12)
    out = cli("sla", "check").stdout
    assert out.splitlines()[0] == (
        "fired 0 warnings, 24 breaches, 72 escalations (--verbose lists each)"
    )
    assert "12 open cases past a deadline (first_response 12, follow_up 0, resolution 12)" in out
    assert "breach: case" not in out  # no line per alert
    assert len(out.splitlines()) < 30  # a screenful however many cases
    worst = out.split("the most overdue:")[1]

    def rows(text: str) -> set[int]:
        """The cases a table lists: one line each, the case number first."""
        firsts = (line.split()[0] for line in text.splitlines() if line.split())
        return {int(word) for word in firsts if word.isdigit()}

    assert len(rows(worst) & set(ids)) == 5  # the five most overdue
    # Nothing fired twice; the list of alerts is there with --verbose.
    again = cli("sla", "check", "--verbose").stdout
    assert "breach: case" not in again and set(ids) <= rows(again)
    data = json.loads(cli("sla", "check", "--json").stdout)
    assert data["alerts"] == [] and {c["id"] for c in data["breaching"]} == set(ids)


def test_cli_verbose_lists_every_alert(app, cli):
    (case_id,) = open_cases(app, 1)
    out = cli("sla", "check", "-v").stdout
    assert f"breach: case {case_id} first_response" in out
    assert out.count(f"escalation: case {case_id} ") == 6


def test_json_alerts_have_the_same_fields(app, cli):
    (case_id,) = open_cases(app, 1)
    data = json.loads(cli("sla", "check", "--json").stdout)
    assert {tuple(sorted(a)) for a in data["alerts"]} == {
        ("case_id", "clock", "detail", "due_at", "kind", "level")
    }
    assert len(data["alerts"]) == 8 and data["breaching"][0]["id"] == case_id


def test_migration_numbers_existing_alerts_by_deadline(app):
    (case_id,) = open_cases(app, 1)
    fu = case_service.promise(app, case_id, timedelta(hours=1), actor="ece", now=T0)
    locations = app.migration_locations()  # the department modules' branches too
    db.downgrade(app.engine, "0008", locations)
    table = sa.table(
        "sla_alerts",
        sa.column("case_id"),
        sa.column("clock"),
        sa.column("due_at", db.UTCDateTime()),
        sa.column("kind"),
        sa.column("level"),
        sa.column("fired_at", db.UTCDateTime()),
    )
    old = [
        ("resolution", T0 + timedelta(days=1)),
        ("resolution", T0 + timedelta(days=3)),  # the same deadline, moved by a pause
        ("follow_up", fu.due_at),
    ]
    with app.engine.begin() as conn:
        conn.execute(
            sa.insert(table),
            [
                {
                    "case_id": case_id,
                    "clock": c,
                    "due_at": d,
                    "kind": "breach",
                    "level": 0,
                    "fired_at": d,
                }
                for c, d in old
            ],
        )
    db.upgrade(app.engine, "heads", locations)
    with app.session() as s:
        rounds = {
            (a.clock, a.round)
            for a in s.scalars(sa.select(SlaAlert).where(SlaAlert.case_id == case_id))
        }
    assert rounds == {("resolution", 0), ("resolution", 1), ("follow_up", fu.id)}
    # The breaches recorded before the upgrade are not fired again.
    assert not [
        a
        for a in sla.check(app, now=T0 + timedelta(days=2))
        if a.kind == "breach" and a.clock in ("resolution", "follow_up")
    ]


class SweepReader:
    """Implements the batch hook (and a per-alert one it must then not be called with)."""

    def __init__(self) -> None:
        self.swept: list[list] = []
        self.breached = 0

    @hookimpl
    def sla_swept(self, alerts, ctx):
        self.swept.append([e for chunk in swept_alerts(ctx.session, alerts, size=5) for e in chunk])

    @hookimpl
    def sla_breached(self, case, clock, due_at):
        self.breached += 1


def test_a_sweep_is_one_event_whatever_its_alerts(app, recorder, register_plugin):
    reader = SweepReader()
    register_plugin(reader)
    ids = open_cases(app, 3)
    with app.session() as s:
        last_batch = s.scalar(sa.select(sa.func.max(EventBatch.id)))
    alerts = sla.check(app, now=YEARS_LATE)
    assert len(alerts) == 3 * 8
    with app.session() as s:
        stored = s.scalars(sa.select(StoredEvent.type).where(StoredEvent.batch_id > last_batch))
        assert list(stored) == ["sla_swept"]
    # The batch hook: one call, every alert readable, in the order check_sla returns them.
    [events] = reader.swept
    assert reader.breached == 0
    assert [(e.case.id, e.hook, getattr(e, "level", 0)) for e in events] == [
        (a.case_id, "sla_breached" if a.kind == "breach" else "case_escalated", a.level)
        for a in alerts
    ]
    said = {(a.case_id, a.clock, a.level): a.detail for a in alerts if a.kind == "escalation"}
    assert {
        (e.case.id, e.reason.split()[0], e.level): e.summary
        for e in events
        if isinstance(e, CaseEscalated)
    } == said
    # A plugin with only the per-alert hooks still gets one call per alert.
    assert len(recorder.calls["sla_breached"]) == 6
    assert sorted((c["case"].id, c["level"]) for c in recorder.calls["case_escalated"]) == sorted(
        (i, level) for i in ids for level in (1, 2, 3) for _clock in range(2)
    )
    assert sla.check(app, now=YEARS_LATE + timedelta(days=1)) == []
    assert len(reader.swept) == 1


def test_webhook_subscribers_get_each_alert_once(app, cli):
    cli("webhooks", "add", "http://127.0.0.1:9/hook", "--event", "sla.breached",
        "--event", "case.escalated", "--event", "sla.warning")  # fmt: skip
    cli("webhooks", "add", "http://127.0.0.1:9/other", "--event", "case.opened")
    (warned,) = open_cases(app, 1)
    (late,) = open_cases(app, 1, minutes=-200)
    alerts = sla.check(app, now=T0 + timedelta(minutes=30))
    assert {(a.case_id, a.kind) for a in alerts} >= {(warned, "warning"), (late, "breach")}
    sla.check(app, now=YEARS_LATE)
    sla.check(app, now=YEARS_LATE)
    with app.session() as s:
        fired = list(s.scalars(sa.select(SlaAlert).order_by(SlaAlert.id)))
        sent = [
            (d.event_type, d.payload["data"])
            for d in s.scalars(sa.select(WebhookDelivery).order_by(WebhookDelivery.id))
            if d.event_type != "case.opened"
        ]
    wire = {"warning": "sla.warning", "breach": "sla.breached", "escalation": "case.escalated"}
    assert sorted(
        (t, d["case"]["id"], d.get("clock") or d["reason"].split()[0], d.get("level", 0))
        for t, d in sent
    ) == sorted((wire[a.kind], a.case_id, a.clock, a.level) for a in fired)
    assert all(d["case"]["status"] == "new" for _t, d in sent)


def test_without_subscribers_webhooks_read_no_alert(app, register_plugin):
    open_cases(app, 2)
    seen = []

    def count(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    sa.event.listen(app.engine, "before_cursor_execute", count)
    try:
        sla.check(app, now=YEARS_LATE)
    finally:
        sa.event.remove(app.engine, "before_cursor_execute", count)
    # The recorder's per-alert hooks read the alerts; the webhooks plugin, with nobody
    # subscribed, does not, and check_sla's answer is read only when looked at.
    reads = [s for s in seen if "FROM sla_alerts" in s and "ORDER BY" in s]
    assert len(reads) == 1, reads
