"""The outbox under failure: a crash mid-delivery loses no reply and sends none twice."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from helpers import message
from loopkit import FakeSocial, PermanentSendError, Recorder, TransientSendError

from scrm.core import outbox
from scrm.core.models import OutboxMessage
from scrm.core.services import outbox as outbox_service
from scrm.core.services import sla


@pytest.fixture
def scrm_plugins():
    FakeSocial.reset()
    return [Recorder()]


def open_case(app, channel="fakesocial"):
    app.ingest(
        [
            message(
                "m1",
                "@Acme internetim yok, 2 gündür bekliyorum!",
                channel=channel,
                author="a",
                public=True,
                thread_key="m1",
            )
            | {"created_at": datetime.now(UTC).isoformat()}
        ]
    )
    return app.cases()[0].id


def crash_after_claim(app, now):
    """Claim due replies (committed), then 'crash' before calling the channel."""
    with app.session() as s:
        return [outbox.to_message(r) for r in outbox.claim(s, now=now)]


def sent_keys():
    return [m.idempotency_key for m in FakeSocial.sent]


def outbound(app, case_id):
    return [i for i in app.case(case_id).interactions if i.direction == "outbound"]


def test_crash_after_commit_before_send_loses_nothing(app):
    case_id = open_case(app)
    row = outbox_service.reply(app, case_id, actor="ece", text="Merhaba, hemen bakıyoruz.")
    now = datetime.now(UTC)
    crash_after_claim(app, now)
    assert FakeSocial.sent == []
    # Nothing happens while the lease is alive (the crashed worker might still be sending)...
    assert outbox_service.deliver(app, now=now + timedelta(minutes=1)).sent == 0
    # ...then the row is reconciled: the channel never saw it, so it is sent, once.
    report = outbox_service.deliver(app, now=now + outbox.LEASE + timedelta(seconds=1))
    assert (report.sent, report.reconciled) == (1, 0)
    assert sent_keys() == [row.idempotency_key]
    outbox_service.deliver(app, now=now + 2 * outbox.LEASE)
    assert len(FakeSocial.sent) == 1 and len(outbound(app, case_id)) == 1


def test_crash_after_send_before_marking_sent_sends_nothing_twice(app):
    case_id = open_case(app)
    row = outbox_service.reply(app, case_id, actor="ece", text="Merhaba, hemen bakıyoruz.")
    now = datetime.now(UTC)
    [msg] = crash_after_claim(app, now)
    app.channel("fakesocial").send(msg)  # it went out, then the worker died before recording it
    report = outbox_service.deliver(app, now=now + outbox.LEASE + timedelta(seconds=1))
    assert (report.sent, report.reconciled) == (0, 1)
    assert sent_keys() == [row.idempotency_key]
    with app.session() as s:
        stored = s.get(OutboxMessage, row.id)
        assert stored.status == "sent" and stored.external_id == "out-1"
    assert [i.external_id for i in outbound(app, case_id)] == [
        "out-1"
    ]  # recorded once, on the case


def test_a_channel_that_cannot_tell_gets_a_person_not_a_guess(app, cli):
    case_id = open_case(app, channel="blind")
    row = outbox_service.reply(app, case_id, actor="ece", text="Merhaba")
    now = datetime.now(UTC)
    crash_after_claim(app, now)
    report = outbox_service.deliver(app, now=now + outbox.LEASE + timedelta(seconds=1))
    assert report.failed == 1 and FakeSocial.sent == []
    failed = json.loads(cli("outbox", "list", "--failed", "--json").stdout)
    assert (
        failed[0]["id"] == row.id and "cannot tell whether it went out" in failed[0]["last_error"]
    )
    [same] = app.replies(status="failed")  # the Python API reads what the CLI prints
    assert (same.id, same.case_id, same.last_error) == (row.id, case_id, failed[0]["last_error"])
    cli("outbox", "retry", str(row.id))
    assert outbox_service.deliver(app, now=now + outbox.LEASE + timedelta(seconds=2)).sent == 1


def test_transient_errors_back_off_and_permanent_ones_are_visible(app, cli):
    case_id = open_case(app)
    FakeSocial.fail_next.extend(
        [
            TransientSendError("503 from the API", retry_after=120),
            TransientSendError("connection reset"),
        ]
    )
    row = outbox_service.reply(app, case_id, actor="ece", text="Merhaba")
    now = datetime.now(UTC)
    def deliver(after: timedelta) -> outbox_service.DeliveryReport:
        return outbox_service.deliver(app, now=now + after)

    assert deliver(timedelta(0)).retried == 1
    assert deliver(timedelta(seconds=119)).sent == 0  # honours retry_after
    assert deliver(timedelta(seconds=121)).retried == 1
    assert deliver(timedelta(seconds=121) + outbox.backoff(2)).sent == 1
    assert sent_keys() == [row.idempotency_key]

    FakeSocial.fail_next.append(PermanentSendError("recipient blocked the account"))
    bad = outbox_service.reply(app, case_id, actor="ece", text="İkinci mesaj")
    assert outbox_service.deliver(app, now=now + timedelta(hours=1)).failed == 1
    [failed] = json.loads(cli("outbox", "list", "--failed", "--json").stdout)
    assert failed["id"] == bad.id and failed["last_error"] == "recipient blocked the account"


def test_the_same_reply_is_queued_once(app, cli):
    case_id = open_case(app)
    for _ in range(3):
        cli("reply", str(case_id), "--text", "Merhaba", "--idempotency-key", "agent-click-42")
    assert len(json.loads(cli("outbox", "list", "--json").stdout)) == 1


def test_phone_replies_become_the_agents_script(app):
    app.ingest_native(
        "phone",
        [
            {
                "record_id": "CALL-9",
                "channel": "phone",
                "received_at": datetime.now(UTC).isoformat(),
                "caller": {"name": "Ali Veli", "phone": "05321234567"},
                "text": "Faturam iki kez kesildi",
            }
        ],
    )
    case_id = app.cases()[0].id
    outbox_service.reply(app, case_id, actor="ece", template="acknowledge")
    assert outbox_service.deliver(app).sent == 1
    [out] = outbound(app, case_id)
    assert out.channel == "phone" and "Ali" in out.text
    assert app.case(case_id).first_response_at is not None


def report_total(cli):
    return json.loads(cli("report", "--since", "1d", "--json").stdout)["total"]


@pytest.fixture
def wide(monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")  # rich tables fold cells in 80 columns


def test_only_a_delivered_reply_is_a_first_response(app, cli, wide):
    """No credentials: every acknowledgment fails. The case shows the failure with its reason,
    the first-response clock keeps running, and the report shows no response and no message
    out; once the reply is delivered, its delivery time is the first response."""
    case_id = open_case(app)
    FakeSocial.fail_next.append(PermanentSendError("401 Unauthorized: no credentials"))
    row = outbox_service.reply(app, case_id, actor="ece", template="acknowledge")
    case = app.case(case_id)
    assert case.status == "acknowledged" and case.first_response_at is None
    assert case.next_due == case.first_response_due  # queued is not answered
    board = cli("cases", "list").stdout
    assert f"{case_id}  P " in board and "P a reply waits to be sent" in board
    assert "1 pending" in cli("cases", "list", "--wide").stdout

    out = cli("outbox", "deliver", expect=6)
    assert "failed 1" in out.stdout and f"outbox {row.id}: 401 Unauthorized" in out.stderr
    case = app.case(case_id)
    assert case.first_response_at is None and case.next_due == case.first_response_due
    [board] = json.loads(cli("cases", "list", "--json").stdout)
    assert (board["replies_failed"], board["replies_pending"]) == (1, 0)
    assert board["reply_error"] == "401 Unauthorized: no credentials"
    assert "F a reply failed" in cli("cases", "list").stdout
    assert "1 FAILED" in cli("cases", "list", "--wide").stdout
    shown = cli("case", "show", str(case_id)).stdout
    assert "first response -" in shown and "fakesocial FAILED" in shown
    assert "401 Unauthorized: no credentials" in shown and "reply_failed" in shown
    total = report_total(cli)
    assert (total["first_response"]["count"], total["volume_out"]) == (0, 0)

    cli("outbox", "retry", str(row.id), "--actor", "ece")
    before = datetime.now(UTC)
    assert "sent 1" in cli("outbox", "deliver").stdout  # exit 0
    case = app.case(case_id)
    assert case.first_response_at is not None and case.first_response_at >= before
    [reply] = outbound(app, case_id)
    assert reply.created_at == case.first_response_at  # the delivery time, not the queueing
    assert [r.status for r in case.replies] == ["sent"]
    assert "reply_requeued" in [e.action for e in case.events]
    assert json.loads(cli("cases", "list", "--json").stdout)[0]["replies_failed"] == 0
    total = report_total(cli)
    assert (total["first_response"]["count"], total["volume_out"]) == (1, 1)


def test_a_pending_acknowledgment_does_not_stop_the_clock(app, cli, wide):
    case_id = open_case(app)
    FakeSocial.fail_next.append(TransientSendError("503 from the API"))
    outbox_service.reply(app, case_id, actor="ece", template="acknowledge")
    assert "will retry: 503 from the API" in cli("outbox", "deliver", expect=6).stderr
    case = app.case(case_id)
    assert case.first_response_at is None and case.replies_pending == 1
    late = case.first_response_due + timedelta(minutes=1)
    breaches = [a for a in sla.check(app, now=late) if a.kind == "breach"]
    assert [(a.case_id, a.clock) for a in breaches] == [(case_id, "first_response")]
    shown = cli("case", "show", str(case_id)).stdout
    assert "fakesocial pending" in shown and "503 from the API" in shown


def test_a_reply_accepted_but_not_recorded_is_recorded_without_asking(app):
    """Killed between the channel's acceptance and the case record: the row holds the
    channel's id, so the next round records it (even on a channel that cannot reconcile)."""
    case_id = open_case(app, channel="blind")
    row = outbox_service.reply(app, case_id, actor="ece", text="Merhaba")
    now = datetime.now(UTC)
    [msg] = crash_after_claim(app, now)
    result = app.channel("blind").send(msg)
    with app.session() as s:
        outbox.settle_accepted(s.get(OutboxMessage, row.id), result.external_id, now)
    report = outbox_service.deliver(app, now=now + outbox.LEASE + timedelta(seconds=1))
    assert (report.sent, report.failed, report.reconciled) == (0, 0, 0)
    assert len(FakeSocial.sent) == 1
    [out] = outbound(app, case_id)
    assert out.external_id == result.external_id and out.created_at == now
    assert app.case(case_id).first_response_at == now
    with app.session() as s:
        assert s.get(OutboxMessage, row.id).status == "sent"


