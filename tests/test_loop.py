"""The complaint loop end to end through the CLI: acknowledge, contact, investigate, propose,
rate, reopen (twice), escalate, resolve, close."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from helpers import message
from loopkit import FakeSocial, Recorder

from scrm.core.errors import InvalidInput
from scrm.core.services import cases, sla

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def recorder():
    FakeSocial.reset()
    return Recorder()


@pytest.fixture
def scrm_plugins(recorder):
    return [recorder]


def customer_says(app, n, text, *, minutes=0, public=False, **extra):
    """The customer writes now (``minutes`` back-dates the first message)."""
    at = (datetime.now(UTC) + timedelta(minutes=min(minutes, 0))).isoformat()
    deniz = {"external_id": "deniz-1", "handle": "denizk", "display_name": "Deniz Kaya"}
    app.ingest(
        [
            message(
                n,
                text,
                channel="fakesocial",
                author_obj=deniz,
                public=public,
                thread_key="t-1" if public else "dm-1",
                **extra,
            )
            | {"created_at": at}
        ]
    )


def test_one_complaint_through_the_whole_loop_with_two_reopenings(app, cli, recorder):
    cli("agents", "add", "ece", "--department", "support", "--role", "agent")
    cli("agents", "add", "selin", "--department", "support", "--role", "lead")
    customer_says(
        app,
        "c1",
        "@Acme kargom 10 gündür gelmedi, berbat bir hizmet! Siparişim nerede?",
        minutes=-30,
        public=True,
    )
    [case] = app.cases()
    assert (case.status, case.kind, case.category, case.department) == (
        "new",
        "complaint",
        "delivery",
        "support",
    )
    cli("case", "assign", str(case.id), "ece")

    # 1. Acknowledge publicly and fast, before the fix.
    cli("reply", str(case.id), "--template", "acknowledge", "--actor", "ece")
    out = cli("outbox", "deliver").stdout
    assert "sent 1" in out
    detail = app.case(case.id)
    assert detail.status == "acknowledged" and detail.first_response_at is not None
    sent = FakeSocial.sent
    assert sent[0].public and "Deniz" in sent[0].text and str(case.id) in sent[0].text

    # 2. Contact privately: the contact template asks for details by DM, a promise with a clock.
    cli("reply", str(case.id), "--template", "contact", "--actor", "ece")
    cli("outbox", "deliver")
    detail = app.case(case.id)
    assert detail.status == "contacted"
    assert (
        detail.follow_up_due is not None and detail.resolution_due is None
    )  # waiting on the customer
    customer_says(app, "c2", "Sipariş numaram 99123, Kadıköy teslimat adresi", minutes=1)
    detail = app.case(case.id)
    assert (
        detail.follow_up_due is None and detail.resolution_due is not None
    )  # promise kept, clock running

    # 3-6. Investigate, propose a solution: the customer is asked for a rating.
    cli("case", "investigate", str(case.id), "--note", "carrier lost the parcel", "--actor", "ece")
    cli("case", "propose", str(case.id), "--note", "new parcel sent by express", "--actor", "ece")
    cli("outbox", "deliver")
    assert "1 (hiç memnun değilim)" in FakeSocial.sent[-1].text
    # The customer is not satisfied: the loop starts again (first reopening).
    customer_says(app, "c3", "Hayır, hala gelmedi!", minutes=2)
    detail = app.case(case.id)
    assert (detail.status, detail.reopen_count, detail.csat_score) == ("reopened", 1, 1)

    cli("case", "investigate", str(case.id), "--actor", "ece")
    cli("case", "propose", str(case.id), "--note", "courier booked for today", "--actor", "ece")
    cli("outbox", "deliver")
    customer_says(app, "c4", "2", minutes=3)  # a low rating: second reopening, which escalates
    detail = app.case(case.id)
    assert (detail.status, detail.reopen_count, detail.csat_score) == ("reopened", 2, 2)
    assert detail.assignee == "selin"  # the lead took it over
    assert recorder.calls["case_escalated"]

    cli("case", "investigate", str(case.id), "--actor", "selin")
    cli("case", "propose", str(case.id), "--note", "delivered by hand", "--actor", "selin")
    cli("outbox", "deliver")
    customer_says(app, "c5", "5, teşekkürler", minutes=4)
    detail = app.case(case.id)
    assert (detail.status, detail.csat_score) == ("resolved", 5)
    cli("case", "close", str(case.id), "--actor", "selin")

    # The timeline tells the whole story, in order, through the CLI.
    shown = json.loads(cli("case", "show", str(case.id), "--json").stdout)
    statuses = [
        (e["from_value"], e["to_value"]) for e in shown["events"] if e["action"] == "status"
    ]
    assert statuses == [
        ("new", "acknowledged"),
        ("acknowledged", "contacted"),
        ("contacted", "investigating"),
        ("investigating", "solution_proposed"),
        ("solution_proposed", "reopened"),
        ("reopened", "investigating"),
        ("investigating", "solution_proposed"),
        ("solution_proposed", "reopened"),
        ("reopened", "investigating"),
        ("investigating", "solution_proposed"),
        ("solution_proposed", "resolved"),
        ("resolved", "closed"),
    ]
    assert [e["to_value"] for e in shown["events"] if e["action"] == "csat"] == ["1", "2", "5"]
    times = [e["at"] for e in shown["events"]]
    assert times == sorted(times)
    assert (
        shown["status"] == "closed"
        and shown["closed_at"] >= shown["resolved_at"] >= shown["first_response_at"]
    )
    outbound = [i for i in shown["interactions"] if i["direction"] == "outbound"]
    assert len(outbound) == len(FakeSocial.sent) == 5  # ack, contact, 3 rating questions
    assert [c["new"] for c in recorder.calls["case_transitioned"]][-2:] == ["resolved", "closed"]
    assert [c["score"] for c in recorder.calls["csat_received"]] == [1, 2, 5]
    assert len(recorder.calls["reply_delivered"]) == 5


def test_refused_transitions_say_what_is_allowed(app, cli):
    customer_says(app, "x1", "faturam yanlış", minutes=0)
    r = cli("case", "resolve", "1", expect=None)
    assert r.exit_code == 0
    r = cli("case", "investigate", "1", expect=1)
    assert (
        "case 1 is resolved: it cannot go to investigating; allowed: closed, reopened" in r.stderr
    )


def test_stale_version_is_refused(app, cli):
    customer_says(app, "x1", "faturam yanlış", minutes=0)
    version = app.case(1).version
    cli("case", "ack", "1", "--version", str(version))
    r = cli("case", "investigate", "1", "--version", str(version), expect=1)
    assert f"case 1 is at version {version + 1}, not {version}" in r.stderr


def test_an_explicit_promise_breaks_when_nobody_calls(app, cli, recorder):
    customer_says(app, "p1", "İnternetim 3 gündür yok", minutes=0)
    cli("case", "promise", "1", "--due", "2h", "--note", "technician will call")
    fu_due = app.case(1).follow_up_due
    assert fu_due is not None
    alerts = sla.check(app, now=fu_due + timedelta(minutes=1))
    assert ("follow_up", "breach") in {(a.clock, a.kind) for a in alerts}
    # Checking again fires nothing new: the next ladder step waits for its own delay (1 h).
    assert sla.check(app, now=fu_due + timedelta(minutes=2)) == []
    assert [c["clock"] for c in recorder.calls["sla_breached"]].count("follow_up") == 1


def test_a_promise_is_due_within_a_year_and_of_a_known_kind_through_every_face(app, cli):
    customer_says(app, "p1", "İnternetim 3 gündür yok", minutes=0)
    r = cli("case", "promise", "1", "--due", "400d", expect=2)
    assert "a promise is due within a year from now" in r.stderr
    with pytest.raises(InvalidInput, match="a promise is one of contact_request, callback, investigating"):
        cases.promise(app, 1, timedelta(hours=1), actor="ece", kind="someday")
    assert app.case(1).follow_ups == []


def test_merge_and_incident_replies(app, cli):
    for n, who in enumerate(["a", "b", "c"]):
        app.ingest(
            [
                message(
                    f"o{n}",
                    "İnternet yok, hat kesik!",
                    channel="fakesocial",
                    author=who,
                    public=True,
                    thread_key=f"o{n}",
                )
                | {"created_at": NOW.isoformat()}
            ]
        )
    cli("case", "link", "1", "2", "3", "--incident", "outage-2024-10-24")
    out = cli("reply", "--incident", "outage-2024-10-24", "--template", "investigating").stdout
    assert "queued 3 replies" in out
    # One answer to everyone moves each case along the loop, like a reply on one case.
    assert {app.case(n).status for n in (1, 2, 3)} == {"investigating"}
    assert all("reply_queued" in [e.action for e in app.case(n).events] for n in (1, 2, 3))
    again = cli("reply", "--incident", "outage-2024-10-24", "--template", "investigating").stdout
    assert "queued 3 replies" in again
    assert (
        len(json.loads(cli("outbox", "list", "--json").stdout)) == 3
    )  # the same answer is queued once per case
    cli("case", "merge", "2", "1")
    merged = app.case(2)
    assert merged.status == "closed" and app.case(1).interactions[-1].external_id == "o1"
    r = cli("case", "merge", "2", "1", expect=1)
    assert "already merged" in r.stderr