def test_a_reply_answers_the_case_customer_not_whoever_wrote_last(app, cli):
    now = datetime.now(UTC)

    def say(n, author, minutes, **extra):
        return message(n, channel="fakesocial", author=author, public=True, **extra) | {
            "created_at": (now + timedelta(minutes=minutes)).isoformat()
        }

    # b answers a's message: b gets a case of their own, a's case stays a's.
    app.ingest([say("a1", "a", 0, thread_key="a1"), say("b1", "b", 1, in_reply_to="a1")])
    by_id = {i.external_id: i for i in app.interactions()}
    case = app.case(by_id["a1"].case_id)
    assert {i.external_id for i in case.interactions} == {"a1"}
    assert by_id["b1"].case_id not in (None, case.id)
    outbox_service.reply(app, case.id, actor="ece", text="Merhaba")
    outbox_service.deliver(app, now=now + timedelta(minutes=2))
    assert (FakeSocial.sent[-1].in_reply_to, FakeSocial.sent[-1].to) == ("a1", "a")
    # Once an agent merges b into a, b's next message there is the customer's.
    cli("customers", "merge", str(by_id["b1"].customer_id), str(case.customer_id))
    app.ingest([say("b2", "b", 2, in_reply_to="a1")])
    assert {i.external_id for i in app.case(case.id).interactions} == {"a1", "out-1", "b2"}
    outbox_service.reply(app, case.id, actor="ece", text="Merhaba")
    outbox_service.deliver(app, now=now + timedelta(minutes=3))
    assert (FakeSocial.sent[-1].in_reply_to, FakeSocial.sent[-1].to) == ("b2", "b")
